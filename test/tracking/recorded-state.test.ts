// What `mlflow sync` makes of a run that was pending (its store was down): the slot's record,
// unless a later run recorded the slot since or the replay went to another store.
import { promises as fs } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { completePending, recordPending, recordState, recordedState } from '../../src/tracking/recorded-state.js';
import { makeProject } from './fixture.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

const slot = { storeUri: 'http://mlflow:5000', experimentName: 'e', pipelineFile: 'p.yaml', overlays: [] };

describe('pending recorded states', () => {
  it('become the slot record once replayed into their store, once', async () => {
    const dir = await makeProject();
    dirs.push(dir);
    await recordPending(dir, 'r1', { slot, state: 's1', recordedAt: '2026-01-01T00:00:00.000Z' });
    expect(await recordedState(dir, slot)).toBeUndefined();
    expect(await completePending(dir, 'r1', 'file:///elsewhere', 'm-other')).toEqual({ ok: true, value: false });
    expect(await completePending(dir, 'r1', slot.storeUri, 'm1')).toEqual({ ok: true, value: true });
    expect(await recordedState(dir, slot)).toEqual({
      state: 's1',
      mlflowRunId: 'm1',
      bluRunId: 'r1',
      recordedAt: '2026-01-01T00:00:00.000Z',
    });
    expect(await completePending(dir, 'r1', slot.storeUri, 'm1')).toEqual({ ok: true, value: false });
  });

  it('never replace the record of a later run', async () => {
    const dir = await makeProject();
    dirs.push(dir);
    await recordPending(dir, 'r1', { slot, state: 's1', recordedAt: '2026-01-01T00:00:00.000Z' });
    await recordState(dir, slot, { state: 's2', mlflowRunId: 'm2', bluRunId: 'r2', recordedAt: '2026-01-01T00:05:00.000Z' });
    expect(await completePending(dir, 'r1', slot.storeUri, 'm1')).toEqual({ ok: true, value: false });
    expect((await recordedState(dir, slot))?.mlflowRunId).toBe('m2');
  });
});
