// Issue 20, "fresh must never lie", through the real CLI: `cache: false` outputs are hashed and
// recorded, and a missing or edited one makes its step run (never a restore of only its cached
// outputs); a step is not fresh while an upstream it reads is not; a reader of a step that reruns
// because its own upstream changed is rechecked in the same run.
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cliProjects, outcomes, type TempProject } from '../rig/project.js';

const newProject = cliProjects();

function project(text: string): TempProject {
  const p = newProject();
  p.write('p.yaml', text);
  return p;
}

async function ok(p: TempProject, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await p.cli(args);
  expect(r.exitCode, r.stderr + r.stdout).toBe(0);
  return r;
}

const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

interface StatusStep {
  readonly id: string;
  readonly state: string;
  readonly reasons: { kind: string; step?: string; path?: string; text: string }[];
}
async function status(p: TempProject): Promise<Record<string, StatusStep>> {
  const r = await p.cli(['status', 'p.yaml', '--json']);
  expect(r.exitCode, r.stderr).toBe(0);
  return Object.fromEntries((JSON.parse(r.stdout) as { steps: StatusStep[] }).steps.map((s) => [s.id, s]));
}

const reasonsOf = (stdout: string, stepId: string): string[] =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; stepId?: string; reasons?: { kind: string }[] })
    .filter((e) => e.type === 'step-queued' && e.stepId === stepId)
    .flatMap((e) => (e.reasons ?? []).map((r) => r.kind));

const UNCACHED = `name: u
steps:
  gen:
    run: [sh, -c, 'mkdir -p out; printf kept > out/kept.txt; printf side > out/side.txt']
    outs: [out/kept.txt, { path: out/side.txt, cache: false }]
  use:
    run: [sh, -c, 'cat out/side.txt > out/use.txt']
    deps: [out/side.txt]
    outs: [out/use.txt]
`;

describe('cache: false outputs', () => {
  it('a missing one makes its step run, saying why (it is never "restored" with only its cached outputs)', async () => {
    const p = project(UNCACHED);
    await ok(p, ['run', 'p.yaml', '--no-track']);
    rmSync(p.path('out/side.txt'));
    const run = await ok(p, ['run', 'p.yaml', '--no-track', '--json']);
    expect(outcomes(run.stdout).gen).toBe('ran');
    expect(reasonsOf(run.stdout, 'gen')).toContain('output-missing');
    expect(readFileSync(p.path('out/side.txt'), 'utf8')).toBe('side');
    expect(Object.values(await status(p)).map((s) => s.state)).toEqual(['fresh', 'fresh']);
  });

  it('are hashed into the lock, so an edit shows in status, in its reader and in status --verify; cache verify finds nothing missing', async () => {
    const p = project(UNCACHED);
    await ok(p, ['run', 'p.yaml', '--no-track']);
    const lock = JSON.parse(readFileSync(p.path('p.lock'), 'utf8')) as {
      experiments: { default: { steps: Record<string, { outputs: { path: string; hash: string; uncached?: boolean }[] }> } };
    };
    expect(lock.experiments.default.steps.gen!.outputs).toContainEqual(
      expect.objectContaining({ path: 'out/side.txt', hash: sha256('side'), uncached: true }),
    );
    expect((await p.cli(['cache', 'verify'])).exitCode).toBe(0);

    writeFileSync(p.path('out/side.txt'), 'SIDE'); // same size
    const states = await status(p);
    expect(states.gen!.state).toBe('stale');
    expect(states.gen!.reasons.map((r) => r.text)).toContain('output modified: out/side.txt');
    expect(states.use!.state).toBe('stale');
    expect(states.use!.reasons.map((r) => r.kind)).toContain('upstream-not-fresh');
    const verify = await p.cli(['status', 'p.yaml', '--verify']);
    expect(verify.exitCode).not.toBe(0);
    expect(verify.stdout + verify.stderr).toContain('out/side.txt');

    const run = await ok(p, ['run', 'p.yaml', '--no-track', '--json']);
    expect(outcomes(run.stdout)).toEqual({ gen: 'ran', use: 'fresh' });
    expect(readFileSync(p.path('out/side.txt'), 'utf8')).toBe('side');
  });
});

const CHAIN = `name: c
steps:
  gen:
    run: [sh, -c, 'mkdir -p out; printf gen > out/gen.txt']
    outs: [out/gen.txt]
  use:
    run: [sh, -c, 'cat out/gen.txt > out/use.txt']
    deps: [out/gen.txt]
    outs: [out/use.txt]
`;

describe('a step is never fresh while an upstream it reads is not', () => {
  it('an upstream output edited by hand makes the reader stale, naming the upstream; the run restores both', async () => {
    const p = project(CHAIN);
    await ok(p, ['run', 'p.yaml', '--no-track']);
    writeFileSync(p.path('out/gen.txt'), 'edited');
    const states = await status(p);
    expect(states.gen!.state).toBe('restore');
    expect(states.use!.state).toBe('stale');
    expect(states.use!.reasons.map((r) => r.text)).toEqual(['upstream not fresh: gen (to be restored: output modified: out/gen.txt)']);
    const run = await ok(p, ['run', 'p.yaml', '--no-track', '--json']);
    expect(outcomes(run.stdout)).toEqual({ gen: 'restored', use: 'fresh' });
    expect(readFileSync(p.path('out/use.txt'), 'utf8')).toBe('gen');
    expect(Object.values(await status(p)).map((s) => s.state)).toEqual(['fresh', 'fresh']);
  });

  it('a reader two steps below an always-running upstream that changed its bytes runs in the same run', async () => {
    const p = project(`name: t
steps:
  noise:
    run: [sh, -c, 'mkdir -p out; head -c 32 /dev/urandom > out/noise.bin']
    outs: [out/noise.bin]
    cache: false
  mid:
    run: [sh, -c, 'sha256sum out/noise.bin > out/mid.txt']
    deps: [out/noise.bin]
    outs: [out/mid.txt]
  end:
    run: [sh, -c, 'cat out/mid.txt > out/end.txt']
    deps: [out/mid.txt]
    outs: [out/end.txt]
`);
    await ok(p, ['run', 'p.yaml', '--no-track']);
    const run = await ok(p, ['run', 'p.yaml', '--no-track', '--json']);
    expect(outcomes(run.stdout)).toEqual({ noise: 'ran', mid: 'ran', end: 'ran' });
    expect(readFileSync(p.path('out/end.txt'), 'utf8')).toBe(readFileSync(p.path('out/mid.txt'), 'utf8'));
    const states = await status(p);
    expect([states.mid!.state, states.end!.state]).toEqual(['fresh', 'fresh']);
  });
});
