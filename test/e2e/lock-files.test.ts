import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cliProjects, outcomes, type TempProject } from '../rig/project.js';

const newProject = cliProjects();

/** Two pipelines that both have a step named `report`, doing different things. */
function project(): TempProject {
  const p = newProject();
  p.write(
    'pipelines/a.yaml',
    `params:
  n: 1
steps:
  make:
    run: [node, -e, "require('fs').writeFileSync('out/a-make.txt', '\${params.n}')"]
    outs: [out/a-make.txt]
  report:
    needs: [make]
    run: [node, -e, "require('fs').writeFileSync('out/a-report.txt', 'a')"]
    outs: [out/a-report.txt]
`,
  );
  p.write(
    'pipelines/b.yaml',
    `steps:
  report:
    run: [node, -e, "require('fs').writeFileSync('out/b-report.txt', 'b')"]
    outs: [out/b-report.txt]
`,
  );
  p.write('experiments/big.yaml', 'params:\n  n: 5\n');
  return p;
}

interface LockJson {
  schema: number;
  pipeline: string;
  experiments: Record<string, { steps: Record<string, { components: { params: Record<string, unknown> } }> }>;
}

function lockOf(p: TempProject, rel: string): LockJson {
  return JSON.parse(readFileSync(p.path(rel), 'utf8')) as LockJson;
}

interface StatusJson {
  steps: { id: string; state: string; reasons: { kind: string; detail?: string }[] }[];
}

describe('one lock per pipeline, one section per experiment', () => {
  it('refuses a lock with merge-conflict markers or broken JSON: exit 2 at file:line:col, nothing runs, the file is kept', async () => {
    const p = project();
    expect((await p.cli(['run', 'pipelines/a.yaml', '--no-track'])).exitCode).toBe(0);
    expect((await p.cli(['run', 'pipelines/a.yaml', '-e', 'experiments/big.yaml', '--no-track'])).exitCode).toBe(0);
    const lines = readFileSync(p.path('pipelines/a.lock'), 'utf8').split('\n');
    // What git leaves after two branches both changed the lock.
    const conflicted = [
      ...lines.slice(0, 3),
      '<<<<<<< HEAD',
      ...lines.slice(3, 5),
      '=======',
      ...lines.slice(3, 5),
      '>>>>>>> other',
      ...lines.slice(5),
    ].join('\n');
    writeFileSync(p.path('pipelines/a.lock'), conflicted);
    rmSync(p.path('out/a-make.txt')); // a run would have something to do
    const run = await p.cli(['run', 'pipelines/a.yaml', '--no-track']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('pipelines/a.lock:4:1: pipelines/a.lock has an unresolved merge conflict');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(p.path('out/a-make.txt'))).toBe(false);
    expect(readFileSync(p.path('pipelines/a.lock'), 'utf8')).toBe(conflicted);
    writeFileSync(p.path('pipelines/a.lock'), '{\n "schema": 2,\n oops\n}\n');
    const status = await p.cli(['status', 'pipelines/a.yaml']);
    expect(status.exitCode).toBe(2);
    expect(status.stderr).toMatch(/pipelines\/a\.lock:3:2: pipelines\/a\.lock is not valid JSON/);
  });

  it('writes the lock beside the pipeline; another experiment gets its own section and leaves the first intact', async () => {
    const p = project();
    expect((await p.cli(['run', 'pipelines/a.yaml', '--no-track'])).exitCode).toBe(0);
    expect(existsSync(p.path('blu.lock'))).toBe(false);
    expect(lockOf(p, 'pipelines/a.lock')).toMatchObject({
      schema: 2,
      pipeline: 'pipelines/a.yaml',
      experiments: { default: { steps: { make: {}, report: {} } } },
    });

    expect((await p.cli(['run', 'pipelines/a.yaml', '-e', 'experiments/big.yaml', '--no-track'])).exitCode).toBe(0);
    const lock = lockOf(p, 'pipelines/a.lock');
    expect(Object.keys(lock.experiments)).toEqual(['default', 'experiments/big.yaml']);
    expect(lock.experiments.default!.steps.make!.components.params['n']).toBe(1);
    expect(lock.experiments['experiments/big.yaml']!.steps.make!.components.params['n']).toBe(5);

    // Reasons compare against the same experiment: --set within it is a param change.
    const status = JSON.parse(
      (await p.cli(['status', 'pipelines/a.yaml', '-e', 'experiments/big.yaml', '--set', 'n=6', '--json'])).stdout,
    ) as StatusJson;
    expect(status.steps.find((s) => s.id === 'make')!.reasons).toEqual([
      expect.objectContaining({ kind: 'param-changed', param: 'n', before: '5', after: '6' }),
    ]);
  });

  it('a step of another pipeline with the same name is not compared against', async () => {
    const p = project();
    expect((await p.cli(['run', 'pipelines/a.yaml', '--no-track'])).exitCode).toBe(0);
    const status = JSON.parse((await p.cli(['status', 'pipelines/b.yaml', '--json'])).stdout) as StatusJson;
    expect(status.steps).toEqual([
      expect.objectContaining({ id: 'report', state: 'stale', reasons: [expect.objectContaining({ kind: 'never-run' })] }),
    ]);
    const run = await p.cli(['run', 'pipelines/b.yaml', '--no-track']);
    expect(run.stderr).toContain('▶ report: run (never run)');
    expect(Object.keys(lockOf(p, 'pipelines/b.lock').experiments.default!.steps)).toEqual(['report']);
    expect(Object.keys(lockOf(p, 'pipelines/a.lock').experiments.default!.steps)).toEqual(['make', 'report']);
  });

  it('gc keeps what every lock file and every section references, and a legacy root blu.lock', async () => {
    const p = project();
    for (const args of [['pipelines/a.yaml'], ['pipelines/a.yaml', '-e', 'experiments/big.yaml'], ['pipelines/b.yaml']]) {
      expect((await p.cli(['run', ...args, '--no-track'])).exitCode).toBe(0);
    }
    // A legacy root lock (schema 1) that records an entry no new lock does.
    writeFileSync(
      p.path('legacy.yaml'),
      "steps:\n  old:\n    run: [node, -e, \"require('fs').writeFileSync('out/old.txt', 'old')\"]\n    outs: [out/old.txt]\n",
    );
    expect((await p.cli(['run', 'legacy.yaml', '--no-track'])).exitCode).toBe(0);
    const legacyContent = readFileSync(p.path('legacy.lock'), 'utf8');
    const steps = (JSON.parse(legacyContent) as LockJson).experiments.default!.steps;
    writeFileSync(p.path('blu.lock'), JSON.stringify({ schema: 1, steps }));
    rmSync(p.path('legacy.lock'));
    rmSync(p.path('.blu/runs'), { recursive: true }); // no run records: only the locks keep entries

    const gc = await p.cli(['gc']);
    expect(gc.stdout).toMatch(/^freed 0 B: 0 cache entries and 0 blobs/);
    rmSync(p.path('out'), { recursive: true });
    for (const args of [['pipelines/a.yaml'], ['pipelines/a.yaml', '-e', 'experiments/big.yaml'], ['pipelines/b.yaml'], ['legacy.yaml']]) {
      const r = await p.cli(['run', ...args, '--no-track', '--json']);
      // Nothing reruns: every entry survived (a step can be fresh when another experiment restored its bytes).
      expect(Object.values(outcomes(r.stdout)).filter((o) => o !== 'restored' && o !== 'fresh')).toEqual([]);
      expect(Object.values(outcomes(r.stdout))).toContain('restored');
    }

    // Once no lock (the rerun above wrote legacy.lock again) and no run references it, it goes.
    rmSync(p.path('blu.lock'));
    rmSync(p.path('legacy.lock'));
    rmSync(p.path('.blu/runs'), { recursive: true });
    expect((await p.cli(['gc'])).stdout).toMatch(/^freed \S+ \S+: 1 cache entries/);
  });
  it('a fresh clone is told its steps are not cached here, with keys matching the lock; a cache that lost an entry is told it is gone', async () => {
    const p = project();
    p.write('package.json', '{}\n'); // marks the project root once .blu is gone, as a clone's .git does
    expect((await p.cli(['run', 'pipelines/a.yaml', '--no-track'])).exitCode).toBe(0);
    // A fresh clone: the committed files (pipeline, lock), no outputs, no .blu at all.
    rmSync(p.path('out'), { recursive: true });
    rmSync(p.path('.blu'), { recursive: true });
    const clone = await p.cli(['status', 'pipelines/a.yaml']);
    expect(clone.stdout).toContain('2 stale (all only not cached here: their keys match the committed lock)');
    expect(clone.stdout).toMatch(
      /stale +make +not cached here; key matches the committed lock \(run \S+, made elsewhere: the results it recorded still hold\)/,
    );
    expect(clone.stdout).not.toContain('gone');
    // Run here, then lose the cache: this project's own run made those entries, so they are gone.
    expect((await p.cli(['run', 'pipelines/a.yaml', '--no-track'])).exitCode).toBe(0);
    rmSync(p.path('out'), { recursive: true });
    rmSync(p.path('.blu/cache'), { recursive: true });
    expect((await p.cli(['status', 'pipelines/a.yaml'])).stdout).toMatch(/stale +make +its cache entry is gone/);
  });
});

describe('lock sections follow the pipeline', () => {
  const sweep = (seeds: string): string => `params:
  seeds: [${seeds}]
steps:
  train:
    matrix: { seed: "\${params.seeds}" }
    run: [node, -e, "require('fs').writeFileSync('out/\${matrix.seed}.txt', 'x')"]
    outs: ["out/\${matrix.seed}.txt"]
`;
  const ids = (p: TempProject): string[] => Object.keys(lockOf(p, 'sweep.lock').experiments.default!.steps);

  it('drops the entries of a removed matrix value at the next write and says so once; --set prunes nothing', async () => {
    const p = newProject();
    p.write('sweep.yaml', sweep('1, 2, 3, 4, 5'));
    expect((await p.cli(['run', 'sweep.yaml', '--no-track'])).exitCode).toBe(0);
    expect(ids(p)).toHaveLength(5);
    const narrowed = await p.cli(['run', 'sweep.yaml', '--no-track', '--set', 'seeds=[1]']);
    expect(narrowed.exitCode, narrowed.stderr).toBe(0);
    expect(ids(p)).toHaveLength(5); // --set stays a variation of the pipeline the section records
    p.write('sweep.yaml', sweep('1, 2'));
    const r = await p.cli(['run', 'sweep.yaml', '--no-track']); // a no-op: the kept instances are fresh
    expect(r.exitCode, r.stderr).toBe(0);
    expect(ids(p)).toEqual(['train@seed=1', 'train@seed=2']);
    const said = r.stderr.split('\n').filter((l) => l.includes('no longer has'));
    expect(said).toEqual([
      expect.stringMatching(
        /! sweep\.lock: dropped 3 entries of section 'default' for instances the pipeline no longer has: train@seed=3, train@seed=4, train@seed=5$/,
      ),
    ]);
    const again = await p.cli(['run', 'sweep.yaml', '--no-track']);
    expect(again.stderr).not.toContain('no longer has');
  });
});
