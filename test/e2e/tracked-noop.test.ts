// A tracked no-op rerun whose outputs an earlier run already records writes no MLflow run and
// names that run; anything that makes the record stale (a deleted run, other outputs, another
// store) records a new one, and --track-noop always does. Through the real CLI, into a file store
// and over HTTP into an MLflow-like server.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cliProjects, outcomes, type TempProject } from '../rig/project.js';
import { FakeMlflow } from '../tracking/fake-mlflow.js';

const newProject = cliProjects();
const servers: FakeMlflow[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

const PIPELINE = `name: noop
params:
  n: 3
steps:
  count:
    run: node count.cjs \${params.n}
    outs: [n.txt]
`;

function project(): TempProject {
  const p = newProject();
  p.write('pipeline.yaml', PIPELINE);
  p.write(
    'count.cjs',
    `const n = Number(process.argv[2]);
require('node:fs').writeFileSync('n.txt', String(n));
console.log('::blu::' + JSON.stringify({ metric: { name: 'n', value: n } }));
`,
  );
  return p;
}

/** Pipeline runs in a file store: MLflow run id → meta.yaml path. */
function pipelineRuns(mlruns: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const exp of readdirSync(mlruns).filter((d) => /^\d+$/.test(d) && d !== '0')) {
    for (const run of readdirSync(path.join(mlruns, exp), { withFileTypes: true }).filter((e) => e.isDirectory())) {
      const dir = path.join(mlruns, exp, run.name);
      if (readFileSync(path.join(dir, 'tags', 'blu.role'), 'utf8') === 'pipeline') found.set(run.name, path.join(dir, 'meta.yaml'));
    }
  }
  return found;
}

const NAMED = /nothing ran or changed since run ([0-9a-f]{32}) .*no new run \(--track-noop records one\)/;

describe('tracked no-op reruns', () => {
  it('write no run when an earlier run records the same outputs, and name that run', async () => {
    const p = project();
    const env = { MLFLOW_TRACKING_URI: `file://${p.path('mlruns')}` };
    const first = await p.cli(['run', 'pipeline.yaml', '--json'], env);
    expect(first.exitCode, first.stderr).toBe(0);
    const [recorded] = [...pipelineRuns(p.path('mlruns')).keys()];
    const again = await p.cli(['run', 'pipeline.yaml', '--json'], env);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(outcomes(again.stdout)).toEqual({ count: 'fresh' });
    expect(NAMED.exec(again.stderr)?.[1]).toBe(recorded);
    expect([...pipelineRuns(p.path('mlruns')).keys()]).toEqual([recorded]);
    const forced = await p.cli(['run', 'pipeline.yaml', '--track-noop'], env);
    expect(forced.stderr).not.toMatch(NAMED);
    expect(pipelineRuns(p.path('mlruns')).size).toBe(2);
  });

  it('records a new run when the named run was deleted, the outputs changed, or the store is another', async () => {
    const p = project();
    const env = { MLFLOW_TRACKING_URI: `file://${p.path('mlruns')}` };
    expect((await p.cli(['run', 'pipeline.yaml'], env)).exitCode).toBe(0);
    const [[, meta]] = [...pipelineRuns(p.path('mlruns'))] as [[string, string]];
    writeFileSync(meta, readFileSync(meta, 'utf8').replace('lifecycle_stage: active', 'lifecycle_stage: deleted')); // as `mlflow runs delete`
    const afterDelete = await p.cli(['run', 'pipeline.yaml'], env);
    expect(afterDelete.stderr).not.toMatch(NAMED);
    expect(pipelineRuns(p.path('mlruns')).size).toBe(2);
    expect((await p.cli(['run', 'pipeline.yaml'], env)).stderr).toMatch(NAMED); // the new one now records them
    const changed = await p.cli(['run', 'pipeline.yaml', '--set', 'n=4', '--json'], env);
    expect(outcomes(changed.stdout)).toEqual({ count: 'ran' });
    const back = await p.cli(['run', 'pipeline.yaml', '--json'], env);
    expect(outcomes(back.stdout)).toEqual({ count: 'restored' });
    expect(back.stderr).not.toMatch(NAMED);
    expect(pipelineRuns(p.path('mlruns')).size).toBe(4);
    const elsewhere = await p.cli(['run', 'pipeline.yaml'], { MLFLOW_TRACKING_URI: `file://${p.path('other-mlruns')}` });
    expect(elsewhere.stderr).not.toMatch(NAMED);
    expect(pipelineRuns(p.path('other-mlruns')).size).toBe(1);
  });

  it('asks an MLflow server whether the named run still exists', async () => {
    const server = new FakeMlflow();
    servers.push(server);
    const env = { MLFLOW_TRACKING_URI: await server.start() };
    const p = project();
    expect((await p.cli(['run', 'pipeline.yaml'], env)).exitCode).toBe(0);
    const again = await p.cli(['run', 'pipeline.yaml'], env);
    const named = NAMED.exec(again.stderr)?.[1];
    expect(named).toBeDefined();
    expect(server.runs.get(named!)?.info['status']).toBe('FINISHED');
    expect(server.count('runs/get')).toBe(1);
    server.runs.get(named!)!.info['lifecycle_stage'] = 'deleted';
    expect((await p.cli(['run', 'pipeline.yaml'], env)).stderr).not.toMatch(NAMED);
    expect([...server.runs.values()].filter((r) => r.tags.get('blu.role') === 'pipeline')).toHaveLength(2);
  });

  it('remembers a run that `mlflow sync` replayed after an outage: the next no-op names it and writes no run', async () => {
    const server = new FakeMlflow();
    servers.push(server);
    const url = await server.start();
    await server.stop(); // down for the whole run
    const env = { MLFLOW_TRACKING_URI: url, BLU_MLFLOW_RETRY_BUDGET_MS: '200' };
    const p = project();
    const offline = await p.cli(['run', 'pipeline.yaml'], env);
    expect(offline.exitCode, offline.stderr).toBe(0);
    expect(offline.stderr).toMatch(/not reachable/);
    await server.start(server.port);
    const sync = await p.cli(['mlflow', 'sync'], env);
    expect(sync.stdout, sync.stderr).toMatch(/\(complete\)$/);
    const parents = (): string[] => [...server.runs.entries()].filter(([, r]) => r.tags.get('blu.role') === 'pipeline').map(([id]) => id);
    const [replayed] = parents();
    const noop = await p.cli(['run', 'pipeline.yaml'], env);
    expect(noop.exitCode, noop.stderr).toBe(0);
    expect(NAMED.exec(noop.stderr)?.[1]).toBe(replayed);
    expect(parents()).toEqual([replayed]);
  });
});
