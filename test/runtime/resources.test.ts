import { describe, expect, it } from 'vitest';
import { ResourcePool } from '../../src/runtime/exec/resources.js';

/** Queues requests on a pool whose one slot is held, frees it, and returns who got it in order. */
async function grantOrder(
  requests: readonly { name: string; need?: Record<string, number>; priority?: number }[],
  capacity = 1,
): Promise<string[]> {
  const pool = new ResourcePool({ cpus: capacity });
  const holder = await pool.acquire({ cpus: capacity });
  const order: string[] = [];
  const done = requests.map(async (r) => {
    const release = await pool.acquire(r.need ?? { cpus: 1 }, r.priority);
    order.push(r.name);
    // Hand the slot on a tick later, so every grant is one at a time.
    await new Promise((resolve) => setTimeout(resolve, 1));
    release();
  });
  holder();
  await Promise.all(done);
  return order;
}

describe('ResourcePool', () => {
  it('serves waiting requests by priority, and in arrival order among equals', async () => {
    const order = await grantOrder([
      { name: 'side-1', priority: 0 },
      { name: 'side-2', priority: 0 },
      { name: 'critical', priority: 3 },
      { name: 'middle', priority: 1.5 },
      { name: 'side-3', priority: 0 },
    ]);
    expect(order).toEqual(['critical', 'middle', 'side-1', 'side-2', 'side-3']);
  });

  it('without priorities is first come, first served', async () => {
    expect(await grantOrder([{ name: 'a' }, { name: 'b' }, { name: 'c' }])).toEqual(['a', 'b', 'c']);
  });

  it('lets a large request at the head hold back smaller ones behind it, so it is not starved', async () => {
    const order = await grantOrder(
      [
        { name: 'all-cpus', need: { cpus: 2 }, priority: 2 },
        { name: 'one-cpu', need: { cpus: 1 }, priority: 1 },
      ],
      2,
    );
    expect(order).toEqual(['all-cpus', 'one-cpu']);
  });
});
