import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CliIO } from '../../src/cli/io.js';
import { compareCommand, runsCommand, syncCommand, uiCommand } from '../../src/cli/commands/tracking.js';
import { createMlflowTracker } from '../../src/tracking/index.js';
import type { RunEvent } from '../../src/runtime/events.js';
import type { StepKey } from '../../src/artifacts/types.js';
import { FakeMlflow } from './fake-mlflow.js';
import { JournalWriter } from '../../src/tracking/journal.js';
import { FileStore } from '../../src/tracking/file-store.js';
import { T0, makeProject, pipelineEvents, runInfo, settings } from './fixture.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function project(): Promise<string> {
  const dir = await makeProject();
  cleanup.push(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

function io(cwd: string, env: Record<string, string> = {}): CliIO & { out: () => string; err: () => string } {
  let out = '';
  let errText = '';
  return {
    cwd,
    env: { PATH: '', ...env },
    isTTY: false,
    stdout: (t) => void (out += t),
    stderr: (t) => void (errText += t),
    out: () => out,
    err: () => errText,
  };
}

async function track(dir: string, events: readonly RunEvent[], runId: string, uri: string | null = null, budgetMs = 2_000) {
  const tracker = await createMlflowTracker(
    settings(uri),
    runInfo(dir, runId),
    { USER: 'carol' },
    { batchMs: 5, baseDelayMs: 10, retryBudgetMs: budgetMs, requestTimeoutMs: 500 },
  );
  for (const e of events) tracker.onEvent(e);
  await tracker.close();
  return tracker;
}

async function twoRuns(dir: string): Promise<void> {
  await track(dir, await pipelineEvents(dir, { runId: '20260101-000000-aaaa' }), '20260101-000000-aaaa');
  await track(
    dir,
    await pipelineEvents(dir, { runId: '20260101-000100-bbbb', t0: T0 + 60_000, lr: 0.001, losses: [0.8, 0.3] }),
    '20260101-000100-bbbb',
  );
}

describe('runs and compare', () => {
  it('lists pipeline runs newest first, as a table or JSON', async () => {
    const dir = await project();
    await twoRuns(dir);
    const table = io(dir);
    expect(await runsCommand([], table)).toBe(0);
    const lines = table.out().trim().split('\n');
    expect(lines[0]).toMatch(/^RUN\s+START \(UTC\)\s+STATUS\s+PIPELINE\s+OVERLAYS\s+DURATION$/);
    expect(lines[1]).toMatch(/^20260101-000100-bbbb\s+2026-01-01 00:01:00\s+FINISHED\s+seg\s+small\s+6\.0s$/);
    expect(lines[2]).toMatch(/^20260101-000000-aaaa\s+2026-01-01 00:00:00\s+FINISHED/);
    const json = io(dir);
    expect(await runsCommand(['--last', '1', '--json'], json)).toBe(0);
    const parsed = JSON.parse(json.out()) as { bluRunId: string; status: string; overlays: string[] }[];
    expect(parsed.map((r) => [r.bluRunId, r.status, r.overlays])).toEqual([['20260101-000100-bbbb', 'FINISHED', ['small']]]);
  });

  it('shows differing params and final metrics per step side by side', async () => {
    const dir = await project();
    await twoRuns(dir);
    const text = io(dir);
    expect(await compareCommand(['20260101-000000', '20260101-000100-bbbb'], text)).toBe(0);
    expect(text.out()).toMatch(/Params that differ:\nPARAM\s+20260101-000000-aaaa\s+20260101-000100-bbbb\ntrain\/lr\s+0\.01\s+0\.001\n/);
    expect(text.out()).toMatch(/\ntrain\/loss\s+0\.400000\s+0\.300000\n/);
    expect(text.out()).toMatch(/\neval\/dice\s+0\.800000\s+0\.800000\n/);
    const json = io(dir);
    expect(await compareCommand(['--last', '2', '--json'], json)).toBe(0);
    const table = JSON.parse(json.out()) as { runs: string[]; params: Record<string, string[]>; metrics: Record<string, number[]> };
    expect(table.runs).toEqual(['20260101-000000-aaaa', '20260101-000100-bbbb']);
    expect(table.params).toEqual({ 'train/lr': ['0.01', '0.001'] });
    expect(table.metrics['train/loss']).toEqual([0.4, 0.3]);
    expect(table.metrics['train/duration_s']).toEqual([4, 4]);
  });

  it('gives a fresh step no run of its own, yet compare shows the metrics and params of the run that produced its outputs', async () => {
    const dir = await project();
    const first = '20260101-000000-aaaa';
    await track(dir, await pipelineEvents(dir, { runId: first }), first);
    const second = '20260101-000200-cccc';
    const t = T0 + 120_000;
    await track(
      dir,
      [
        {
          type: 'run-start',
          runId: second,
          pipelineFile: 'pipeline.yaml',
          pipelineName: 'seg',
          steps: [{ id: 'train', action: 'fresh' }],
          time: t,
        },
        {
          type: 'step-queued',
          stepId: 'train',
          kind: 'train',
          key: 'bb'.padEnd(64, '0') as StepKey,
          params: { lr: 0.01 },
          action: 'fresh',
          reasons: [],
          time: t + 1,
        },
        {
          type: 'step-end',
          stepId: 'train',
          outcome: 'fresh',
          key: 'bb'.padEnd(64, '0') as StepKey,
          durationMs: 0,
          metrics: { loss: 0.4, best_epoch: 2 },
          source: { runId: first, stepId: 'train', finishedAt: '2026-01-01T00:00:05Z' },
          artifacts: [],
          time: t + 2,
        },
        {
          type: 'run-end',
          runId: second,
          status: 'succeeded',
          durationMs: 3,
          time: t + 3,
          counts: { ran: 0, restored: 0, fresh: 1, failed: 0, skipped: 0, cancelled: 0 },
        },
      ],
      second,
    );
    const store = new FileStore(path.join(dir, 'mlruns'));
    const exps = await store.listExperimentIds();
    const ids = exps.ok ? exps.value : [];
    const runs = await store.searchRuns(ids, { 'blu.run_id': second });
    expect(runs.ok && runs.value.map((r) => r.tags['blu.role'])).toEqual(['pipeline']); // no child run for the fresh step
    const parent = runs.ok ? runs.value[0]! : undefined;
    const producer = await store.searchRuns(ids, { 'blu.run_id': first, 'blu.step': 'train' });
    const producerId = producer.ok ? producer.value[0]?.runId : undefined;
    expect(parent?.tags['blu.fresh_steps']).toBe('1');
    expect(JSON.parse(parent?.tags['blu.fresh_sources'] ?? '{}')).toEqual({ train: [first, producerId] });
    expect(parent?.metrics).toMatchObject({ 'train.loss': 0.4, 'train.best_epoch': 2 });
    const listing = JSON.parse(
      await fs.readFile(path.join(dir, 'mlruns', parent!.experimentId, parent!.runId, 'artifacts', 'steps.json'), 'utf8'),
    ) as { steps: unknown[] };
    expect(listing.steps).toEqual([
      {
        step: 'train',
        outcome: 'fresh',
        key: 'bb'.padEnd(64, '0'),
        source_blu_run_id: first,
        source_run_id: producerId,
        metrics: { loss: 0.4, best_epoch: 2 },
      },
    ]);
    const json = io(dir);
    expect(await compareCommand([first, second, '--json'], json)).toBe(0);
    const table = JSON.parse(json.out()) as { params: Record<string, string[]>; metrics: Record<string, (number | null)[]> };
    expect(table.metrics['train/loss']).toEqual([0.4, 0.4]);
    expect(table.metrics['train/val/acc']).toEqual([0.71, 0.71]);
    expect(Object.keys(table.params).filter((k) => k.startsWith('train/'))).toEqual([]); // same params: the producer's
  });

  it('uploads no empty or missing step log (a step that printed nothing)', async () => {
    const dir = await project();
    const events = await pipelineEvents(dir, { runId: 'r4' });
    await fs.writeFile(path.join(dir, '.blu', 'logs', 'r4', 'eval.log'), '');
    await fs.rm(path.join(dir, '.blu', 'logs', 'r4', 'train.log'));
    const tracker = await track(dir, events, 'r4');
    expect(tracker.warnings()).toEqual([]);
    const store = new FileStore(path.join(dir, 'mlruns'));
    const exps = await store.listExperimentIds();
    const runs = await store.searchRuns(exps.ok ? exps.value : [], { 'blu.run_id': 'r4', 'blu.role': 'step' });
    for (const run of runs.ok ? runs.value : []) {
      await expect(fs.stat(path.join(dir, 'mlruns', run.experimentId, run.runId, 'artifacts', 'logs'))).rejects.toThrow();
    }
    expect(runs.ok && runs.value.length).toBe(3);
  });

  it('compare --last N stays within the pipeline that ran last, and says so when other pipelines ran in between', async () => {
    const dir = await project();
    await twoRuns(dir);
    const other = '20260101-000130-toys';
    const events = (await pipelineEvents(dir, { runId: other, t0: T0 + 90_000 })).map((e) =>
      e.type === 'run-start' ? { ...e, pipelineName: 'toy' } : e,
    );
    const tracker = await createMlflowTracker(
      settings(null),
      runInfo(dir, other, { pipelineName: 'toy' }),
      { USER: 'carol' },
      { batchMs: 5 },
    );
    for (const e of events) tracker.onEvent(e);
    await tracker.close();
    const latest = '20260101-000300-dddd';
    await track(dir, await pipelineEvents(dir, { runId: latest, t0: T0 + 180_000 }), latest);
    const json = io(dir);
    expect(await compareCommand(['--last', '2', '--json'], json)).toBe(0);
    expect((JSON.parse(json.out()) as { runs: string[] }).runs).toEqual(['20260101-000100-bbbb', latest]);
    expect(json.err()).toMatch(/the last 2 runs include other pipelines \(toy\); comparing the last 2 runs of 'seg'/);
  });

  it('exits 2 with a message on bad usage', async () => {
    const dir = await project();
    for (const [command, argv] of [
      [runsCommand, ['--last', 'x']],
      [runsCommand, ['--bogus']],
      [compareCommand, ['only-one']],
      [compareCommand, []],
      [compareCommand, ['--last', '1']],
      [uiCommand, ['extra']],
      [syncCommand, ['--nope']],
      [runsCommand, ['--tracking-uri', 'postgresql://db']],
    ] as const) {
      const cli = io(dir);
      expect(await command(argv, cli)).toBe(2);
      expect(cli.err()).toMatch(/usage: blu-pipe /);
    }
    for (const [command, value] of [
      [runsCommand, '0'],
      [runsCommand, '2.5'],
      [compareCommand, 'x'],
    ] as const) {
      const cli = io(dir);
      expect(await command(['--last', value], cli)).toBe(2);
      expect(cli.err()).toContain(`--last must be a positive whole number, got '${value}'`);
    }
    const missing = io(dir);
    expect(await compareCommand(['nope1', 'nope2'], missing)).toBe(1);
    expect(missing.err()).toMatch(/no tracked run "nope1"/);
  });
});

describe('ui', () => {
  it('prints the mlflow ui command for the file store, and the URL for a server', async () => {
    const dir = await project();
    const printed = io(dir);
    expect(await uiCommand(['--print'], printed)).toBe(0);
    expect(printed.out()).toBe(`MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri file://${dir}/mlruns\n`);
    const noMlflow = io(dir); // PATH is empty: nothing to start
    expect(await uiCommand([], noMlflow)).toBe(0);
    expect(noMlflow.err()).toMatch(/mlflow is not on PATH/);
    // A stand-in `mlflow` on PATH: a real process whose output must come back through io.
    const bin = path.join(dir, 'bin');
    await fs.mkdir(bin);
    await fs.writeFile(path.join(bin, 'mlflow'), '#!/bin/sh\necho "mlflow $* allow=$MLFLOW_ALLOW_FILE_STORE"\necho oops >&2\n', {
      mode: 0o755,
    });
    const started = io(dir, { PATH: `${bin}:/usr/bin:/bin` });
    expect(await uiCommand([], started)).toBe(0);
    expect(started.out()).toBe(`mlflow ui --backend-store-uri file://${dir}/mlruns allow=true\n`);
    expect(started.err()).toMatch(/^starting: MLFLOW_ALLOW_FILE_STORE=true mlflow ui .*\noops\n$/);
    const remote = io(dir, { MLFLOW_TRACKING_URI: 'https://mlflow.example.org' });
    expect(await uiCommand([], remote)).toBe(0);
    expect(remote.out()).toBe('The MLflow server is the UI: open https://mlflow.example.org\n');
  });
});

describe('mlflow sync', () => {
  it('replays a journal kept during an outage, then has nothing left to do', async () => {
    const dir = await project();
    const server = new FakeMlflow();
    const url = await server.start();
    await server.stop(); // down for the whole run
    cleanup.push(() => server.stop());
    const tracker = await track(dir, await pipelineEvents(dir, { runId: 'r9' }), 'r9', url, 100);
    expect(tracker.warnings()).toEqual([expect.stringMatching(/not reachable/)]);
    await server.start(server.port);
    const sync = io(dir);
    expect(await syncCommand(['--tracking-uri', url], sync)).toBe(0);
    expect(sync.out()).toMatch(/^r9 to http:\/\/127\.0\.0\.1:\d+: sent (\d+), already acknowledged 0 of \1 operations \(complete\)\n$/);
    expect(server.runs.size).toBe(4);
    const again = io(dir);
    expect(await syncCommand(['--tracking-uri', url], again)).toBe(0);
    expect(again.out()).toMatch(/^r9 to http:\/\/127\.0\.0\.1:\d+: sent 0, already acknowledged (\d+) of \1 operations/);
    const listed = io(dir, { MLFLOW_TRACKING_URI: url });
    expect(await runsCommand([], listed)).toBe(0);
    expect(listed.out()).toMatch(/\nr9\s+.*FINISHED\s+seg/);
  });

  it('without --tracking-uri, replays each journal to the server its run was headed for, not to ./mlruns', async () => {
    const dir = await project();
    const server = new FakeMlflow();
    const url = await server.start();
    await server.stop();
    cleanup.push(() => server.stop());
    await track(dir, await pipelineEvents(dir, { runId: 'r5' }), 'r5', url, 100);
    await server.start(server.port);
    const sync = io(dir); // no MLFLOW_TRACKING_URI, no flag
    expect(await syncCommand([], sync)).toBe(0);
    expect(sync.out()).toMatch(/^r5 to http:\/\/127\.0\.0\.1:\d+: sent \d+, already acknowledged 0 of \d+ operations \(complete\)\n$/);
    expect(server.runs.size).toBe(4);
    await expect(fs.stat(path.join(dir, 'mlruns'))).rejects.toThrow();
  });

  it('can replay the same journal into another store (a local file store)', async () => {
    const dir = await project();
    await track(dir, await pipelineEvents(dir, { runId: 'r7' }), 'r7');
    const sync = io(dir);
    expect(await syncCommand(['--tracking-uri', 'file:./other-mlruns'], sync)).toBe(0);
    expect(sync.out()).toMatch(/^r7 to \/.*\/other-mlruns: sent \d+, already acknowledged 0 of/);
    const listed = io(dir);
    expect(await runsCommand(['--tracking-uri', 'file:./other-mlruns', '--json'], listed)).toBe(0);
    expect((JSON.parse(listed.out()) as { bluRunId: string }[]).map((r) => r.bluRunId)).toEqual(['r7']);
  });

  it("leaves a crashed run's journal alone unless told it is dead, then closes its runs as KILLED", async () => {
    const dir = await project();
    const events = await pipelineEvents(dir, { runId: 'crashed' });
    const cut = events.findIndex((e) => e.type === 'step-end' && e.stepId === 'train');
    // What a killed process leaves behind: a journal that stops mid-run.
    const writer = await JournalWriter.open(dir, {
      type: 'header',
      version: 1,
      info: runInfo(dir, 'crashed'),
      experimentName: 'seg-exp',
      user: 'dan',
    });
    if (!writer.ok) throw new Error(writer.error);
    expect((await writer.value.append(events.slice(0, cut))).ok).toBe(true);
    await writer.value.close();
    const skipped = io(dir);
    expect(await syncCommand([], skipped)).toBe(0);
    expect(skipped.out()).toMatch(/^crashed to \/.*\/mlruns: sent 0, .*no run end \(skipped unless --include-incomplete\)/);
    const forced = io(dir);
    expect(await syncCommand(['--include-incomplete'], forced)).toBe(0);
    expect(forced.out()).toMatch(/^crashed to \/.*\/mlruns: sent \d+/);
    const store = new FileStore(path.join(dir, 'mlruns'));
    const exps = await store.listExperimentIds();
    const runs = await store.searchRuns(exps.ok ? exps.value : [], { 'blu.run_id': 'crashed' });
    const states = runs.ok ? Object.fromEntries(runs.value.map((r) => [r.runName, r.status])) : {};
    expect(states).toEqual({ 'seg crashed': 'KILLED', prepare: 'FINISHED', train: 'KILLED' });
  });
});
