/**
 * Tracking overhead, run with `npx vitest bench --run test/tracking/tracker.bench.ts`:
 * - the synchronous cost of onEvent (what a step pays per metric),
 * - a run with 10 000 metric points end to end (journal + fsync + store), file store and REST.
 */
import { promises as fs } from 'node:fs';
import { afterAll, beforeAll, bench, describe } from 'vitest';
import { createMlflowTracker } from '../../src/tracking/index.js';
import type { RunEvent } from '../../src/runtime/events.js';
import { FakeMlflow } from './fake-mlflow.js';
import { makeProject, pipelineEvents, runInfo, settings } from './fixture.js';

const dirs: string[] = [];
let events: RunEvent[] = [];
const server = new FakeMlflow();
let n = 0;

beforeAll(async () => {
  const dir = await makeProject();
  dirs.push(dir);
  events = await pipelineEvents(dir, { runId: 'bench', extraMetrics: 10_000 });
  await server.start();
});

afterAll(async () => {
  await server.stop();
  for (const dir of dirs) await fs.rm(dir, { recursive: true, force: true });
});

async function runOnce(uri: string | null): Promise<void> {
  const dir = await makeProject();
  dirs.push(dir);
  const tracker = await createMlflowTracker(settings(uri), runInfo(dir, `bench-${n++}`), { USER: 'bench' });
  for (const event of events) tracker.onEvent(event);
  await tracker.close();
}

describe('tracker', () => {
  bench(
    'onEvent x 10 000 metric events (synchronous part only)',
    async () => {
      const dir = await makeProject();
      dirs.push(dir);
      const tracker = await createMlflowTracker({ trackingUri: null, experimentName: 'b', enabled: true }, runInfo(dir, `sync-${n++}`), {});
      const start = performance.now();
      for (const event of events) tracker.onEvent(event);
      const perEvent = ((performance.now() - start) * 1000) / events.length;
      await tracker.close();
      console.log(`onEvent: ${perEvent.toFixed(2)} µs/event`);
    },
    { iterations: 3, time: 0, warmupIterations: 0, warmupTime: 0 },
  );

  bench('10 000 metric points end to end, file store', () => runOnce(null), { iterations: 3, time: 0, warmupIterations: 0, warmupTime: 0 });
  bench('10 000 metric points end to end, REST (in-process fake server)', () => runOnce(server.url), {
    iterations: 3,
    time: 0,
    warmupIterations: 0,
    warmupTime: 0,
  });
});
