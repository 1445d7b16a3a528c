import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { chmod, mkdir, readFile, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../../src/artifacts/canonical.js';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { StatCache } from '../../src/artifacts/stat-cache.js';
import { ageBy, removeTempDirs, tempDir } from './helpers.js';

afterEach(removeTempDirs);

async function openCache(): Promise<{ cache: StatCache; file: string; dir: string }> {
  const dir = await tempDir('stat');
  const file = join(dir, 'cache', 'state', 'hashes.json');
  return { cache: await StatCache.open(file), file, dir };
}

describe('StatCache.hashFile / hashPath on files', () => {
  it('returns the content sha256, the size and the exec bit', async () => {
    const { cache, dir } = await openCache();
    const script = join(dir, 'run.sh');
    await writeFile(script, '#!/bin/sh\necho hi\n');
    await chmod(script, 0o755);
    const h = await cache.hashFile(script);
    expect(h).toEqual({ hash: sha256Hex('#!/bin/sh\necho hi\n'), size: 18, executable: true });
    expect(await cache.hashPath(script)).toEqual({ type: 'file', hash: h.hash, size: 18 });
  });

  it('reports missing paths without throwing', async () => {
    const { cache, dir } = await openCache();
    expect(await cache.hashPath(join(dir, 'nope'))).toEqual({ type: 'missing' });
    expect(await cache.hashPath(join(dir, 'nope', 'deeper'))).toEqual({ type: 'missing' });
    await writeFile(join(dir, 'plain'), 'x');
    expect(await cache.hashPath(join(dir, 'plain', 'child'))).toEqual({ type: 'missing' });
    await symlink(join(dir, 'dangling-target'), join(dir, 'dangling'));
    expect(await cache.hashPath(join(dir, 'dangling'))).toEqual({ type: 'missing' });
  });

  it('reuses the hash of an unchanged, non-racy file without reading it', async () => {
    const { cache, dir } = await openCache();
    const f = join(dir, 'data.bin');
    await writeFile(f, 'version one');
    await ageBy(f, 10); // older than the racy window when recorded
    const first = await cache.hashPath(f);
    expect(cache.filesRead).toBe(1);
    const second = await cache.hashPath(f);
    expect(second).toEqual(first);
    expect(cache.filesRead).toBe(1);
  });

  it('does not trust an entry recorded within the racy window of the mtime', async () => {
    const { cache, dir } = await openCache();
    const f = join(dir, 'fresh.txt');
    await writeFile(f, 'just written');
    await cache.hashPath(f);
    await cache.hashPath(f);
    expect(cache.filesRead).toBe(2);
  });

  it('sees a same-size rewrite even when the mtime is put back (ctime is in the stamp)', async () => {
    const { cache, dir } = await openCache();
    const f = join(dir, 'same-size.txt');
    await writeFile(f, 'AAAA');
    await ageBy(f, 10);
    const before = await stat(f);
    const old = await cache.hashPath(f);
    await writeFile(f, 'BBBB');
    await utimes(f, before.atime, before.mtime);
    const now = await cache.hashPath(f);
    expect(old).toMatchObject({ hash: sha256Hex('AAAA') });
    expect(now).toMatchObject({ hash: sha256Hex('BBBB') });
    expect(cache.filesRead).toBe(2);
  });

  it('persists entries in one file and reloads them without rereading', async () => {
    const { cache, file, dir } = await openCache();
    const f = join(dir, 'kept.txt');
    await writeFile(f, 'persist me');
    await ageBy(f, 10);
    const h = await cache.hashPath(f);
    await cache.save();
    const reopened = await StatCache.open(file);
    expect(reopened.size).toBe(1);
    expect(await reopened.hashPath(f)).toEqual(h);
    expect(reopened.filesRead).toBe(0);
  });

  it('drops entries unused by this instance and recorded long ago when saving', async () => {
    const { file, dir } = await openCache();
    const longAgo = Date.now() - 40 * 24 * 3600 * 1000;
    const row = (path: string, recordedAt: number): unknown[] => [path, 'stamp', 'a'.repeat(64), 1, 0, recordedAt - 5000, recordedAt];
    await mkdir(join(dir, 'cache', 'state'), { recursive: true });
    const rows = [row('/gone/old', longAgo), row('/gone/recent', Date.now() - 1000)];
    await writeFile(file, JSON.stringify({ version: 1, rows }));
    const cache = await StatCache.open(file);
    expect(cache.size).toBe(2);
    await writeFile(join(dir, 'new.txt'), 'new');
    await cache.hashPath(join(dir, 'new.txt'));
    await cache.save();
    const saved = JSON.parse(await readFile(file, 'utf8')) as { rows: unknown[][] };
    expect(saved.rows.map((r) => r[0]).sort()).toEqual(['/gone/recent', join(dir, 'new.txt')].sort());
  });

  it('treats a corrupt cache file as empty', async () => {
    const { file, dir } = await openCache();
    await mkdir(join(dir, 'cache', 'state'), { recursive: true });
    await writeFile(file, '{"version":1,"rows":[["/x","st');
    const cache = await StatCache.open(file);
    expect(cache.size).toBe(0);
  });

  it('only writes when dirty', async () => {
    const { cache, file } = await openCache();
    await cache.save();
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
  });
});

describe('StatCache fed by ContentStore.putPath', () => {
  it('remembers what the store read, so the next check of the outputs reads nothing', async () => {
    const { cache, dir } = await openCache();
    await mkdir(join(dir, 'out'));
    await writeFile(join(dir, 'out', 'model.bin'), 'weights');
    await writeFile(join(dir, 'out', 'log.txt'), 'epoch 1');
    await writeFile(join(dir, 'single.txt'), 'one');
    for (const f of ['out/model.bin', 'out/log.txt', 'single.txt']) await ageBy(join(dir, f), 10);
    const store = new ContentStore(join(dir, 'cache'));
    const tree = await store.putPath(dir, 'out', { statCache: cache });
    const file = await store.putPath(dir, 'single.txt', { statCache: cache });
    expect(cache.filesRead).toBe(3);
    expect(await cache.hashPath(join(dir, 'out'))).toEqual({ type: 'dir', hash: tree.hash, size: tree.size });
    expect(await cache.hashPath(join(dir, 'single.txt'))).toEqual({ type: 'file', hash: file.hash, size: 3 });
    expect(cache.filesRead).toBe(3);
  });
});

describe('StatCache.hashPath on directories', () => {
  async function fill(root: string, order: string[]): Promise<void> {
    for (const rel of order) {
      await mkdir(join(root, rel, '..'), { recursive: true });
      await writeFile(join(root, rel), `content of ${rel}`);
    }
  }

  it('gives the same manifest hash whatever the creation order, equal to ContentStore', async () => {
    const { cache, dir } = await openCache();
    const files = ['b.txt', 'a/z.txt', 'a/b/c.txt', 'a.txt'];
    await fill(join(dir, 'one'), files);
    await fill(join(dir, 'two'), [...files].reverse());
    const one = await cache.hashPath(join(dir, 'one'));
    const two = await cache.hashPath(join(dir, 'two'));
    expect(one.type).toBe('dir');
    expect(two).toEqual(one);
    const stored = await new ContentStore(join(dir, 'cache')).putPath(dir, 'one');
    expect(one).toEqual({ type: 'dir', hash: stored.hash, size: stored.size });
  });

  it('changes when an exec bit changes', async () => {
    const { cache, dir } = await openCache();
    await fill(join(dir, 'd'), ['tool']);
    const before = await cache.hashPath(join(dir, 'd'));
    await chmod(join(dir, 'd', 'tool'), 0o755);
    expect((await cache.hashPath(join(dir, 'd'))).type).toBe('dir');
    expect(await cache.hashPath(join(dir, 'd'))).not.toEqual(before);
  });

  it('a directory another process removes and rewrites while it is hashed is a directory or missing, never an error', async () => {
    // A concurrent run restoring a directory output replaces it under the planner's walk (found by
    // fuzz:runtime: "ENOENT ... lstat out/s8/d1" crashed a run). A child process churns the tree.
    const { dir } = await openCache();
    const tree = join(dir, 'churn');
    const churn = `const fs = require('node:fs'); const end = Date.now() + 1500;
      while (Date.now() < end) { fs.rmSync(${JSON.stringify(tree)}, { recursive: true, force: true });
        fs.mkdirSync(${JSON.stringify(join(tree, 'sub'))}, { recursive: true });
        for (let i = 0; i < 200; i++) fs.writeFileSync(${JSON.stringify(tree)} + '/sub/f' + i, String(i)); }`;
    const child = spawn(process.execPath, ['-e', churn], { stdio: 'ignore' });
    const exited = new Promise((done) => child.on('exit', done));
    const seen = new Set<string>();
    let running = true;
    void exited.then(() => (running = false));
    while (running) {
      const cache = await StatCache.open(join(dir, 'cache', 'hashes.json'));
      seen.add((await cache.hashPath(tree)).type);
    }
    await exited;
    expect([...seen].every((type) => type === 'dir' || type === 'missing')).toBe(true);
    expect(seen.has('dir')).toBe(true);
  });

  it('hashes an empty directory as the empty manifest', async () => {
    const { cache, dir } = await openCache();
    await mkdir(join(dir, 'empty'));
    expect(await cache.hashPath(join(dir, 'empty'))).toEqual({ type: 'dir', hash: sha256Hex('[]'), size: 0 });
  });

  it('follows symlinks to their target content', async () => {
    const { cache, dir } = await openCache();
    await fill(join(dir, 'real'), ['x.txt']);
    await mkdir(join(dir, 'linked'), { recursive: true });
    await symlink(join(dir, 'real', 'x.txt'), join(dir, 'linked', 'x.txt'));
    expect(await cache.hashPath(join(dir, 'linked'))).toEqual(await cache.hashPath(join(dir, 'real')));
    expect(await readFile(join(dir, 'linked', 'x.txt'), 'utf8')).toBe('content of x.txt');
  });
});
