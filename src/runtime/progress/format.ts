import { formatDuration } from '../durations.js';
import type { RunEvent, StepProgress } from '../events.js';
import { summariseReasons } from '../plan/plan.js';
import type { StaleReason } from '../plan/reasons.js';

export function progressText(p: StepProgress): string {
  const parts: string[] = [];
  if (p.label !== undefined || p.current !== undefined) {
    const of = p.total !== undefined ? `/${p.total}` : '';
    parts.push(`${p.label ?? 'step'} ${p.current ?? '?'}${of}`);
  }
  for (const [k, v] of Object.entries(p.metrics ?? {})) parts.push(`${k} ${formatNumber(v)}`);
  if (p.message) parts.push(p.message);
  return parts.join('  ');
}

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : Math.abs(v) >= 0.01 ? v.toPrecision(4) : v.toExponential(2);
}

/**
 * Lines of a run's log. A step to run is shown as started when its command starts, not when it is
 * handed to the pool: until then it only counts as queued ("· N queued" on each start line), so a
 * plain log never shows as running what waits for a CPU slot (or for an exclusive step).
 */
export class EventLines {
  /** Steps to run that have not started yet, with the reasons they run. */
  readonly #queued = new Map<string, readonly StaleReason[]>();

  line(event: RunEvent): string | null {
    if (event.type === 'step-queued' && event.action === 'run') return (this.#queued.set(event.stepId, event.reasons), null);
    if (event.type === 'step-start' && event.attempt === 1) {
      const reasons = this.#queued.get(event.stepId) ?? [];
      this.#queued.delete(event.stepId);
      const waiting = this.#queued.size > 0 ? ` · ${this.#queued.size} queued` : '';
      return `▶ ${event.stepId}: run (${summariseReasons(reasons) || 'stale'})${waiting}`;
    }
    if (event.type === 'step-end') this.#queued.delete(event.stepId);
    return eventLine(event);
  }
}

/** One line per meaningful event, without what EventLines adds (a step's start as queued steps see it). */
export function eventLine(event: RunEvent): string | null {
  switch (event.type) {
    case 'run-start':
      return `run ${event.runId}: ${event.pipelineName} (${event.steps.filter((s) => s.action === 'run').length} to run, ${event.steps.filter((s) => s.action === 'restore').length} to restore, ${event.steps.filter((s) => s.action === 'fresh').length} fresh)`;
    case 'step-queued':
      return event.action === 'restore' ? `↺ ${event.stepId}: restore (${summariseReasons(event.reasons) || 'stale'})` : null;
    case 'step-start':
      return event.attempt > 1 ? `▶ ${event.stepId}: attempt ${event.attempt}` : null;
    case 'step-waiting':
      return `⧗ ${event.stepId}: waiting for ${event.holder}`;
    case 'step-end':
      return stepEndLine(event);
    case 'warning':
      return `! ${event.message}`;
    case 'run-end':
      return `run ${event.runId} ${event.status} in ${formatDuration(event.durationMs)}: ${countsText(event.counts)}`;
    default:
      return null;
  }
}

function stepEndLine(event: Extract<RunEvent, { type: 'step-end' }>): string | null {
  const metrics = Object.entries(event.metrics)
    .slice(0, 4)
    .map(([k, v]) => `${k}=${formatNumber(v)}`)
    .join(' ');
  const tail = metrics ? `  ${metrics}` : '';
  switch (event.outcome) {
    case 'ran':
      return `✓ ${event.stepId}: ran in ${formatDuration(event.durationMs)}${event.jobId ? ` (job ${event.jobId})` : ''}${tail}`;
    case 'restored':
      return `✓ ${event.stepId}: restored from the cache (produced by run ${event.source?.runId ?? '?'} at ${event.source?.finishedAt ?? '?'})`;
    case 'fresh':
      return null;
    case 'failed':
      return failureBlock(event);
    case 'skipped':
      return `- ${event.stepId}: ${event.failure?.message ?? 'skipped'}`;
    case 'cancelled':
      return `- ${event.stepId}: cancelled`;
  }
}

export function countsText(counts: Readonly<Record<string, number>>): string {
  return (
    Object.entries(counts)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ') || 'nothing to do'
  );
}

/** The failure block printed after a run: message, log tail, log path. */
export function failureBlock(event: Extract<RunEvent, { type: 'step-end' }>): string {
  const f = event.failure;
  if (!f) return '';
  const tail = f.logTail?.trim()
    ? `\n${f.logTail
        .trimEnd()
        .split('\n')
        .map((l) => `  │ ${l}`)
        .join('\n')}`
    : '';
  const where = f.logPath ?? event.logPath;
  return `✗ ${event.stepId}: ${f.message}${tail}${where ? `\n  full log: ${where}` : ''}`;
}
