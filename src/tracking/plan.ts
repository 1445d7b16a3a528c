/**
 * Turns the run's event stream into MLflow operations. Deterministic: the same events give the
 * same numbered operations, so a journal can be replayed later and acknowledged operations
 * skipped (no duplicates).
 */
import type { RunEvent } from '../runtime/events.js';
import type { PipelineRunInfo } from './tracker.js';
import type { KeyValue, MetricRecord, RunStatus } from './store.js';
import { LIMITS, cleanPairs, flattenParams, sanitizeKey, toInt } from './values.js';

/** `pipeline` for the parent run, `step:<id>` for a step's child run. */
export type RunRef = string;
export const PARENT: RunRef = 'pipeline';

export type Op =
  | {
      readonly seq: number;
      readonly kind: 'create-run';
      readonly ref: RunRef;
      readonly parentRef: RunRef | null;
      readonly stepId: string | null;
      readonly name: string;
      readonly startTime: number;
      readonly tags: readonly KeyValue[];
    }
  | {
      readonly seq: number;
      readonly kind: 'log';
      readonly ref: RunRef;
      readonly metrics: readonly MetricRecord[];
      readonly params: readonly KeyValue[];
      readonly tags: readonly KeyValue[];
    }
  | { readonly seq: number; readonly kind: 'artifact'; readonly ref: RunRef; readonly path: string; readonly dest: string }
  /** A small generated file (JSON), uploaded as `dest` of the run. */
  | { readonly seq: number; readonly kind: 'artifact-text'; readonly ref: RunRef; readonly dest: string; readonly text: string }
  | { readonly seq: number; readonly kind: 'end-run'; readonly ref: RunRef; readonly status: RunStatus; readonly endTime: number };

/** Emitted by a tracker closed before run-end arrived (a crash or an interrupted CLI). */
export interface ClosedWithoutEnd {
  readonly type: 'tracker-closed';
  readonly time: number;
}
export type JournalEvent = RunEvent | ClosedWithoutEnd;

export interface PlanContext {
  readonly info: PipelineRunInfo;
  readonly user: string;
  /** MLflow run id of a step in an earlier blu run, or a reason why it is unknown. */
  readonly lookupSource: (bluRunId: string, stepId: string) => { readonly runId: string } | { readonly missing: string };
}

interface StepState {
  kind: string;
  key: string;
  params: Readonly<Record<string, unknown>>;
  action: 'run' | 'restore' | 'fresh';
  queuedAt: number;
  open: boolean;
  metricNames: Set<string>;
  pending: MetricRecord[];
  /** Event time of the last metrics flush: series show up live, at most this often. */
  flushedAt: number;
}

/** Live metrics reach MLflow every 10 s of event time; event times keep replays deterministic. */
const LIVE_FLUSH_MS = 10_000;

/** A step whose outputs were already current: listed on the pipeline run, which gets no child run for it. */
interface FreshStep {
  readonly step: string;
  readonly key: string;
  /** The blu run and MLflow run (null when it was not tracked here) whose step produced the outputs. */
  readonly source: { readonly bluRunId: string; readonly stepId: string; readonly mlflowRunId: string | null } | null;
  readonly metrics: Readonly<Record<string, number>>;
  /** The step's own tags (e.g. blu.collapsed), kept from the run that produced its outputs. */
  readonly tags?: Readonly<Record<string, string>>;
}

/** Parent tags holding `{step: [source blu run id, source MLflow run id | null]}` for fresh steps, split to fit tag values. */
export const FRESH_SOURCES_TAG = 'blu.fresh_sources';
export const STEPS_ARTIFACT = 'steps.json';

type Distributive<T> = T extends unknown ? Omit<T, 'seq'> : never;
export type OpBody = Distributive<Op>;

export class Planner {
  private seq = 0;
  private parentOpen = false;
  private parentStart = 0;
  private ended = false;
  private readonly steps = new Map<string, StepState>();
  private readonly fresh: FreshStep[] = [];
  /** `<step>.<metric>` results of every step that ended with current outputs, for the parent run. */
  private readonly headline: MetricRecord[] = [];
  private readonly outcomes: { step: string; outcome: string; key: string | null; mlflow: RunRef | null }[] = [];
  private out: Op[] = [];

  constructor(private readonly ctx: PlanContext) {}

  get runEnded(): boolean {
    return this.ended;
  }

  /** Operations caused by one event. */
  plan(event: JournalEvent): Op[] {
    this.out = [];
    if (!this.ended) this.dispatch(event);
    return this.out;
  }

  private emit(op: OpBody): void {
    this.out.push({ ...op, seq: this.seq++ } as Op);
  }

  private dispatch(event: JournalEvent): void {
    switch (event.type) {
      case 'run-start':
        return this.openParent(event.time);
      case 'step-queued':
        return this.onQueued(event);
      case 'step-start':
        return this.onStart(event);
      case 'step-metric':
        return this.onMetric(event);
      case 'step-progress':
        return this.onProgress(event.stepId, event.time);
      case 'step-end':
        return this.onStepEnd(event);
      case 'run-end':
        return this.onRunEnd(
          event.status === 'succeeded' ? 'FINISHED' : event.status === 'failed' ? 'FAILED' : 'KILLED',
          event.status,
          event.time,
        );
      case 'tracker-closed':
        return this.onRunEnd('KILLED', 'incomplete', event.time);
      default:
        return; // waiting and warnings are for the terminal
    }
  }

  private baseTags(name: string): Record<string, string> {
    const { info } = this.ctx;
    const tags: Record<string, string> = {
      'mlflow.runName': name,
      'mlflow.user': this.ctx.user,
      'mlflow.source.name': info.pipelineFile,
      'mlflow.source.type': 'LOCAL',
      'blu.run_id': info.runId,
      'blu.pipeline': info.pipelineName,
    };
    if (info.gitCommit !== null) tags['mlflow.source.git.commit'] = info.gitCommit;
    if (info.gitDirty !== null) tags['mlflow.source.git.dirty'] = String(info.gitDirty);
    return tags;
  }

  private openParent(time: number): void {
    if (this.parentOpen) return;
    this.parentOpen = true;
    this.parentStart = toInt(time);
    const { info } = this.ctx;
    const name = `${info.pipelineName} ${info.runId}`;
    const tags = {
      ...this.baseTags(name),
      'blu.role': 'pipeline',
      'blu.pipeline_file': info.pipelineFile,
      'blu.command_line': info.commandLine.join(' '),
      'blu.overlays': info.experimentOverlays.join(','),
      'blu.version': info.bluPipeVersion,
      'blu.executor': info.executor,
      'blu.backend': info.backend ?? '',
      'blu.host': info.host,
      'mlflow.note.content': `blu-pipe run \`${info.runId}\` of \`${info.pipelineFile}\``,
    };
    this.emit({
      kind: 'create-run',
      ref: PARENT,
      parentRef: null,
      stepId: null,
      name,
      startTime: toInt(time),
      tags: cleanPairs(tags, 'tag'),
    });
    this.emitLog(PARENT, [], cleanPairs(flattenParams(info.params), 'param'), []);
  }

  private onQueued(event: Extract<RunEvent, { type: 'step-queued' }>): void {
    this.steps.set(event.stepId, {
      kind: event.kind,
      key: event.key,
      params: event.params,
      action: event.action,
      queuedAt: event.time,
      open: false,
      metricNames: new Set(),
      pending: [],
      flushedAt: event.time,
    });
  }

  private stateOf(stepId: string, time: number): StepState {
    let state = this.steps.get(stepId);
    if (state === undefined) {
      state = {
        kind: '',
        key: '',
        params: {},
        action: 'run',
        queuedAt: time,
        open: false,
        metricNames: new Set(),
        pending: [],
        flushedAt: time,
      };
      this.steps.set(stepId, state);
    }
    return state;
  }

  private openChild(stepId: string, state: StepState, startTime: number): void {
    if (state.open) return;
    this.openParent(startTime);
    state.open = true;
    const cache = state.action === 'run' ? 'ran' : state.action === 'restore' ? 'restored' : 'fresh';
    const tags = {
      ...this.baseTags(stepId),
      'blu.role': 'step',
      'blu.step': stepId,
      'blu.kind': state.kind,
      'blu.key': state.key,
      'blu.cache': cache,
    };
    this.emit({
      kind: 'create-run',
      ref: `step:${stepId}`,
      parentRef: PARENT,
      stepId,
      name: stepId,
      startTime: toInt(startTime),
      tags: cleanPairs(tags, 'tag'),
    });
    this.emitLog(`step:${stepId}`, [], cleanPairs(flattenParams(state.params), 'param'), []);
  }

  private onStart(event: Extract<RunEvent, { type: 'step-start' }>): void {
    const state = this.stateOf(event.stepId, event.time);
    if (event.kind !== '') state.kind = event.kind;
    if (event.key !== '') state.key = event.key;
    if (Object.keys(event.params).length > 0) state.params = event.params;
    if (!state.open) return this.openChild(event.stepId, state, event.time);
    this.emitLog(`step:${event.stepId}`, [], [], [{ key: 'blu.attempt', value: String(event.attempt) }]);
  }

  private onMetric(event: Extract<RunEvent, { type: 'step-metric' }>): void {
    const state = this.stateOf(event.stepId, event.time);
    this.openChild(event.stepId, state, event.time);
    const key = sanitizeKey(event.name);
    state.metricNames.add(key);
    state.pending.push({ key, value: event.value, timestamp: toInt(event.time), step: toInt(event.step) });
    if (state.pending.length >= LIMITS.batchMetrics || event.time - state.flushedAt >= LIVE_FLUSH_MS)
      this.flushMetrics(event.stepId, state, event.time);
  }

  private onProgress(stepId: string, time: number): void {
    const state = this.steps.get(stepId);
    if (state !== undefined && state.pending.length > 0 && time - state.flushedAt >= LIVE_FLUSH_MS) this.flushMetrics(stepId, state, time);
  }

  private flushMetrics(stepId: string, state: StepState, time: number): void {
    if (state.pending.length > 0) this.emitLog(`step:${stepId}`, state.pending, [], []);
    state.pending = [];
    state.flushedAt = time;
  }

  private onStepEnd(event: Extract<RunEvent, { type: 'step-end' }>): void {
    const state = this.stateOf(event.stepId, event.time);
    const current = event.outcome === 'ran' || event.outcome === 'restored' || event.outcome === 'fresh';
    if (current) this.addHeadline(event);
    this.outcomes.push({
      step: event.stepId,
      outcome: event.outcome,
      key: event.key,
      mlflow: current || event.outcome === 'failed' ? `step:${event.stepId}` : null,
    });
    if (event.outcome === 'fresh' && !state.open) return this.recordFresh(event);
    const tracked = current || event.outcome === 'failed';
    if (!state.open && !tracked) return; // skipped or cancelled before it started: nothing to show
    if (event.key !== null && state.key === '') state.key = event.key;
    this.openChild(event.stepId, state, state.open ? event.time : Math.min(state.queuedAt, event.time - event.durationMs));
    const ref = `step:${event.stepId}`;
    this.flushMetrics(event.stepId, state, event.time);
    this.emitLog(ref, this.finalMetrics(event, state), [], cleanPairs(this.endTags(event), 'tag'));
    this.emitArtifacts(ref, event);
    const status: RunStatus =
      event.outcome === 'failed' ? 'FAILED' : event.outcome === 'cancelled' || event.outcome === 'skipped' ? 'KILLED' : 'FINISHED';
    this.emit({ kind: 'end-run', ref, status, endTime: toInt(event.time) });
    state.open = false;
    this.steps.delete(event.stepId);
  }

  /**
   * A step's results (metrics it reported once), not the last points of its curves: the pipeline
   * run's columns in the MLflow compare view, one file each in a file store.
   */
  private addHeadline(event: Extract<RunEvent, { type: 'step-end' }>): void {
    const curves = new Set(event.curves ?? []);
    for (const [name, value] of Object.entries(event.metrics)) {
      if (curves.has(name)) continue;
      this.headline.push({ key: sanitizeKey(`${event.stepId}.${name}`), value, timestamp: toInt(event.time), step: 0 });
    }
  }

  /**
   * Nothing ran for a fresh step, so it gets no run of its own: the pipeline run lists it with the
   * run that produced its outputs (tag + steps.json) and carries its final metrics as headline metrics.
   */
  private recordFresh(event: Extract<RunEvent, { type: 'step-end' }>): void {
    this.steps.delete(event.stepId);
    const found = event.source !== undefined ? this.ctx.lookupSource(event.source.runId, event.source.stepId) : null;
    const source =
      event.source === undefined
        ? null
        : {
            bluRunId: event.source.runId,
            stepId: event.source.stepId,
            mlflowRunId: found !== null && 'runId' in found ? found.runId : null,
          };
    this.fresh.push({
      step: event.stepId,
      key: event.key ?? '',
      source,
      metrics: event.metrics,
      ...(event.tags ? { tags: event.tags } : {}),
    });
  }

  /** duration_s, plus final values not already logged as series (all of them for restored steps). */
  private finalMetrics(event: Extract<RunEvent, { type: 'step-end' }>, state: StepState): MetricRecord[] {
    const time = toInt(event.time);
    const metrics: MetricRecord[] = [{ key: 'duration_s', value: event.durationMs / 1000, timestamp: time, step: 0 }];
    for (const [name, value] of Object.entries(event.metrics)) {
      const key = sanitizeKey(name);
      if (!state.metricNames.has(key) && key !== 'duration_s') metrics.push({ key, value, timestamp: time, step: 0 });
    }
    return metrics;
  }

  private endTags(event: Extract<RunEvent, { type: 'step-end' }>): Record<string, string> {
    // The step's own tags first: the runner's tags below must not be overridden by a step.
    const tags: Record<string, string> = { ...(event.tags ?? {}), 'blu.outcome': event.outcome };
    // The outcome is the truth (a planned restore may have ended up running).
    tags['blu.cache'] = event.outcome === 'restored' || event.outcome === 'fresh' ? event.outcome : 'ran';
    if (event.jobId !== undefined) tags['blu.slurm_job_id'] = event.jobId;
    if (event.failure !== undefined) {
      tags['blu.failure'] = event.failure.reason;
      tags['mlflow.note.content'] = `${event.failure.message}\n\n${event.failure.logTail ?? ''}`.trim();
    }
    if (event.source !== undefined) {
      tags['blu.source_blu_run_id'] = event.source.runId;
      tags['blu.source_step'] = event.source.stepId;
      const found = this.ctx.lookupSource(event.source.runId, event.source.stepId);
      if ('runId' in found) tags['blu.source_run_id'] = found.runId;
      else tags['blu.source_run_id_missing'] = found.missing;
    }
    return tags;
  }

  private emitArtifacts(ref: RunRef, event: Extract<RunEvent, { type: 'step-end' }>): void {
    const seen = new Set<string>();
    for (const file of event.artifacts) {
      if (seen.has(file)) continue;
      seen.add(file);
      this.emit({ kind: 'artifact', ref, path: file, dest: file === event.logPath ? 'logs' : 'outputs' });
    }
    if (event.logPath !== undefined && !seen.has(event.logPath)) this.emit({ kind: 'artifact', ref, path: event.logPath, dest: 'logs' });
  }

  private onRunEnd(status: RunStatus, label: string, time: number): void {
    this.openParent(time);
    for (const [stepId, state] of this.steps) {
      if (!state.open) continue;
      // A step still running when the pipeline stopped did not finish: say so truthfully.
      this.flushMetrics(stepId, state, time);
      this.emitLog(`step:${stepId}`, [], [], [{ key: 'blu.outcome', value: 'interrupted' }]);
      this.emit({ kind: 'end-run', ref: `step:${stepId}`, status: 'KILLED', endTime: toInt(time) });
    }
    this.steps.clear();
    const duration: MetricRecord = { key: 'duration_s', value: (toInt(time) - this.parentStart) / 1000, timestamp: toInt(time), step: 0 };
    const tags = [
      { key: 'blu.status', value: label },
      { key: 'blu.fresh_steps', value: String(this.fresh.length) },
      ...freshSourceTags(this.fresh),
    ];
    this.emitLog(PARENT, [duration, ...this.headline], [], tags);
    this.emit({ kind: 'artifact-text', ref: PARENT, dest: STEPS_ARTIFACT, text: this.stepsJson() });
    this.emit({ kind: 'end-run', ref: PARENT, status, endTime: toInt(time) });
    this.ended = true;
  }

  /** Every step of the run: what happened, and which MLflow run holds the metrics of its current outputs. */
  private stepsJson(): string {
    const fresh = new Map(this.fresh.map((f) => [f.step, f]));
    const steps = this.outcomes.map(({ step, outcome, key, mlflow }) => {
      const f = fresh.get(step);
      if (f === undefined) return { step, outcome, key, run: mlflow === null ? null : 'own child run' };
      return {
        step,
        outcome,
        key,
        source_blu_run_id: f.source?.bluRunId ?? null,
        source_run_id: f.source?.mlflowRunId ?? null,
        metrics: f.metrics,
        ...(f.tags ? { tags: f.tags } : {}),
      };
    });
    return `${JSON.stringify({ run_id: this.ctx.info.runId, pipeline: this.ctx.info.pipelineName, steps }, null, 1)}\n`;
  }

  /** Splits a batch to MLflow's log-batch limits (and ≲ 1 MB of JSON) as separate operations. */
  private emitLog(ref: RunRef, metrics: readonly MetricRecord[], params: readonly KeyValue[], tags: readonly KeyValue[]): void {
    for (const chunk of chunkBatch(metrics, params, tags)) this.emit({ kind: 'log', ref, ...chunk });
  }
}

const MAX_BATCH_CHARS = 900_000;

/** `blu.fresh_sources`, `blu.fresh_sources.2`, …: JSON objects, each within MLflow's tag value limit. */
function freshSourceTags(fresh: readonly FreshStep[]): KeyValue[] {
  const tags: KeyValue[] = [];
  let chunk: Record<string, [string, string | null] | null> = {};
  let size = 2;
  const flush = (): void => {
    if (Object.keys(chunk).length === 0) return;
    tags.push({ key: tags.length === 0 ? FRESH_SOURCES_TAG : `${FRESH_SOURCES_TAG}.${tags.length + 1}`, value: JSON.stringify(chunk) });
    chunk = {};
    size = 2;
  };
  for (const f of fresh) {
    const value: [string, string | null] | null = f.source === null ? null : [f.source.bluRunId, f.source.mlflowRunId];
    const entry = JSON.stringify({ [f.step]: value }).length;
    if (size + entry > LIMITS.tagValue - 16) flush();
    chunk[f.step] = value;
    size += entry;
  }
  flush();
  return tags;
}

export function chunkBatch(
  metrics: readonly MetricRecord[],
  params: readonly KeyValue[],
  tags: readonly KeyValue[],
): { metrics: MetricRecord[]; params: KeyValue[]; tags: KeyValue[] }[] {
  const chunks: { metrics: MetricRecord[]; params: KeyValue[]; tags: KeyValue[] }[] = [];
  let current = { metrics: [] as MetricRecord[], params: [] as KeyValue[], tags: [] as KeyValue[] };
  let chars = 0;
  const push = (kind: 'metrics' | 'params' | 'tags', item: MetricRecord | KeyValue, limit: number, size: number): void => {
    const total = current.metrics.length + current.params.length + current.tags.length;
    if (current[kind].length >= limit || total >= LIMITS.batchTotal || chars + size > MAX_BATCH_CHARS) {
      chunks.push(current);
      current = { metrics: [], params: [], tags: [] };
      chars = 0;
    }
    (current[kind] as (MetricRecord | KeyValue)[]).push(item);
    chars += size;
  };
  for (const m of metrics) push('metrics', m, LIMITS.batchMetrics, m.key.length + 80);
  for (const p of params) push('params', p, LIMITS.batchParams, p.key.length + p.value.length + 30);
  for (const t of tags) push('tags', t, LIMITS.batchTags, t.key.length + t.value.length + 30);
  if (current.metrics.length + current.params.length + current.tags.length > 0) chunks.push(current);
  return chunks;
}
