import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, outcomes, TempProject } from '../rig/project.js';
import { isPidAlive } from '../../src/base/liveness.js';

const projects: TempProject[] = [];
afterEach(() => projects.splice(0).forEach((p) => p.dispose()));

function toyProject(): TempProject {
  const p = new TempProject();
  projects.push(p);
  p.copyFromRepo('pipelines/examples');
  return p;
}

const TOY = 'pipelines/examples/toy-regression.yaml';

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`build first: ${CLI} is missing (npm test builds it)`);
});

describe('blu-pipe run on a real run: pipeline', () => {
  it('runs everything, then is all fresh, restores deleted outputs, and reruns only what a param change touches', async () => {
    const p = toyProject();
    const first = await p.cli(['run', TOY, '--json', '--no-track']);
    expect(first.exitCode).toBe(0);
    expect(Object.values(outcomes(first.stdout))).toEqual(Array(10).fill('ran'));
    const report = readFileSync(p.path('build/toy/report.md'), 'utf8');

    const second = await p.cli(['run', TOY, '--json', '--no-track']);
    expect(new Set(Object.values(outcomes(second.stdout)))).toEqual(new Set(['fresh']));

    rmSync(p.path('build/toy/models'), { recursive: true });
    rmSync(p.path('build/toy/report.md'));
    const status = JSON.parse((await p.cli(['status', TOY, '--json'])).stdout) as {
      steps: { id: string; state: string; reasons: { kind: string }[] }[];
    };
    expect(status.steps.find((s) => s.id === 'train@model=linear')).toMatchObject({
      state: 'restore',
      reasons: [{ kind: 'output-missing' }],
    });
    const third = await p.cli(['run', TOY, '--json', '--no-track']);
    const o3 = outcomes(third.stdout);
    expect([o3['train@model=linear'], o3.report, o3.generate]).toEqual(['restored', 'restored', 'fresh']);
    expect(readFileSync(p.path('build/toy/report.md'), 'utf8')).toBe(report);

    const dry = await p.cli(['run', TOY, '--set', 'train.lr=0.02', '--dry-run']);
    expect(dry.stdout).toContain('param changed: train.lr: 0.05 → 0.02');
    expect(dry.stdout).toContain('dry run: nothing was executed');
    const fourth = await p.cli(['run', TOY, '--set', 'train.lr=0.02', '--json', '--no-track']);
    const o4 = outcomes(fourth.stdout);
    expect(o4).toMatchObject({
      generate: 'fresh',
      split: 'fresh',
      profile: 'fresh',
      'train@model=mean': 'ran',
      'evaluate@model=mean': 'ran',
      report: 'ran',
    });
    const lock = JSON.parse(readFileSync(p.path('pipelines/examples/toy-regression.lock'), 'utf8')) as {
      experiments: Record<string, { steps: Record<string, { components: { params: Record<string, unknown> } }> }>;
    };
    expect(lock.experiments.default!.steps['train@model=mean']!.components.params['train.lr']).toBe(0.02);
  });

  it('selects one step with what it needs, and --force --downstream reruns it and everything after', async () => {
    const p = toyProject();
    const only = await p.cli(['run', TOY, 'split', '--json', '--no-track']);
    expect(outcomes(only.stdout)).toEqual({ generate: 'ran', split: 'ran' });
    await p.cli(['run', TOY, '--no-track']);
    const forced = await p.cli(['run', TOY, 'evaluate@model=mean', '--force', '--downstream', '--json', '--no-track']);
    const o = outcomes(forced.stdout);
    // report needs every evaluate instance, so those are selected too, but only as fresh.
    expect(o).toMatchObject({ 'evaluate@model=mean': 'ran', report: 'ran', 'train@model=mean': 'fresh', 'evaluate@model=linear': 'fresh' });
    expect(o.generate).toBe('fresh');
  });

  it('fails a step with exit 1, shows its log tail and path, skips dependents, --keep-going runs independent steps', async () => {
    const p = new TempProject();
    projects.push(p);
    p.write(
      'p.yaml',
      `steps:
  bad:
    run: [node, -e, "console.log('working on it'); console.error('boom: disk full'); process.exit(3)"]
    outs: [bad.txt]
  after:
    needs: [bad]
    run: [node, -e, "require('fs').writeFileSync('after.txt','x')"]
    outs: [after.txt]
  slow:
    run: [node, -e, "setTimeout(() => require('fs').writeFileSync('slow.txt','x'), 300)"]
    outs: [slow.txt]
`,
    );
    const r = await p.cli(['run', 'p.yaml', '--no-track', '-j', '1']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("✗ bad: step 'bad' failed: 'node' exited with code 3");
    expect(r.stderr).toContain('│ boom: disk full');
    expect(r.stderr).toMatch(/full log: .*\.blu\/runs\/.*\/bad\.log/);
    expect(r.stderr).toContain("- after: not run: it needs 'bad', which did not succeed");
    expect(r.stderr).not.toMatch(/\n\s+at /); // never a stack trace
    const k = await p.cli(['run', 'p.yaml', '--no-track', '--keep-going', '--json']);
    expect(outcomes(k.stdout)).toMatchObject({ bad: 'failed', after: 'skipped' });
    expect(existsSync(p.path('slow.txt'))).toBe(true);
  });

  it('exits 2 with every problem and no stack trace for a bad pipeline file', async () => {
    const p = new TempProject();
    projects.push(p);
    p.write('p.yaml', 'steps:\n  a:\n    run: echo\n    outz: [x]\n  b:\n    uses: nope\n');
    const r = await p.cli(['run', 'p.yaml']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(
      "p.yaml:4:5: unknown key 'outz' in 'steps.a' (did you mean 'outs'?)\nblu-pipe: 1 problem found; nothing was run.",
    );
    const usage = await p.cli(['run', 'p.yaml', '--jobs', 'zero']);
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toContain('--jobs must be a positive whole number');
    expect((await p.cli(['frobnicate'])).exitCode).toBe(2);
  });
});

describe('robustness: kills, interrupts and concurrent runs', () => {
  const SLOW = (ms: number, name: string): string =>
    `[node, -e, "require('fs').writeFileSync('${name}.pid', String(process.pid)); setTimeout(() => require('fs').writeFileSync('${name}.txt', 'done'), ${ms})"]`;

  it('after SIGKILL mid-step, the next run reruns the step (incomplete attempt) and the cache is consistent', async () => {
    const p = new TempProject();
    projects.push(p);
    p.write(
      'p.yaml',
      `steps:\n  first:\n    run: [node, -e, "require('fs').writeFileSync('first.txt','1')"]\n    outs: [first.txt]\n  slow:\n    needs: [first]\n    run: ${SLOW(1500, 'slow')}\n    outs: [slow.txt]\n`,
    );
    const child = p.spawn(['run', 'p.yaml', '--no-track']);
    await waitFor(() => existsSync(p.path('slow.pid')));
    child.kill('SIGKILL');
    await child;
    const status = await p.cli(['status', 'p.yaml']);
    expect(status.stdout).toMatch(/stale\s+slow\s+previous attempt did not finish \(run \d{8}-\d{6}-[0-9a-f]{4}\)/);
    expect(status.stdout).toMatch(/fresh\s+first/);
    const again = await p.cli(['run', 'p.yaml', '--json', '--no-track']);
    expect(again.exitCode).toBe(0);
    expect(outcomes(again.stdout)).toEqual({ first: 'fresh', slow: 'ran' });
    expect(readFileSync(p.path('slow.txt'), 'utf8')).toBe('done');
  });

  it('Ctrl-C stops the running child, exits 130, and commits nothing half-done', async () => {
    const p = new TempProject();
    projects.push(p);
    p.write('p.yaml', `steps:\n  long:\n    run: ${SLOW(30_000, 'long')}\n    outs: [long.txt]\n`);
    const child = p.spawn(['run', 'p.yaml', '--no-track']);
    await waitFor(() => existsSync(p.path('long.pid')));
    const pid = Number(readFileSync(p.path('long.pid'), 'utf8'));
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    await waitFor(() => !isPidAlive(pid));
    const status = await p.cli(['status', 'p.yaml']);
    expect(status.stdout).toMatch(/stale\s+long\s+never run$/m);
    // Generous timeout: under a loaded full suite the CLI and its child start slowly (it once took over 60 s).
  }, 150_000);

  it('two runs at once never compute the same step twice: one waits and then hits the cache', async () => {
    const p = new TempProject();
    projects.push(p);
    p.write(
      'p.yaml',
      `steps:\n  shared:\n    run: [node, -e, "const fs=require('fs'); fs.appendFileSync('count.log','x'); setTimeout(() => fs.writeFileSync('shared.txt','v'), 5000)"]\n    outs: [shared.txt]\n`,
    );
    const a = p.spawn(['run', 'p.yaml', '--json', '--no-track']);
    await waitFor(() => existsSync(p.path('count.log')));
    const b = p.spawn(['run', 'p.yaml', '--json', '--no-track']);
    const [ra, rb] = await Promise.all([a, b]);
    expect([ra.exitCode, rb.exitCode]).toEqual([0, 0]);
    expect(readFileSync(p.path('count.log'), 'utf8')).toBe('x');
    expect(outcomes(String(ra.stdout)).shared).toBe('ran');
    expect(['restored', 'fresh']).toContain(outcomes(String(rb.stdout)).shared);
    expect(String(rb.stdout)).toContain('"type":"step-waiting"');
  });

  it('two runs of different configurations at once: the second waits to rewrite an input the first still reads, both results are right', async () => {
    const p = new TempProject();
    projects.push(p);
    p.write(
      'p.yaml',
      `params: { value: 1 }
steps:
  gen:
    run: [node, -e, "require('fs').writeFileSync('data.txt', process.argv[1])", "\${params.value}"]
    outs: [data.txt]
  use:
    run: [node, -e, "const fs=require('fs'); fs.writeFileSync('started.txt', ''); setTimeout(() => fs.writeFileSync('result.txt', 'saw ' + fs.readFileSync('data.txt','utf8')), 3000)"]
    deps: [data.txt]
    outs: [result.txt]
`,
    );
    const a = p.spawn(['run', 'p.yaml', '--json', '--no-track', '--set', 'value=1']);
    await waitFor(() => existsSync(p.path('started.txt')));
    const b = p.spawn(['run', 'p.yaml', '--json', '--no-track', '--set', 'value=2']);
    const [ra, rb] = await Promise.all([a, b]);
    expect([ra.exitCode, rb.exitCode]).toEqual([0, 0]);
    expect(String(rb.stdout)).toMatch(
      /"type":"step-waiting","stepId":"gen","holder":"run [^"]+ \(pid \d+ on [^)]+\), which still reads data.txt"/,
    );
    expect(readFileSync(p.path('result.txt'), 'utf8')).toBe('saw 2'); // b ran last
    // Each configuration's cached result is its own: a is restored with what a read.
    const again = await p.cli(['run', 'p.yaml', '--json', '--no-track', '--set', 'value=1']);
    expect(outcomes(again.stdout)).toEqual({ gen: 'restored', use: 'restored' });
    expect(readFileSync(p.path('result.txt'), 'utf8')).toBe('saw 1');
    expect(readFileSync(p.path('data.txt'), 'utf8')).toBe('1');
  });

  it('refuses outputs outside the project at load time', async () => {
    const p = new TempProject();
    projects.push(p);
    p.write('p.yaml', 'steps:\n  a:\n    run: echo\n    outs: [/etc/passwd]\n');
    const r = await p.cli(['run', 'p.yaml']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("output '/etc/passwd' of step 'a' is outside the project");
    writeFileSync(p.path('unused'), '');
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 90_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}
