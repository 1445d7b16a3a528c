import { describe, expect, it } from 'vitest';
import type { Executor } from '../../src/runtime/executor.js';
import { lazyExecutor } from '../../src/runtime/executors/lazy.js';
import type { StepSpec } from '../../src/runtime/step-spec.js';

function countingExecutor(): { executor: Executor; calls: string[] } {
  const calls: string[] = [];
  const executor: Executor = {
    name: 'local',
    maxParallel: 3,
    enforcesLocalResources: true,
    execute: async (spec) => (calls.push(`execute ${spec.id}`), { ok: true, value: { entry: null } }),
    shutdown: async () => void calls.push('shutdown'),
  };
  return { executor, calls };
}

const spec = (id: string): StepSpec => ({ id }) as unknown as StepSpec;
const options = {
  signal: new AbortController().signal,
  report: { progress: () => undefined, metric: () => undefined, tag: () => undefined },
};

describe('lazy executor', () => {
  it('builds the real executor once, on the first step, and passes everything through', async () => {
    const { executor, calls } = countingExecutor();
    let created = 0;
    const lazy = lazyExecutor({ name: 'local', maxParallel: 3, enforcesLocalResources: true }, async () => (created++, executor));
    expect([lazy.name, lazy.maxParallel, lazy.enforcesLocalResources, created]).toEqual(['local', 3, true, 0]);
    await Promise.all([lazy.execute(spec('a'), options), lazy.execute(spec('b'), options)]);
    await lazy.shutdown();
    expect(created).toBe(1);
    expect(calls).toEqual(['execute a', 'execute b', 'shutdown']);
  });

  it('never builds it when nothing runs (a no-op rerun)', async () => {
    let created = 0;
    const lazy = lazyExecutor(
      { name: 'local', maxParallel: 1, enforcesLocalResources: true },
      async () => (created++, countingExecutor().executor),
    );
    await lazy.shutdown();
    expect(created).toBe(0);
  });
});
