import { describe, expect, it } from 'vitest';
import { Planner, type Op } from '../../src/tracking/plan.js';
import type { RunEvent } from '../../src/runtime/events.js';
import { T0, makeProject, pipelineEvents, runInfo } from './fixture.js';

function plan(events: readonly RunEvent[], projectDir = '/p'): Op[] {
  const planner = new Planner({ info: runInfo(projectDir, 'r1'), user: 'u', lookupSource: () => ({ missing: 'test' }) });
  return events.flatMap((e) => planner.plan(e));
}

describe('planner', () => {
  it('is deterministic: the same events give the same numbered operations', async () => {
    const dir = await makeProject();
    const events = await pipelineEvents(dir, { runId: 'r1' });
    const first = plan(events, dir);
    expect(JSON.stringify(plan(events, dir))).toBe(JSON.stringify(first));
    expect(first.map((op) => op.seq)).toEqual(first.map((_, i) => i));
    expect(first.filter((op) => op.kind === 'create-run').map((op) => op.ref)).toEqual([
      'pipeline',
      'step:prepare',
      'step:train',
      'step:eval',
    ]);
    expect(first.at(-1)).toMatchObject({ kind: 'end-run', ref: 'pipeline', status: 'FINISHED' });
  });

  it('sends live metrics every 10 s of event time, not only at step end', () => {
    const metric = (step: number, time: number): RunEvent => ({ type: 'step-metric', stepId: 's', name: 'loss', value: step, step, time });
    const ops = plan([
      { type: 'run-start', runId: 'r1', pipelineFile: 'p.yaml', pipelineName: 'p', steps: [], time: T0 },
      metric(0, T0 + 1_000),
      metric(1, T0 + 5_000),
      metric(2, T0 + 11_000),
      metric(3, T0 + 12_000),
    ]);
    const logged = ops.filter((op) => op.kind === 'log' && op.metrics.length > 0);
    expect(logged).toHaveLength(1);
    expect(logged[0]?.kind === 'log' && logged[0].metrics.map((m) => m.step)).toEqual([0, 1, 2]);
  });

  it("logs a step's own tags at its end, without letting them replace the runner's", () => {
    const ops = plan([
      { type: 'run-start', runId: 'r1', pipelineFile: 'p.yaml', pipelineName: 'p', steps: [], time: T0 },
      {
        type: 'step-end',
        stepId: 'train',
        outcome: 'restored',
        key: null,
        durationMs: 1,
        metrics: {},
        artifacts: [],
        time: T0 + 5,
        tags: { 'blu.collapsed': 'val IoU never left 0', 'blu.outcome': 'pretend' },
      },
      // A fresh step has no run of its own: its tags go into the pipeline run's steps.json.
      {
        type: 'step-end',
        stepId: 'eval',
        outcome: 'fresh',
        key: null,
        durationMs: 1,
        metrics: {},
        artifacts: [],
        time: T0 + 6,
        tags: { 'blu.collapsed': 'constant output' },
      },
      {
        type: 'run-end',
        runId: 'r1',
        status: 'succeeded',
        durationMs: 10,
        time: T0 + 10,
        counts: { ran: 0, restored: 1, fresh: 1, failed: 0, skipped: 0, cancelled: 0 },
      },
    ]);
    const tags = ops.flatMap((op) => (op.kind === 'log' && op.ref === 'step:train' ? op.tags : []));
    expect(tags).toContainEqual({ key: 'blu.collapsed', value: 'val IoU never left 0' });
    expect(tags.filter((t) => t.key === 'blu.outcome')).toEqual([{ key: 'blu.outcome', value: 'restored' }]);
    const steps = ops.find((op) => op.kind === 'artifact-text' && op.dest === 'steps.json');
    expect(steps?.kind === 'artifact-text' && JSON.parse(steps.text).steps).toContainEqual(
      expect.objectContaining({ step: 'eval', tags: { 'blu.collapsed': 'constant output' } }),
    );
  });

  it('records failed steps as FAILED with the failure, and skips steps that never started', () => {
    const ops = plan([
      { type: 'run-start', runId: 'r1', pipelineFile: 'p.yaml', pipelineName: 'p', steps: [], time: T0 },
      {
        type: 'step-end',
        stepId: 'boom',
        outcome: 'failed',
        key: null,
        durationMs: 10,
        metrics: {},
        artifacts: [],
        time: T0 + 10,
        failure: { reason: 'exit-non-zero', message: 'exit 3', exitCode: 3 },
      },
      { type: 'step-end', stepId: 'later', outcome: 'skipped', key: null, durationMs: 0, metrics: {}, artifacts: [], time: T0 + 11 },
      {
        type: 'run-end',
        runId: 'r1',
        status: 'failed',
        durationMs: 11,
        time: T0 + 11,
        counts: { ran: 0, restored: 0, fresh: 0, failed: 1, skipped: 1, cancelled: 0 },
      },
    ]);
    expect(ops.filter((op) => op.kind === 'end-run').map((op) => op.kind === 'end-run' && [op.ref, op.status])).toEqual([
      ['step:boom', 'FAILED'],
      ['pipeline', 'FAILED'],
    ]);
    const tags = ops.flatMap((op) => (op.kind === 'log' && op.ref === 'step:boom' ? op.tags : []));
    expect(tags).toContainEqual({ key: 'blu.failure', value: 'exit-non-zero' });
    expect(ops.some((op) => op.ref === 'step:later')).toBe(false);
  });
});
