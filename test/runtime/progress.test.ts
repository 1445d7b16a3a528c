import { describe, expect, it } from 'vitest';
import type { StepKey } from '../../src/artifacts/types.js';
import type { RunEvent } from '../../src/runtime/events.js';
import { PlainReporter } from '../../src/runtime/progress/reporters.js';

const key = 'k'.repeat(64) as StepKey;
const queued = (stepId: string, time: number): RunEvent => ({
  type: 'step-queued',
  stepId,
  kind: 'run',
  key,
  params: {},
  action: 'run',
  reasons: [{ kind: 'never-run' }],
  time,
});
const start = (stepId: string, time: number): RunEvent => ({
  type: 'step-start',
  stepId,
  kind: 'run',
  key,
  params: {},
  logPath: `/tmp/${stepId}.log`,
  attempt: 1,
  time,
});
const end = (stepId: string, time: number): RunEvent => ({
  type: 'step-end',
  stepId,
  outcome: 'ran',
  key,
  durationMs: 1000,
  metrics: {},
  artifacts: [],
  time,
});

describe('plain run log', () => {
  it('shows a step as started when it starts, and what waits only as a count', () => {
    const lines: string[] = [];
    const reporter = new PlainReporter((t) => lines.push(t.trimEnd()));
    // Three steps handed to the pool at once; one slot: they start one after the other.
    for (const [i, id] of ['latency_thesis', 'pretrain@seed=1', 'pretrain@seed=2'].entries()) reporter.onEvent(queued(id, 1000 + i));
    expect(lines).toEqual([]);
    reporter.onEvent(start('latency_thesis', 2000));
    reporter.onEvent(end('latency_thesis', 120_000));
    reporter.onEvent(start('pretrain@seed=1', 120_001));
    reporter.onEvent(start('pretrain@seed=2', 120_002));
    expect(lines.filter((l) => l.includes('▶'))).toEqual([
      '00:00:02 ▶ latency_thesis: run (never run) · 2 queued',
      '00:02:00 ▶ pretrain@seed=1: run (never run) · 1 queued',
      '00:02:00 ▶ pretrain@seed=2: run (never run)',
    ]);
  });

  it('a retry says its attempt; a step that ends without starting leaves the queue', () => {
    const lines: string[] = [];
    const reporter = new PlainReporter((t) => lines.push(t.trimEnd()));
    reporter.onEvent(queued('a', 0));
    reporter.onEvent(queued('b', 0));
    reporter.onEvent({
      type: 'step-end',
      stepId: 'b',
      outcome: 'skipped',
      key,
      durationMs: 0,
      metrics: {},
      artifacts: [],
      failure: { reason: 'cancelled', message: 'not run' },
      time: 0,
    });
    reporter.onEvent(start('a', 0));
    reporter.onEvent({ ...(start('a', 0) as Extract<RunEvent, { type: 'step-start' }>), attempt: 2 });
    expect(lines).toEqual(['00:00:00 - b: not run', '00:00:00 ▶ a: run (never run)', '00:00:00 ▶ a: attempt 2']);
  });
});
