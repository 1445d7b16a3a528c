import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cliProjects, outcomes, type TempProject } from '../rig/project.js';

const newProject = cliProjects();

const PIPELINE = `steps:
  make:
    run: [node, -e, "require('fs').mkdirSync('out/tree', {recursive: true}); require('fs').writeFileSync('out/a.txt', 'the original bytes\\\\n'); require('fs').writeFileSync('out/tree/b.txt', 'tree file\\\\n')"]
    outs: [out/a.txt, out/tree]
  use:
    needs: [make]
    run: [node, -e, "require('fs').writeFileSync('out/c.txt', require('fs').readFileSync('out/a.txt', 'utf8').toUpperCase())"]
    deps: [out/a.txt]
    outs: [out/c.txt]
`;

function project(): TempProject {
  const p = newProject();
  p.write('p.yaml', PIPELINE);
  return p;
}

function blobPath(p: TempProject, bytes: string): string {
  const hash = createHash('sha256').update(bytes).digest('hex');
  return p.path(`.blu/cache/cas/sha256/${hash.slice(0, 2)}/${hash.slice(2)}`);
}

/** Flips one bit of one byte in place (blobs are read-only; root or not, chmod first). */
function corruptOneByte(file: string): void {
  chmodSync(file, 0o644);
  const bytes = readFileSync(file);
  bytes[4] = bytes[4]! ^ 0x01;
  writeFileSync(file, bytes);
  chmodSync(file, 0o444);
}

interface QueuedEvent {
  type: string;
  stepId?: string;
  reasons?: { kind: string }[];
}

function reasonsOf(stdout: string, stepId: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as QueuedEvent)
    .filter((e) => e.type === 'step-queued' && e.stepId === stepId)
    .flatMap((e) => (e.reasons ?? []).map((r) => r.kind));
}

describe('restores verify what they copy', () => {
  it('a corrupted blob is never restored: the entry is evicted and the step reruns with "cache entry corrupt"', async () => {
    const p = project();
    expect((await p.cli(['run', 'p.yaml', '--no-track'])).exitCode).toBe(0);
    const blob = blobPath(p, 'the original bytes\n');
    expect(existsSync(blob)).toBe(true);
    corruptOneByte(blob);
    rmSync(p.path('out/a.txt'));

    const again = await p.cli(['run', 'p.yaml', '--no-track', '--json']);
    expect(again.exitCode).toBe(0);
    expect(outcomes(again.stdout)).toEqual({ make: 'ran', use: 'fresh' });
    expect(reasonsOf(again.stdout, 'make')).toContain('cache-corrupt');
    expect(readFileSync(p.path('out/a.txt'), 'utf8')).toBe('the original bytes\n');
    // The rerun stored the right bytes again under the same name.
    expect(readFileSync(blob, 'utf8')).toBe('the original bytes\n');

    const plain = await p.cli(['run', 'p.yaml', '--no-track']);
    expect(plain.exitCode).toBe(0);
  });

  it('a corrupted file inside a directory output leaves the old directory untouched and reruns the step', async () => {
    const p = project();
    expect((await p.cli(['run', 'p.yaml', '--no-track'])).exitCode).toBe(0);
    corruptOneByte(blobPath(p, 'tree file\n'));
    rmSync(p.path('out/tree'), { recursive: true });

    const again = await p.cli(['run', 'p.yaml', '--no-track']);
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toContain('cache entry corrupt');
    expect(readFileSync(p.path('out/tree/b.txt'), 'utf8')).toBe('tree file\n');
  });
});

describe('blu-pipe cache verify', () => {
  it('finds a corrupt blob and the entry needing it (exit 1, nothing removed); --repair removes both (exit 0)', async () => {
    const p = project();
    expect((await p.cli(['run', 'p.yaml', '--no-track'])).exitCode).toBe(0);
    const sound = await p.cli(['cache', 'verify']);
    expect(sound.exitCode).toBe(0);
    expect(sound.stdout).toMatch(/checked \d+ blobs .* and 2 cache entries .*: all sound/);

    const blob = blobPath(p, 'tree file\n');
    corruptOneByte(blob);
    const found = await p.cli(['cache', 'verify']);
    expect(found.exitCode).toBe(1);
    expect(found.stdout).toContain(`found corrupt blob ${blob.split('/').slice(-2).join('')}`);
    expect(found.stdout).toMatch(/found cache entry [0-9a-f]{64} \(step make: the blob of out\/tree\/b.txt is missing or corrupt\)/);
    expect(found.stdout).toContain('nothing was changed');
    expect(existsSync(blob)).toBe(true);

    const repaired = await p.cli(['cache', 'verify', '--repair', '--json']);
    expect(repaired.exitCode).toBe(0);
    const report = JSON.parse(repaired.stdout) as { repaired: boolean; problems: { kind: string }[] };
    expect(report.repaired).toBe(true);
    expect(report.problems.map((x) => x.kind)).toEqual(['corrupt-blob', 'broken-entry']);
    expect(existsSync(blob)).toBe(false);
    expect((await p.cli(['cache', 'verify'])).exitCode).toBe(0);

    rmSync(p.path('out/tree'), { recursive: true });
    expect((await p.cli(['status', 'p.yaml'])).stdout).toMatch(/stale +make +its cache entry is gone/);
    const rerun = await p.cli(['run', 'p.yaml', '--no-track', '--json']);
    expect(outcomes(rerun.stdout)).toEqual({ make: 'ran', use: 'fresh' });
    expect(readFileSync(p.path('out/tree/b.txt'), 'utf8')).toBe('tree file\n');
  });

  it('--help prints usage and exits 0; a wrong subcommand is a usage error', async () => {
    const p = project();
    const help = await p.cli(['cache', '--help']);
    expect([help.exitCode, help.stdout]).toEqual([0, expect.stringContaining('usage: blu-pipe cache verify')]);
    expect((await p.cli(['cache', 'check'])).exitCode).toBe(2);
  });
});
