import { describe, expect, it } from 'vitest';
import { ExclusiveGate, type GateStep } from '../../src/runtime/exec/exclusive.js';
import { schedulingPriorities } from '../../src/runtime/graph.js';

function gate(steps: GateStep[]): ExclusiveGate {
  return new ExclusiveGate(steps, schedulingPriorities(steps));
}

/** Which of `ids` have been let through so far. */
async function through(g: ExclusiveGate, ids: string[]): Promise<Set<string>> {
  const passed = new Set<string>();
  for (const id of ids) void g.wait(id).then(() => passed.add(id));
  await new Promise((resolve) => setImmediate(resolve));
  return passed;
}

describe('exclusive steps wait for more urgent work', () => {
  it('an exclusive step off the critical path waits for the chain, not for its own dependents', async () => {
    const g = gate([
      { id: 'alone', needs: [], exclusive: true },
      { id: 'a', needs: [], exclusive: false },
      { id: 'b', needs: ['a'], exclusive: false },
      { id: 'report', needs: ['alone', 'b'], exclusive: false },
    ]);
    const passed = await through(g, ['alone', 'a']);
    expect([...passed]).toEqual(['a']);
    g.finished('a');
    expect((await through(g, [])).has('alone')).toBe(false);
    g.finished('b');
    await new Promise((resolve) => setImmediate(resolve));
    expect((await through(g, ['alone'])).has('alone')).toBe(true);
  });

  it('an exclusive step heading the critical path goes at once; two exclusive steps never wait for each other', async () => {
    const g = gate([
      { id: 'train', needs: [], exclusive: true },
      { id: 'eval', needs: ['train'], exclusive: false },
      { id: 'report', needs: ['eval'], exclusive: false },
      { id: 'side', needs: [], exclusive: false },
      { id: 'bench', needs: [], exclusive: true },
    ]);
    const passed = await through(g, ['train', 'bench']);
    // bench (no dependents) ranks lowest: it waits for every step that does not need it, train's
    // chain included, but not for train itself (exclusive: the pool orders those two).
    expect([...passed]).toEqual(['train']);
    g.finished('side');
    g.finished('eval');
    expect((await through(g, ['bench'])).has('bench')).toBe(false);
    g.finished('report');
    expect((await through(g, ['bench'])).has('bench')).toBe(true);
  });

  it('lets the most urgent waiter go when every step in flight waits (the steps waited for could never start)', async () => {
    const g = gate([
      { id: 'low', needs: [], exclusive: true },
      { id: 'high', needs: [], exclusive: true },
      { id: 'chain1', needs: [], exclusive: false },
      { id: 'chain2', needs: ['chain1'], exclusive: false },
      { id: 'report', needs: ['chain2', 'low'], exclusive: false },
      { id: 'after-high', needs: ['high'], exclusive: false },
      { id: 'after-high2', needs: ['after-high'], exclusive: false },
      { id: 'end', needs: ['after-high2', 'report'], exclusive: false },
    ]);
    // Only the two exclusive steps are in flight (the runner's slots are full): chain1 cannot start.
    const order: string[] = [];
    const low = g.track(() => g.wait('low').then(() => order.push('low')));
    const high = g.track(() => g.wait('high').then(() => order.push('high')));
    await Promise.all([low, high]);
    expect(order).toEqual(['high', 'low']);
  });
});
