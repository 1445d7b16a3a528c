/**
 * A real full filesystem: each test mounts a 2 MiB tmpfs as the project (root is needed to mount;
 * CI runs as root). Where mounting is impossible the tests are skipped, and say so.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, TempProject } from '../rig/project.js';

function mountTmpfs(dir: string): boolean {
  return spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'ignore' }).status === 0;
}

const probe = new TempProject('blu-full-probe-');
const canMount = mountTmpfs(probe.dir);
if (canMount) spawnSync('umount', [probe.dir]);
probe.dispose();
if (!canMount) console.warn('[full-disk tests skipped] cannot mount a tmpfs here (needs root, or CAP_SYS_ADMIN in a container)');

const mounted: TempProject[] = [];
afterEach(() => {
  for (const p of mounted.splice(0)) {
    spawnSync('umount', [p.dir]);
    p.dispose();
  }
});

function fullDiskProject(pipeline: string): TempProject {
  const p = new TempProject('blu-full-');
  if (!mountTmpfs(p.dir)) throw new Error(`could not mount a tmpfs on ${p.dir}`);
  mounted.push(p);
  mkdirSync(p.path('.blu'));
  p.write('p.yaml', pipeline);
  return p;
}

/** Files under a cache directory (the store must hold no half-written entry after a failure). */
function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)));
}

describe.skipIf(!canMount)('a full disk (real 2 MiB tmpfs)', () => {
  it('an output too big for the space left names the step, the output and the space needed; exit 1; no cache entry', async () => {
    expect(existsSync(CLI)).toBe(true);
    const p = fullDiskProject(`steps:
  big:
    run: [node, -e, "require('fs').writeFileSync('big.bin', Buffer.alloc(1200000, 1))"]
    outs: [big.bin]
`);
    const r = await p.cli(['run', 'p.yaml', '--no-track']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).not.toContain('internal error');
    expect(r.stderr).toMatch(
      /✗ big: step 'big': no space left on the device holding \S+\/\.blu\/cache while storing its output 'big\.bin' in the cache \(needs 1\.1 MiB, [0-9.]+ KiB free\)/,
    );
    expect(files(p.path('.blu/cache/ac'))).toEqual([]);
    expect(files(p.path('.blu/cache/cas'))).toEqual([]); // the temp copy was removed
    expect((await p.cli(['cache', 'verify'])).exitCode).toBe(0);
  });

  it('a disk the step filled up: the cache entry cannot be written, and the message says so; the store stays consistent', async () => {
    const p = fullDiskProject(`steps:
  fill:
    run: [node, -e, "const fs = require('fs'); fs.writeFileSync('empty.txt', ''); const fd = fs.openSync('filler', 'w'); try { for (;;) fs.writeSync(fd, Buffer.alloc(4096, 1)); } catch {}"]
    outs: [empty.txt]
`);
    const r = await p.cli(['run', 'p.yaml', '--no-track']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).not.toContain('internal error');
    expect(r.stderr).toMatch(
      /✗ fill: step 'fill': no space left on the device holding \S+\/\.blu\/cache\/ac\/\S+\.json while recording its cache entry .*\(needs \d+ B, 0 B free\)/,
    );
    expect(files(p.path('.blu/cache/ac'))).toEqual([]);
    const verify = await p.cli(['cache', 'verify']);
    expect([verify.exitCode, verify.stdout]).toEqual([0, expect.stringContaining('all sound')]);
  });

  it('a restore that does not fit says how much it needs; once space is freed the same run restores', async () => {
    const p = fullDiskProject(`steps:
  mid:
    run: [node, -e, "require('fs').writeFileSync('mid.bin', Buffer.alloc(600000, 2))"]
    outs: [mid.bin]
`);
    expect((await p.cli(['run', 'p.yaml', '--no-track'])).exitCode).toBe(0);
    rmSync(p.path('mid.bin'));
    writeFileSync(p.path('filler'), Buffer.alloc(0));
    try {
      for (;;) appendFileSync(p.path('filler'), Buffer.alloc(4096, 1));
    } catch {
      // the disk is full now; leave room for the run's own small files, not for the output
    }
    truncateSync(p.path('filler'), statSync(p.path('filler')).size - 128 * 1024);
    const r = await p.cli(['run', 'p.yaml', '--no-track']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).not.toContain('internal error');
    expect(r.stderr).toMatch(
      /✗ mid: step 'mid': no space left on the device holding \S+ while restoring its outputs from the cache \(needs 585\.9 KiB, [0-9.]+ KiB free\)/,
    );
    expect(existsSync(p.path('mid.bin'))).toBe(false); // no partial file in the workspace
    rmSync(p.path('filler'));
    const again = await p.cli(['run', 'p.yaml', '--no-track']);
    expect([again.exitCode, again.stderr]).toEqual([0, expect.stringContaining('✓ mid: restored from the cache')]);
  });
});
