// Issue 20, "fresh must never lie": keys name upstream results by provenance, so each result also
// records the digests of the upstream outputs it consumed. Through the real CLI: a forced rerun of
// a non-deterministic step makes its reader stale (with the digests), a rerun inside a run makes it
// run in that same run, the step is tagged `blu.nondeterministic`, and `status --verify` rereads.
import { createHash } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliProjects, outcomes, type TempProject } from '../rig/project.js';

const newProject = cliProjects();

const pipeline = (gen: string, extra = ''): string => `name: g
steps:
  gen:
    run: [sh, -c, '${gen}']
    outs: [out/big.bin]${extra}
  use:
    run: [sh, -c, 'sha256sum out/big.bin > out/use.txt']
    deps: [out/big.bin]
    outs: [out/use.txt]
`;
const RANDOM = pipeline('mkdir -p out; head -c 3000000 /dev/urandom > out/big.bin');
const SAME = pipeline('mkdir -p out; printf "the same bytes" > out/big.bin');

function project(text: string): TempProject {
  const p = newProject();
  p.write('p.yaml', text);
  return p;
}

const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');
const bigHash = (p: TempProject): string => sha256(readFileSync(p.path('out/big.bin')));
/** `use` is consistent when its output names the bytes gen holds now. */
const consistent = (p: TempProject): boolean => readFileSync(p.path('out/use.txt'), 'utf8').startsWith(bigHash(p));

async function ok(p: TempProject, args: readonly string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  const r = await p.cli(args, env);
  expect(r.exitCode, r.stderr + r.stdout).toBe(0);
  return r;
}

interface Queued {
  readonly type: string;
  readonly stepId?: string;
  readonly action?: string;
  readonly reasons?: { kind: string; step?: string; path?: string; before?: string; after?: string }[];
  readonly tags?: Record<string, string>;
}
const events = (stdout: string): Queued[] =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Queued);
const reasonsOf = (stdout: string, stepId: string): string[] =>
  events(stdout)
    .filter((e) => e.type === 'step-queued' && e.stepId === stepId)
    .flatMap((e) => (e.reasons ?? []).map((r) => r.kind));

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

describe('a result is fresh only while its upstream holds the bytes it consumed', () => {
  it('after `run gen --force`, status names use stale with the digests; a plain run makes all consistent and fresh', async () => {
    const p = project(RANDOM);
    await ok(p, ['run', 'p.yaml', '--no-track']);
    const before = bigHash(p);
    await ok(p, ['run', 'p.yaml', 'gen', '--force', '--no-track']);
    const after = bigHash(p);
    expect(after).not.toBe(before);

    const status = await ok(p, ['status', 'p.yaml']);
    expect(status.stdout).toContain(
      `stale   use   upstream output changed: gen (out/big.bin: ${before.slice(0, 6)}… → ${after.slice(0, 6)}…)`,
    );
    expect(status.stdout).toMatch(/1 stale, 0 to restore, 1 fresh/);

    const run = await ok(p, ['run', 'p.yaml', '--no-track', '--json']);
    expect(outcomes(run.stdout)).toEqual({ gen: 'fresh', use: 'ran' }); // not restored from its old entry (same key)
    expect(reasonsOf(run.stdout, 'use')).toEqual(['upstream-output-changed']);
    expect(consistent(p)).toBe(true);
    expect((await ok(p, ['status', 'p.yaml'])).stdout).toMatch(/0 stale, 0 to restore, 2 fresh/);
    // The lock records what use consumed: gen's current output.
    const lock = JSON.parse(readFileSync(p.path('p.lock'), 'utf8')) as {
      experiments: { default: { steps: Record<string, { consumed?: Record<string, string> }> } };
    };
    expect(lock.experiments.default.steps.use?.consumed).toEqual({ 'out/big.bin': after });
  });

  it('a reader whose output is gone is not restored from an entry computed from other upstream bytes', async () => {
    const p = project(RANDOM);
    await ok(p, ['run', 'p.yaml', '--no-track']);
    await ok(p, ['run', 'p.yaml', 'gen', '--force', '--no-track']);
    rmSync(p.path('out/use.txt'));
    expect((await ok(p, ['status', 'p.yaml'])).stdout).toMatch(/stale +use +upstream output changed: gen/);
    const run = await ok(p, ['run', 'p.yaml', '--no-track', '--json']);
    expect(outcomes(run.stdout)).toEqual({ gen: 'fresh', use: 'ran' });
    expect(consistent(p)).toBe(true);
  });

  it('a corrupt entry caught while restoring gen reruns it, and use runs in the same run', async () => {
    const p = project(RANDOM);
    await ok(p, ['run', 'p.yaml', '--no-track']);
    const hash = bigHash(p);
    const blob = p.path(`.blu/cache/cas/sha256/${hash.slice(0, 2)}/${hash.slice(2)}`);
    chmodSync(blob, 0o644);
    const bytes = readFileSync(blob);
    bytes[4] = bytes[4]! ^ 0x01;
    writeFileSync(blob, bytes);
    rmSync(p.path('out/big.bin'));

    const run = await ok(p, ['run', 'p.yaml', '--no-track', '--json']);
    expect(outcomes(run.stdout)).toEqual({ gen: 'ran', use: 'ran' });
    expect(reasonsOf(run.stdout, 'gen')).toContain('cache-corrupt');
    const changed = events(run.stdout).find((e) => e.type === 'step-queued' && e.stepId === 'use')?.reasons?.[0];
    expect(changed).toEqual({ kind: 'upstream-output-changed', step: 'gen', path: 'out/big.bin', before: hash, after: bigHash(p) });
    expect(consistent(p)).toBe(true);
    expect((await ok(p, ['status', 'p.yaml'])).stdout).toMatch(/0 stale, 0 to restore, 2 fresh/);
  });

  it('an always_run upstream that changes its bytes makes its reader run in the same run, and the live output says why', async () => {
    const p = project(pipeline('mkdir -p out; head -c 3000000 /dev/urandom > out/big.bin', '\n    always_run: true'));
    await ok(p, ['run', 'p.yaml', '--no-track']);
    const before = bigHash(p);
    const run = await ok(p, ['run', 'p.yaml', '--no-track']);
    const live = run.stdout + run.stderr;
    expect(live).toContain(`▶ use: run (upstream output changed: gen (out/big.bin: ${before.slice(0, 6)}… → ${bigHash(p).slice(0, 6)}…))`);
    expect(live).toMatch(/2 ran/);
    expect(consistent(p)).toBe(true);
  });
});

describe('what counts as consumed', () => {
  it('a dep inside an upstream directory output is judged by that directory (its manifest digest)', async () => {
    const p = project(`steps:
  gen:
    run: [sh, -c, 'mkdir -p out/d; head -c 1000 /dev/urandom > out/d/f.bin']
    outs: [out/d]
  use:
    run: [sh, -c, 'sha256sum out/d/f.bin > out/use.txt']
    deps: [out/d/f.bin]
    outs: [out/use.txt]
`);
    await ok(p, ['run', 'p.yaml', '--no-track']);
    await ok(p, ['run', 'p.yaml', 'gen', '--force', '--no-track']);
    expect((await ok(p, ['status', 'p.yaml'])).stdout).toMatch(
      /stale +use +upstream output changed: gen \(out\/d: [0-9a-f]{6}… → [0-9a-f]{6}…\)/,
    );
    expect(outcomes((await ok(p, ['run', 'p.yaml', '--no-track', '--json'])).stdout)).toEqual({ gen: 'fresh', use: 'ran' });
  });

  it('matrix instances: a reader of all instances names the one whose bytes changed', async () => {
    const p = project(`steps:
  gen:
    matrix: { seed: [1, 2] }
    run: [sh, -c, 'mkdir -p out; head -c 100 /dev/urandom > out/g\${matrix.seed}.bin']
    outs: ["out/g\${matrix.seed}.bin"]
  report:
    needs: [gen]
    run: [sh, -c, 'cat out/g1.bin out/g2.bin | sha256sum > out/report.txt']
    outs: [out/report.txt]
`);
    await ok(p, ['run', 'p.yaml', '--no-track']);
    await ok(p, ['run', 'p.yaml', 'gen@seed=2', '--force', '--no-track']);
    const status = await ok(p, ['status', 'p.yaml']);
    expect(status.stdout).toMatch(/stale +report +upstream output changed: gen@seed=2 \(out\/g2\.bin: /);
    expect(status.stdout).not.toContain('gen@seed=1 (');
  });

  it('an upstream with cache: false is hashed after it runs: its reader runs only when the bytes changed', async () => {
    const p = project(pipeline('mkdir -p out; head -c 1000 /dev/urandom > out/big.bin', '\n    cache: false'));
    await ok(p, ['run', 'p.yaml', '--no-track']);
    const changed = await ok(p, ['run', 'p.yaml', '--no-track', '--json']);
    expect(outcomes(changed.stdout)).toEqual({ gen: 'ran', use: 'ran' });
    expect(reasonsOf(changed.stdout, 'use')).toEqual(['upstream-output-changed']);
    expect(consistent(p)).toBe(true);

    p.write('p.yaml', pipeline('mkdir -p out; printf "the same bytes" > out/big.bin', '\n    cache: false'));
    await ok(p, ['run', 'p.yaml', '--no-track']);
    expect(outcomes((await ok(p, ['run', 'p.yaml', '--no-track', '--json'])).stdout)).toEqual({ gen: 'ran', use: 'fresh' });
  });
});

describe('non-determinism is reported, not hidden', () => {
  it('a rerun with the same key and inputs that changes outputs tags the step: in status, the run warning and its MLflow run', async () => {
    const p = project(RANDOM);
    const env = { MLFLOW_TRACKING_URI: `file://${p.path('mlruns')}` };
    await ok(p, ['run', 'p.yaml'], env);
    expect((await ok(p, ['status', 'p.yaml'])).stdout).not.toContain('not reproducible');
    const forced = await ok(p, ['run', 'p.yaml', 'gen', '--force'], env);
    expect(forced.stdout + forced.stderr).toContain(
      'gen is not reproducible: rerun with the same inputs changed out/big.bin (tagged blu.nondeterministic)',
    );

    const status = await ok(p, ['status', 'p.yaml']);
    expect(status.stdout).toMatch(/fresh +gen +not reproducible: rerun with the same inputs changed out\/big\.bin/);
    const json = JSON.parse((await ok(p, ['status', 'p.yaml', '--json'])).stdout) as { steps: { id: string; nondeterministic?: string }[] };
    expect(json.steps.map((s) => [s.id, s.nondeterministic])).toEqual([
      ['gen', 'rerun with the same inputs changed out/big.bin'],
      ['use', undefined],
    ]);
    const tagFiles = filesUnder(p.path('mlruns')).filter((f) => f.endsWith(path.join('tags', 'blu.nondeterministic')));
    expect(tagFiles.map((f) => readFileSync(f, 'utf8'))).toEqual(['rerun with the same inputs changed out/big.bin']);

    // use is not called non-deterministic: it reran on other bytes.
    const run = await ok(p, ['run', 'p.yaml', '--no-track', '--json']);
    expect(events(run.stdout).find((e) => e.type === 'step-end' && e.stepId === 'use')?.tags).toBeUndefined();
  });

  it('a deterministic upstream rerun keeps its reader fresh and gets no tag', async () => {
    const p = project(SAME);
    await ok(p, ['run', 'p.yaml', '--no-track']);
    const forced = await ok(p, ['run', 'p.yaml', 'gen', '--force', '--no-track', '--json']);
    expect(outcomes(forced.stdout)).toEqual({ gen: 'ran' });
    expect(events(forced.stdout).find((e) => e.type === 'step-end' && e.stepId === 'gen')?.tags).toBeUndefined();
    const status = await ok(p, ['status', 'p.yaml']);
    expect(status.stdout).toMatch(/0 stale, 0 to restore, 2 fresh/);
    expect(status.stdout).not.toContain('not reproducible');

    // Within one run too: an always_run deterministic upstream leaves its reader fresh.
    p.write('p.yaml', pipeline('mkdir -p out; printf "the same bytes" > out/big.bin', '\n    always_run: true'));
    await ok(p, ['run', 'p.yaml', '--no-track']);
    const again = await ok(p, ['run', 'p.yaml', '--no-track', '--json']);
    expect(outcomes(again.stdout)).toEqual({ gen: 'ran', use: 'fresh' });
  });

  it('a persist output that carries state from run to run is no sign of non-determinism', async () => {
    const p = project(`steps:
  grow:
    run: [sh, -c, 'mkdir -p out; head -c 16 /dev/urandom >> out/state.bin; printf done > out/done.txt']
    outs: [{ path: out/state.bin, persist: true }, out/done.txt]
`);
    await ok(p, ['run', 'p.yaml', '--no-track']);
    const forced = await ok(p, ['run', 'p.yaml', '--force', '--no-track', '--json']);
    expect(outcomes(forced.stdout)).toEqual({ grow: 'ran' });
    expect(events(forced.stdout).find((e) => e.type === 'step-end' && e.stepId === 'grow')?.tags).toBeUndefined();
  });
});

describe('status --verify', () => {
  it('rereads outputs against the lock, trusting no stat-cache stamp', async () => {
    const p = project(SAME);
    await ok(p, ['run', 'p.yaml', '--no-track']);
    const clean = await ok(p, ['status', 'p.yaml', '--verify']);
    expect(clean.stdout).toContain('verify: reread 2 outputs recorded in p.lock: all match');

    // Other bytes in use.txt, and a stat cache that lies about them (as a tool that keeps stamps would make it).
    const recorded = sha256(readFileSync(p.path('out/use.txt')));
    writeFileSync(p.path('out/use.txt'), 'edited by hand\n');
    await ok(p, ['status', 'p.yaml']); // records the edited file's stamp
    const hashes = p.path('.blu/state/hashes.json');
    const cache = JSON.parse(readFileSync(hashes, 'utf8')) as { rows: [string, string, string, number, number, number, number][] };
    const row = cache.rows.find((r) => r[0] === p.path('out/use.txt'))!;
    row[2] = recorded;
    row[6] = row[5] + 10_000; // recorded well after its mtime: trusted
    writeFileSync(hashes, JSON.stringify(cache));

    expect((await ok(p, ['status', 'p.yaml'])).stdout).toMatch(/0 stale, 0 to restore, 2 fresh/); // the lie
    const verify = await p.cli(['status', 'p.yaml', '--verify']);
    expect(verify.exitCode).toBe(1);
    expect(verify.stdout).toContain('verify: reread 2 outputs recorded in p.lock: 1 differs');
    expect(verify.stdout).toContain(
      `use out/use.txt: the lock records ${recorded.slice(0, 12)}, the workspace holds ${sha256('edited by hand\n').slice(0, 12)}`,
    );
    const json = JSON.parse((await p.cli(['status', 'p.yaml', '--verify', '--json'])).stdout) as {
      verify: { mismatches: { stepId: string; path: string }[] };
    };
    expect(json.verify.mismatches.map((m) => [m.stepId, m.path])).toEqual([['use', 'out/use.txt']]);
  });
});
