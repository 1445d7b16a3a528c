import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMlflowTracker, type TrackerOptions } from '../../src/tracking/index.js';
import { FileStore } from '../../src/tracking/file-store.js';
import { listPipelineRuns, loadRunDetail, readMetricSeries } from '../../src/tracking/reader.js';
import type { RunEvent } from '../../src/runtime/events.js';
import { T0, counterIds, makeProject, pipelineEvents, readTree, runInfo, settings, type StreamOptions } from './fixture.js';

const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function project(): Promise<string> {
  const dir = await makeProject();
  projects.push(dir);
  return dir;
}

async function track(projectDir: string, events: readonly RunEvent[], runId: string, options: TrackerOptions = {}) {
  const tracker = await createMlflowTracker(
    settings(null),
    runInfo(projectDir, runId),
    { USER: 'alice' },
    { newRunId: counterIds(), now: () => T0, batchMs: 5, ...options },
  );
  for (const event of events) tracker.onEvent(event);
  await tracker.close();
  return tracker;
}

async function trackStream(projectDir: string, stream: StreamOptions, options: TrackerOptions = {}) {
  return track(projectDir, await pipelineEvents(projectDir, stream), stream.runId, options);
}

const id = (n: number): string => n.toString(16).padStart(32, '0');

describe('file store golden layout', () => {
  it("writes MLflow's own FileStore layout for a three-step run", async () => {
    const dir = await project();
    const tracker = await trackStream(dir, { runId: 'r1' });
    expect(tracker.warnings()).toEqual([]);
    const root = path.join(dir, 'mlruns');
    const tree = await readTree(root);
    const exps = Object.keys(tree)
      .filter((f) => /^\d+\/meta\.yaml$/.test(f))
      .map((f) => f.split('/')[0])
      .sort();
    expect(exps).toHaveLength(2);
    const exp = exps.find((e) => e !== '0') as string;
    expect(exp).toMatch(/^[1-9]\d{17}$/); // an 18-digit id like MLflow's
    expect((await fs.stat(path.join(root, '.trash'))).isDirectory()).toBe(true);

    const norm = (text: string): string => text.replaceAll(root, '<ROOT>').replaceAll(exp, '<EXP>');
    const files = Object.keys(tree).map(norm).sort();
    const tagNames = (run: number, extra: string[]): string[] =>
      [
        'blu.pipeline',
        'blu.role',
        'blu.run_id',
        'mlflow.runName',
        'mlflow.source.git.commit',
        'mlflow.source.git.dirty',
        'mlflow.source.name',
        'mlflow.source.type',
        'mlflow.user',
        ...extra,
      ].map((t) => `<EXP>/${id(run)}/tags/${t}`);
    const stepTags = ['blu.cache', 'blu.key', 'blu.kind', 'blu.outcome', 'blu.step', 'mlflow.parentRunId'];
    const expected = [
      '0/meta.yaml',
      '<EXP>/meta.yaml',
      `<EXP>/${id(1)}/meta.yaml`,
      `<EXP>/${id(1)}/metrics/duration_s`,
      `<EXP>/${id(1)}/params/data.size`,
      `<EXP>/${id(1)}/params/seed`,
      // Headline metrics (<step>.<metric>: what each step reported once; train.loss is a curve) and the steps listing.
      ...['eval.dice', 'prepare.images', 'train.best_epoch', 'train.val/acc'].map((m) => `<EXP>/${id(1)}/metrics/${m}`),
      `<EXP>/${id(1)}/artifacts/steps.json`,
      ...tagNames(1, [
        'blu.backend',
        'blu.command_line',
        'blu.executor',
        'blu.fresh_steps',
        'blu.host',
        'blu.overlays',
        'blu.pipeline_file',
        'blu.status',
        'blu.version',
        'mlflow.note.content',
      ]),
      `<EXP>/${id(2)}/meta.yaml`,
      `<EXP>/${id(2)}/metrics/duration_s`,
      `<EXP>/${id(2)}/metrics/images`,
      `<EXP>/${id(2)}/params/size`,
      ...tagNames(2, [...stepTags, 'blu.source_blu_run_id', 'blu.source_run_id_missing', 'blu.source_step']),
      `<EXP>/${id(3)}/artifacts/logs/train.log`,
      `<EXP>/${id(3)}/artifacts/outputs/model.json`,
      `<EXP>/${id(3)}/artifacts/outputs/plots/loss.csv`,
      `<EXP>/${id(3)}/meta.yaml`,
      ...['best_epoch', 'duration_s', 'grad norm_', 'loss', 'val/acc'].map((m) => `<EXP>/${id(3)}/metrics/${m}`),
      ...['bad key_', 'lr', 'model.depth', 'model.name'].map((p) => `<EXP>/${id(3)}/params/${p}`),
      ...tagNames(3, stepTags),
      `<EXP>/${id(4)}/artifacts/logs/eval.log`,
      `<EXP>/${id(4)}/meta.yaml`,
      `<EXP>/${id(4)}/metrics/dice`,
      `<EXP>/${id(4)}/metrics/duration_s`,
      ...tagNames(4, [...stepTags, 'blu.slurm_job_id']),
    ].sort();
    expect(files).toEqual(expected);

    const file = (rel: string): string => norm(tree[rel.replaceAll('<EXP>', exp)] ?? `<missing ${rel}>`);
    expect(file('0/meta.yaml')).toBe(
      "artifact_location: file://<ROOT>/0\ncreation_time: 1767225600000\nexperiment_id: '0'\nlast_update_time: 1767225600000\nlifecycle_stage: active\nname: Default\n",
    );
    expect(file('<EXP>/meta.yaml')).toBe(
      "artifact_location: file://<ROOT>/<EXP>\ncreation_time: 1767225600000\nexperiment_id: '<EXP>'\nlast_update_time: 1767225600000\nlifecycle_stage: active\nname: seg-exp\n",
    );
    // Integer status, run_uuid beside run_id, ids quoted because they look like numbers.
    expect(file(`<EXP>/${id(3)}/meta.yaml`)).toBe(
      [
        `artifact_uri: file://<ROOT>/<EXP>/${id(3)}/artifacts`,
        'end_time: 1767225605000',
        "entry_point_name: ''",
        "experiment_id: '<EXP>'",
        'lifecycle_stage: active',
        `run_id: '${id(3)}'`,
        'run_name: train',
        `run_uuid: '${id(3)}'`,
        "source_name: ''",
        'source_type: 4',
        "source_version: ''",
        'start_time: 1767225601000',
        'status: 3',
        'tags: []',
        'user_id: alice',
        '',
      ].join('\n'),
    );
    expect(file(`<EXP>/${id(1)}/meta.yaml`)).toContain("run_name: 'seg r1'\n");
    expect(file(`<EXP>/${id(3)}/metrics/loss`)).toBe('1767225602000 0.9 0\n1767225603000 0.6 1\n1767225604000 0.4 2\n');
    expect(file(`<EXP>/${id(3)}/metrics/val/acc`)).toBe('1767225604500 0.71 2\n');
    expect(file(`<EXP>/${id(3)}/metrics/grad norm_`)).toBe('1767225604600 NaN 2\n'); // Python float() reads NaN
    expect(file(`<EXP>/${id(3)}/metrics/duration_s`)).toBe('1767225605000 4 0\n');
    expect(file(`<EXP>/${id(3)}/metrics/best_epoch`)).toBe('1767225605000 2 0\n');
    expect(file(`<EXP>/${id(1)}/metrics/duration_s`)).toBe('1767225606000 6 0\n');
    expect(file(`<EXP>/${id(3)}/params/model.depth`)).toBe('3'); // raw value, no newline
    expect(file(`<EXP>/${id(3)}/params/lr`)).toBe('0.01');
    expect(file(`<EXP>/${id(3)}/tags/mlflow.parentRunId`)).toBe(id(1));
    expect(file(`<EXP>/${id(3)}/tags/blu.cache`)).toBe('ran');
    expect(file(`<EXP>/${id(2)}/tags/blu.cache`)).toBe('restored');
    expect(file(`<EXP>/${id(2)}/metrics/images`)).toBe('1767225600015 42 0\n');
    expect(file(`<EXP>/${id(2)}/tags/blu.source_run_id_missing`)).toContain('r-older was not tracked');
    expect(file(`<EXP>/${id(4)}/tags/blu.slurm_job_id`)).toBe('4242');
    expect(file(`<EXP>/${id(1)}/tags/blu.command_line`)).toBe('blu-pipe run -x small');
    expect(file(`<EXP>/${id(1)}/tags/mlflow.source.git.commit`)).toBe('abc123');
    expect(file(`<EXP>/${id(3)}/artifacts/outputs/plots/loss.csv`)).toBe('epoch,loss\n0,0.9\n');
  });

  it('reads back what it wrote: runs, params, final metrics and full series', async () => {
    const dir = await project();
    await trackStream(dir, { runId: 'r1' });
    const store = new FileStore(path.join(dir, 'mlruns'));
    const runs = await listPipelineRuns(store);
    if (!runs.ok) throw new Error(runs.error.message);
    expect(runs.value.map((r) => [r.bluRunId, r.status, r.pipeline, r.overlays, r.durationS])).toEqual([
      ['r1', 'FINISHED', 'seg', ['small'], 6],
    ]);
    const detail = await loadRunDetail(store, runs.value[0]!);
    if (!detail.ok) throw new Error(detail.error.message);
    expect(detail.value.params).toEqual({ seed: '7', 'data.size': '64' });
    const train = detail.value.steps.find((s) => s.stepId === 'train')!;
    expect(train.metrics['loss']).toBe(0.4);
    expect(Number.isNaN(train.metrics['grad norm_'])).toBe(true);
    expect(detail.value.steps.map((s) => [s.stepId, s.cache, s.status])).toEqual([
      ['eval', 'ran', 'FINISHED'],
      ['prepare', 'restored', 'FINISHED'],
      ['train', 'ran', 'FINISHED'],
    ]);
    const series = await readMetricSeries(store, train.mlflowRunId, 'loss');
    expect(series.ok && series.value.map((p) => [p.step, p.value, p.timestamp])).toEqual([
      [0, 0.9, T0 + 2000],
      [1, 0.6, T0 + 3000],
      [2, 0.4, T0 + 4000],
    ]);
  });

  it('links a restored step to the MLflow run of the step that produced it', async () => {
    const dir = await project();
    await trackStream(dir, { runId: 'r1' });
    await trackStream(dir, { runId: 'r2', prepareSource: 'r1', t0: T0 + 60_000 }, { newRunId: counterIds(100) });
    const store = new FileStore(path.join(dir, 'mlruns'));
    const runs = await listPipelineRuns(store);
    if (!runs.ok) throw new Error(runs.error.message);
    expect(runs.value.map((r) => r.bluRunId)).toEqual(['r2', 'r1']);
    const r2 = await store.searchRuns([runs.value[0]!.experimentId], { 'blu.run_id': 'r2', 'blu.step': 'prepare' });
    expect(r2.ok && r2.value[0]?.tags['blu.source_run_id']).toBe(id(2)); // r1's prepare child
  });

  it('closes runs still open at run-end truthfully (cancelled → KILLED) and survives bad values', async () => {
    const dir = await project();
    const all = await pipelineEvents(dir, { runId: 'r3' });
    const cut = all.findIndex((e) => e.type === 'step-metric' && e.step === 1);
    const events: RunEvent[] = [
      ...all.slice(0, cut),
      { type: 'step-metric', stepId: 'train', name: 'x'.repeat(300), value: Infinity, step: 1.7, time: T0 + 2500.4 },
      {
        type: 'step-queued',
        stepId: 'huge',
        kind: 'shell',
        key: 'k' as never,
        params: { text: 'p'.repeat(7000), '../up': 1 },
        action: 'run',
        reasons: [],
        time: T0 + 2600,
      },
      {
        type: 'step-start',
        stepId: 'huge',
        kind: 'shell',
        key: 'k' as never,
        params: { text: 'p'.repeat(7000), '../up': 1 },
        logPath: '/nonexistent.log',
        attempt: 1,
        time: T0 + 2600,
      },
      {
        type: 'run-end',
        runId: 'r3',
        status: 'cancelled',
        durationMs: 3000,
        time: T0 + 3000,
        counts: { ran: 0, restored: 1, fresh: 0, failed: 0, skipped: 0, cancelled: 2 },
      },
    ];
    const tracker = await track(dir, events, 'r3');
    expect(tracker.warnings()).toEqual([]);
    const store = new FileStore(path.join(dir, 'mlruns'));
    const exp = (await store.listExperimentIds()).ok
      ? ((await store.listExperimentIds()) as { value: string[] }).value.find((e) => e !== '0')!
      : '';
    const runs = await store.searchRuns([exp], { 'blu.run_id': 'r3' });
    if (!runs.ok) throw new Error(runs.error.message);
    const byName = Object.fromEntries(runs.value.map((r) => [r.runName, r]));
    expect(byName['seg r3']?.status).toBe('KILLED');
    expect(byName['train']?.status).toBe('KILLED');
    expect(byName['train']?.tags['blu.outcome']).toBe('interrupted');
    expect(byName['prepare']?.status).toBe('FINISHED');
    const huge = byName['huge']!;
    expect(huge.params['text']).toHaveLength(6000); // truncated like MLflow
    expect(Object.keys(huge.params).sort()).toEqual(['_/up', 'text']); // no `..` in keys
    const longKey = Object.keys(byName['train']!.metrics).find((k) => k.startsWith('xxx'))!;
    expect(longKey.length).toBe(250);
    expect(byName['train']!.metrics[longKey]).toBe(Infinity);
    const raw = await fs.readFile(path.join(dir, 'mlruns', exp, byName['train']!.runId, 'metrics', longKey), 'utf8');
    expect(raw).toBe(`${T0 + 2500} Infinity 1\n`); // integer step and timestamp
  });

  it('creates one experiment when two writers race for the same name', async () => {
    const dir = await project();
    const root = path.join(dir, 'mlruns');
    const stores = Array.from({ length: 6 }, () => new FileStore(root));
    const ids = await Promise.all(stores.map((s) => s.ensureExperiment('raced')));
    const values = ids.map((r) => (r.ok ? r.value : r.error.message));
    expect(new Set(values).size).toBe(1);
    const listed = await stores[0]!.listExperimentIds();
    expect(listed.ok && listed.value.sort()).toEqual(['0', values[0]].sort());
  });

  it('refuses an experiment whose name is in .trash, with a clear message', async () => {
    const dir = await project();
    const root = path.join(dir, 'mlruns');
    const store = new FileStore(root);
    const first = await store.ensureExperiment('gone');
    if (!first.ok) throw new Error(first.error.message);
    await fs.rename(path.join(root, first.value), path.join(root, '.trash', first.value));
    const again = await new FileStore(root).ensureExperiment('gone');
    expect(again.ok ? 'created' : again.error.message).toMatch(/"gone" is deleted .*\.trash/);
  });

  it('skips over-size artifacts with a clear warning', async () => {
    const dir = await project();
    const events = await pipelineEvents(dir, { runId: 'r4' });
    await fs.writeFile(path.join(dir, 'out', 'model.json'), Buffer.alloc(300_000));
    const tracker = await createMlflowTracker(
      settings(null),
      runInfo(dir, 'r4'),
      { USER: 'a', BLU_MLFLOW_MAX_ARTIFACT_MB: '0.1' },
      { batchMs: 5 },
    );
    for (const e of events) tracker.onEvent(e);
    await tracker.close();
    expect(tracker.warnings()).toEqual([
      expect.stringMatching(/model\.json skipped: 0\.3 MB is over the 0\.1 MB cap \(set BLU_MLFLOW_MAX_ARTIFACT_MB/),
    ]);
    const tree = Object.keys(await readTree(path.join(dir, 'mlruns')));
    expect(tree.some((f) => f.endsWith('outputs/model.json'))).toBe(false);
    expect(tree.some((f) => f.endsWith('outputs/plots/loss.csv'))).toBe(true);
  });
});
