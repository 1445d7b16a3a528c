import { promises as fs } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createMlflowTracker, syncJournal, type TrackerOptions } from '../../src/tracking/index.js';
import { RestStore } from '../../src/tracking/rest-store.js';
import { listPipelineRuns, loadRunDetail, readMetricSeries } from '../../src/tracking/reader.js';
import type { RunEvent } from '../../src/runtime/events.js';
import { FakeMlflow } from './fake-mlflow.js';
import { makeProject, pipelineEvents, runInfo, settings, type StreamOptions } from './fixture.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(): Promise<{ dir: string; server: FakeMlflow }> {
  const dir = await makeProject();
  const server = new FakeMlflow();
  await server.start();
  cleanup.push(
    () => fs.rm(dir, { recursive: true, force: true }),
    () => server.stop(),
  );
  return { dir, server };
}

const FAST: TrackerOptions = { retryBudgetMs: 2_000, baseDelayMs: 10, requestTimeoutMs: 1_000, batchMs: 5 };

async function track(
  dir: string,
  server: FakeMlflow,
  events: readonly RunEvent[],
  runId: string,
  options: TrackerOptions = FAST,
  env: Record<string, string> = {},
) {
  const tracker = await createMlflowTracker(settings(server.url), runInfo(dir, runId), { USER: 'bob', ...env }, options);
  for (const event of events) tracker.onEvent(event);
  await tracker.close();
  return tracker;
}

/** Every run's metric points as `runName key step timestamp`, which must be unique. */
function metricPoints(server: FakeMlflow): string[] {
  return [...server.runs.values()]
    .flatMap((r) => r.metrics.map((m) => `${String(r.info['run_name'])} ${m.key} ${m.step} ${m.timestamp}`))
    .sort();
}

/** What a server holds, without its generated ids: per run name, sorted params, tags and metric points. */
function snapshot(server: FakeMlflow): Record<string, unknown> {
  const names = new Map([...server.runs.values()].map((r) => [String(r.info['run_id']), String(r.info['run_name'])]));
  return Object.fromEntries(
    [...server.runs.values()].map((r) => [
      String(r.info['run_name']),
      {
        status: r.info['status'],
        start: r.info['start_time'],
        end: r.info['end_time'],
        params: [...r.params].sort(),
        tags: [...r.tags].map(([k, v]) => [k, k === 'mlflow.parentRunId' ? names.get(v) : v]).sort(),
        metrics: r.metrics.map((m) => `${m.key} ${m.step} ${m.timestamp} ${m.value}`).sort(),
        artifacts: [...server.artifacts.keys()]
          .filter((k) => k.includes(String(r.info['run_id'])))
          .map((k) => k.split('/artifacts/')[1])
          .sort(),
      },
    ]),
  );
}

function runStates(server: FakeMlflow): Record<string, string> {
  return Object.fromEntries([...server.runs.values()].map((r) => [String(r.info['run_name']), String(r.info['status'])]));
}

describe('REST contract with an MLflow-like server', () => {
  it('creates the experiment, nested runs, batches, artifacts and statuses as MLflow expects', async () => {
    const { dir, server } = await setup();
    const tracker = await track(dir, server, await pipelineEvents(dir, { runId: 'r1' }), 'r1', FAST, { MLFLOW_TRACKING_TOKEN: 's3cret' });
    expect(tracker.warnings()).toEqual([]);
    expect(server.authorization).toBe('Bearer s3cret');
    expect(server.requests.every((r) => r.status === 200 || r.endpoint === 'experiments/get-by-name')).toBe(true);
    expect(server.requests.slice(0, 3).map((r) => `${r.method} ${r.endpoint} ${r.status}`)).toEqual([
      'GET experiments/get-by-name 404',
      'POST experiments/create 200',
      'POST runs/create 200',
    ]);
    expect(runStates(server)).toEqual({ 'seg r1': 'FINISHED', prepare: 'FINISHED', train: 'FINISHED', eval: 'FINISHED' });
    const runs = [...server.runs.values()];
    const parent = runs.find((r) => r.info['run_name'] === 'seg r1')!;
    for (const child of runs.filter((r) => r !== parent)) expect(child.tags.get('mlflow.parentRunId')).toBe(parent.info['run_id']);
    expect(parent.info['user_id']).toBe('bob');
    const creates = server.requests.filter((r) => r.endpoint === 'runs/create');
    expect(creates.every((r) => typeof r.body['start_time'] === 'number' && r.body['run_name'] !== undefined)).toBe(true);
    // Non-finite values travel as protobuf-JSON strings, never as null.
    const sentMetrics = server.requests
      .filter((r) => r.endpoint === 'runs/log-batch')
      .flatMap((r) => r.body['metrics'] as { key: string; value: unknown }[]);
    expect(sentMetrics.find((m) => m.key === 'grad norm_')?.value).toBe('NaN');
    const train = runs.find((r) => r.info['run_name'] === 'train')!;
    const base = `${String(train.info['experiment_id'])}/${String(train.info['run_id'])}/artifacts`;
    expect([...server.artifacts.keys()].filter((k) => k.startsWith(base)).sort()).toEqual([
      `${base}/logs/train.log`,
      `${base}/outputs/model.json`,
      `${base}/outputs/plots/loss.csv`,
    ]);
    expect(server.artifacts.get(`${base}/outputs/model.json`)?.toString()).toBe('{"weights":[1,2,3]}');
    expect(server.requests.filter((r) => r.endpoint === 'runs/update').map((r) => r.body['status'])).toEqual([
      'FINISHED',
      'FINISHED',
      'FINISHED',
      'FINISHED',
    ]);
  });

  it('reads metrics back with steps (max_results always sent) for runs and compare', async () => {
    const { dir, server } = await setup();
    await track(dir, server, await pipelineEvents(dir, { runId: 'r1' }), 'r1');
    const store = new RestStore(server.url);
    const runs = await listPipelineRuns(store);
    if (!runs.ok) throw new Error(runs.error.message);
    expect(runs.value.map((r) => [r.bluRunId, r.status, r.durationS])).toEqual([['r1', 'FINISHED', 6]]);
    const detail = await loadRunDetail(store, runs.value[0]!);
    if (!detail.ok) throw new Error(detail.error.message);
    const train = detail.value.steps.find((s) => s.stepId === 'train')!;
    expect(Number.isNaN(train.metrics['grad norm_'])).toBe(true);
    const loss = await readMetricSeries(store, train.mlflowRunId, 'loss');
    expect(loss.ok && loss.value.map((p) => [p.step, p.value])).toEqual([
      [0, 0.9],
      [1, 0.6],
      [2, 0.4],
    ]);
    expect(server.requests.filter((r) => r.endpoint === 'metrics/get-history').every((r) => r.query['max_results'] === '25000')).toBe(true);
  });

  it('respects log-batch limits for 2500 metric points and 250 params', async () => {
    const { dir, server } = await setup();
    const events = await pipelineEvents(dir, { runId: 'r1', extraMetrics: 2500 });
    const manyParams = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`p${i}`, i]));
    const patched = events.map((e) =>
      e.type === 'step-queued' && e.stepId === 'train'
        ? { ...e, params: manyParams }
        : e.type === 'step-start' && e.stepId === 'train'
          ? { ...e, params: manyParams }
          : e,
    );
    const tracker = await track(dir, server, patched, 'r1');
    expect(tracker.warnings()).toEqual([]);
    const batches = server.requests.filter((r) => r.endpoint === 'runs/log-batch');
    for (const b of batches) {
      const [m, p, t] = (['metrics', 'params', 'tags'] as const).map((k) => (b.body[k] as unknown[] | undefined)?.length ?? 0);
      expect(m!).toBeLessThanOrEqual(1000);
      expect(p!).toBeLessThanOrEqual(100);
      expect(t!).toBeLessThanOrEqual(100);
      expect(m! + p! + t!).toBeLessThanOrEqual(1000);
      expect(b.bytes).toBeLessThan(1_000_000);
    }
    const train = [...server.runs.values()].find((r) => r.info['run_name'] === 'train')!;
    expect(train.metrics.filter((m) => m.key === 'batch_loss')).toHaveLength(2500);
    expect(train.params.size).toBe(250);
  });

  it('retries 500, 429, cut connections and late answers without duplicating anything', async () => {
    const { dir, server } = await setup();
    server.faults.push(
      { endpoint: 'runs/create', kind: 'http429', times: 1 },
      { endpoint: 'runs/log-batch', kind: 'http500', times: 2 },
      { endpoint: 'runs/update', kind: 'drop', times: 1 },
    );
    // Applied, but answered after the client's timeout: the loss series batch and the eval run creation.
    const hasLoss = (body: Record<string, unknown>): boolean =>
      ((body['metrics'] ?? []) as { key: string }[]).some((m) => m.key === 'loss');
    server.faults.push(
      { endpoint: 'runs/log-batch', kind: 'slow-then-apply', times: 1, delayMs: 400, match: hasLoss },
      { endpoint: 'runs/create', kind: 'slow-then-apply', times: 1, delayMs: 400, match: (body) => body['run_name'] === 'eval' },
    );
    const events = await pipelineEvents(dir, { runId: 'r1' });
    const tracker = await createMlflowTracker(
      settings(server.url),
      runInfo(dir, 'r1'),
      { USER: 'bob' },
      { ...FAST, requestTimeoutMs: 200 },
    );
    for (const event of events) tracker.onEvent(event);
    await tracker.close();
    expect(tracker.warnings()).toEqual([]);
    expect(server.requests.some((r) => r.status === 429)).toBe(true);
    expect(server.requests.filter((r) => r.status === 500)).toHaveLength(2);
    // The late answers were detected: the batch was looked up instead of re-sent, the run searched for.
    expect(server.count('metrics/get-history')).toBeGreaterThan(0);
    expect(server.count('runs/search')).toBeGreaterThan(0);
    expect(server.runs.size).toBe(4);
    expect(runStates(server)).toEqual({ 'seg r1': 'FINISHED', prepare: 'FINISHED', train: 'FINISHED', eval: 'FINISHED' });
    const points = metricPoints(server);
    expect(new Set(points).size).toBe(points.length);
    expect(points).toHaveLength(16); // parent 1 + 4 headline (not the loss curve's last point) + prepare 2 + train 7 + eval 2
  });

  it('waits for a slow server within the request timeout', async () => {
    const { dir, server } = await setup();
    server.faults.push({ endpoint: 'runs/log-batch', kind: 'slow', times: 3, delayMs: 150 });
    const tracker = await track(dir, server, await pipelineEvents(dir, { runId: 'r1' }), 'r1');
    expect(tracker.warnings()).toEqual([]);
    expect(server.requests.every((r) => r.status === 200 || r.endpoint === 'experiments/get-by-name')).toBe(true);
    expect(metricPoints(server)).toHaveLength(16);
  });

  it('finishes when the server goes away mid-run, says so once, and sync replays exactly what is missing', async () => {
    const { dir, server } = await setup();
    const events = await pipelineEvents(dir, { runId: 'r1' });
    const tracker = await createMlflowTracker(settings(server.url), runInfo(dir, 'r1'), { USER: 'bob' }, { ...FAST, retryBudgetMs: 300 });
    const half = events.findIndex((e) => e.type === 'step-metric');
    for (const event of events.slice(0, half)) tracker.onEvent(event);
    while (server.runs.size < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    await server.stop();
    for (const event of events.slice(half)) tracker.onEvent(event);
    await tracker.close(); // resolves although the server never comes back during the run
    expect(tracker.warnings()).toHaveLength(1);
    expect(tracker.warnings()[0]).toMatch(/not reachable.*blu-pipe mlflow sync/);
    expect(tracker.describe()).toMatch(/offline/);
    const before = server.requests.length;
    const runsBefore = server.runs.size;
    expect(runsBefore).toBeLessThan(4);

    await server.start(server.port);
    const report = await syncJournal(dir, { env: { MLFLOW_TRACKING_URI: server.url }, baseDelayMs: 10, retryBudgetMs: 1_000 });
    if (!report.ok) throw new Error(report.error);
    const [journal] = report.value.journals;
    expect(journal).toMatchObject({ runId: 'r1', incomplete: false, error: null });
    expect(journal!.sent).toBe(journal!.operations - journal!.alreadyAcknowledged);
    expect(journal!.alreadyAcknowledged).toBeGreaterThan(0);
    expect(server.runs.size).toBe(4);
    expect(runStates(server)).toEqual({ 'seg r1': 'FINISHED', prepare: 'FINISHED', train: 'FINISHED', eval: 'FINISHED' });
    const points = metricPoints(server);
    expect(new Set(points).size).toBe(points.length);
    expect(points).toHaveLength(16);
    const replayed = server.requests.slice(before).filter((r) => r.endpoint === 'runs/create');
    expect(replayed).toHaveLength(4 - runsBefore);

    // The same state as a run that never saw an outage.
    const reference = new FakeMlflow();
    await reference.start();
    cleanup.push(() => reference.stop());
    await track(await makeProject(), reference, events, 'r1');
    expect(snapshot(server)).toEqual(snapshot(reference));
    const lines = (await fs.readFile(`${dir}/.blu/tracking/journal/r1.jsonl`, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(events.length + 1); // header + every event

    const afterFirstSync = server.requests.length;
    const again = await syncJournal(dir, { env: { MLFLOW_TRACKING_URI: server.url }, baseDelayMs: 10 });
    expect(again.ok && again.value.journals[0]?.sent).toBe(0);
    expect(server.requests.length).toBe(afterFirstSync);
  });

  it('bounds the total retry time when every answer is too slow', async () => {
    const { dir, server } = await setup();
    server.faults.push({ endpoint: '*', kind: 'slow', times: 10_000, delayMs: 1_000 });
    const tracker = await track(dir, server, await pipelineEvents(dir, { runId: 'r1' }), 'r1', {
      ...FAST,
      requestTimeoutMs: 200,
      retryBudgetMs: 800,
    });
    // Each try takes the whole 200 ms timeout, so an 800 ms budget allows only a handful of them.
    expect(server.requests.length).toBeGreaterThan(1);
    expect(server.requests.length).toBeLessThanOrEqual(6);
    expect(tracker.warnings()).toEqual([expect.stringMatching(/not reachable.*aborted|not reachable.*timeout/i)]);
  });

  it('ends up with one experiment when two clients create it at once', async () => {
    const { server } = await setup();
    const ids = await Promise.all([
      new RestStore(server.url).ensureExperiment('raced'),
      new RestStore(server.url).ensureExperiment('raced'),
    ]);
    expect(ids.map((r) => r.ok && r.value)).toEqual([ids[0]!.ok && ids[0]!.value, ids[0]!.ok && ids[0]!.value]);
    expect(server.experiments.size).toBe(1);
    expect(
      server.requests
        .filter((r) => r.endpoint === 'experiments/create')
        .map((r) => r.status)
        .sort(),
    ).toEqual([200, 400]);
  });

  it('reports a deleted experiment clearly and never blocks the pipeline', async () => {
    const { dir, server } = await setup();
    server.experiments.set('5', { name: 'seg-exp', lifecycle_stage: 'deleted' });
    const tracker = await track(dir, server, await pipelineEvents(dir, { runId: 'r1' } satisfies StreamOptions), 'r1');
    expect(tracker.warnings()).toEqual([expect.stringMatching(/"seg-exp" is deleted/)]);
    expect(server.runs.size).toBe(0);
  });
});
