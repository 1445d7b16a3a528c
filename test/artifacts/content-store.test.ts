import { afterEach, describe, expect, it } from 'vitest';
import { chmod, lstat, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sha256Hex } from '../../src/artifacts/canonical.js';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { ArtifactError } from '../../src/artifacts/errors.js';
import { StatCache } from '../../src/artifacts/stat-cache.js';
import type { Sha256 } from '../../src/artifacts/types.js';
import { removeTempDirs, tempDir } from './helpers.js';

afterEach(removeTempDirs);

interface Fixture {
  store: ContentStore;
  cacheDir: string;
  project: string;
  other: string;
}

async function fixture(): Promise<Fixture> {
  const root = await tempDir('cas');
  const fx = { cacheDir: join(root, 'cache'), project: join(root, 'project'), other: join(root, 'other') };
  await mkdir(fx.project);
  await mkdir(fx.other);
  return { ...fx, store: new ContentStore(fx.cacheDir) };
}

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(join(root, rel, '..'), { recursive: true });
    await writeFile(join(root, rel), content);
  }
}

async function blobCount(store: ContentStore): Promise<number> {
  let n = 0;
  for await (const _ of store.listBlobs()) n++;
  return n;
}

describe('ContentStore.putFile / putPath (files)', () => {
  it('stores a file under cas/sha256/ab/<rest>, read-only, and dedups identical content', async () => {
    const { store, cacheDir, project } = await fixture();
    await writeTree(project, { 'a.txt': 'same bytes', 'b.txt': 'same bytes' });
    const a = await store.putFile(join(project, 'a.txt'));
    const b = await store.putFile(join(project, 'b.txt'));
    expect(a).toEqual({ hash: sha256Hex('same bytes'), size: 10, executable: false });
    expect(b.hash).toBe(a.hash);
    expect(store.blobPath(a.hash)).toBe(join(cacheDir, 'cas', 'sha256', a.hash.slice(0, 2), a.hash.slice(2)));
    expect(await readFile(store.blobPath(a.hash), 'utf8')).toBe('same bytes');
    expect((await stat(store.blobPath(a.hash))).mode & 0o222).toBe(0);
    expect(await blobCount(store)).toBe(1);
    expect(await readdir(store.tempDir)).toEqual([]); // no temp file left behind
  });

  it('round-trips a file with its exec bit', async () => {
    const { store, project, other } = await fixture();
    await writeTree(project, { 'bin/tool.sh': '#!/bin/sh\nexit 0\n' });
    await chmod(join(project, 'bin/tool.sh'), 0o755);
    const out = await store.putPath(project, 'bin/tool.sh');
    expect(out).toMatchObject({ path: 'bin/tool.sh', type: 'file', size: 17, executable: true });
    await store.restore(other, out);
    expect(await readFile(join(other, 'bin/tool.sh'), 'utf8')).toBe('#!/bin/sh\nexit 0\n');
    expect((await stat(join(other, 'bin/tool.sh'))).mode & 0o777).toBe(0o755);
  });

  it('refuses paths outside the project and reports missing ones', async () => {
    const { store, project } = await fixture();
    const outside = store.putPath(project, '../escape.txt');
    await expect(outside).rejects.toBeInstanceOf(ArtifactError);
    await expect(store.putPath(project, '../escape.txt')).rejects.toMatchObject({ code: 'outside-project' });
    await expect(store.putPath(project, 'missing.txt')).rejects.toMatchObject({ code: 'missing-path' });
  });

  it('restores a copy, never a link the user could corrupt the cache through', async () => {
    const { store, project, other } = await fixture();
    await writeTree(project, { 'model.bin': 'weights' });
    const out = await store.putPath(project, 'model.bin');
    await store.restore(other, out);
    await writeFile(join(other, 'model.bin'), 'tampered');
    expect(await readFile(store.blobPath(out.hash), 'utf8')).toBe('weights');
    expect((await stat(store.blobPath(out.hash))).nlink).toBe(1);
    expect(await store.verify(out)).toBe(true);
  });
});

describe('ContentStore trees', () => {
  const files = { 'z.txt': 'z', 'a/b/c.bin': 'deep', 'a/x.txt': 'x', 'empty.txt': '' };

  it('round-trips a directory: same manifest, same bytes, exec bits kept', async () => {
    const { store, project, other, cacheDir } = await fixture();
    await writeTree(join(project, 'out'), files);
    await chmod(join(project, 'out/a/x.txt'), 0o755);
    const out = await store.putPath(project, 'out');
    expect(out).toMatchObject({ path: 'out', type: 'dir', size: 6 });
    const entries = await store.readTree(out.hash);
    expect(entries.map((e) => e.path)).toEqual(['a/b/c.bin', 'a/x.txt', 'empty.txt', 'z.txt']);
    await store.restore(other, out);
    const cache = await StatCache.open(join(cacheDir, 'state', 'hashes.json'));
    expect(await cache.hashPath(join(other, 'out'))).toEqual(await cache.hashPath(join(project, 'out')));
    expect((await stat(join(other, 'out/a/x.txt'))).mode & 0o111).not.toBe(0);
    expect((await stat(join(other, 'out/z.txt'))).mode & 0o111).toBe(0);
  });

  it('restoring over an existing directory replaces it entirely', async () => {
    const { store, project, other } = await fixture();
    await writeTree(join(project, 'out'), files);
    const out = await store.putPath(project, 'out');
    await writeTree(join(other, 'out'), { 'stale.txt': 'old run', 'z.txt': 'old z' });
    await store.restore(other, out);
    expect(existsSync(join(other, 'out/stale.txt'))).toBe(false);
    expect(await readFile(join(other, 'out/z.txt'), 'utf8')).toBe('z');
    expect((await readdir(other)).sort()).toEqual(['out']); // no temp or trash siblings left
  });

  it('stores an empty directory as the empty manifest and restores it', async () => {
    const { store, project, other } = await fixture();
    await mkdir(join(project, 'nothing'));
    const out = await store.putPath(project, 'nothing');
    expect(out).toEqual({ path: 'nothing', type: 'dir', hash: sha256Hex('[]'), size: 0 });
    await store.restore(other, out);
    expect(await readdir(join(other, 'nothing'))).toEqual([]);
  });

  it('stores symlink targets as regular files', async () => {
    const { store, project, other } = await fixture();
    await writeTree(project, { 'real.txt': 'target content' });
    await mkdir(join(project, 'out'));
    await symlink(join(project, 'real.txt'), join(project, 'out', 'link.txt'));
    const out = await store.putPath(project, 'out');
    await store.restore(other, out);
    expect((await lstat(join(other, 'out/link.txt'))).isFile()).toBe(true);
    expect(await readFile(join(other, 'out/link.txt'), 'utf8')).toBe('target content');
  });

  it('verify fails and restore refuses (leaving the target alone) when a blob is missing', async () => {
    const { store, project, other } = await fixture();
    await writeTree(join(project, 'out'), files);
    const out = await store.putPath(project, 'out');
    await writeTree(join(other, 'out'), { 'keep.txt': 'untouched' });
    expect(await store.verify(out)).toBe(true);
    const freed = await store.remove(sha256Hex('deep') as Sha256);
    expect(freed).toBe(4);
    expect(await store.verify(out)).toBe(false);
    await expect(store.restore(other, out)).rejects.toMatchObject({ code: 'missing-blob' });
    expect(await readFile(join(other, 'out/keep.txt'), 'utf8')).toBe('untouched');
    expect(await store.remove(sha256Hex('deep') as Sha256)).toBe(0);
  });

  it('rejects a manifest blob that is not a manifest', async () => {
    const { store } = await fixture();
    const hash = await store.putBytes('[{"path":"../../etc/passwd","hash":"00","size":1,"executable":false}]');
    await expect(store.readTree(hash)).rejects.toMatchObject({ code: 'corrupt-manifest' });
  });
});

describe('ContentStore.restore atomicity', () => {
  it('a concurrent reader only ever sees the old or the new complete file', async () => {
    const { store, project, other } = await fixture();
    const size = 2 << 20;
    const versions = [Buffer.alloc(size, 'a'), Buffer.alloc(size, 'b')];
    const outs = [];
    for (const [i, bytes] of versions.entries()) {
      await writeFile(join(project, `v${i}.bin`), bytes);
      const out = await store.putPath(project, `v${i}.bin`);
      outs.push({ ...out, path: 'target.bin' });
    }
    await store.restore(other, outs[0]!);
    let stop = false;
    const seen: string[] = [];
    const reader = (async () => {
      while (!stop) {
        const bytes = await readFile(join(other, 'target.bin'));
        seen.push(bytes.equals(versions[0]!) ? 'old' : bytes.equals(versions[1]!) ? 'new' : 'torn');
      }
    })();
    for (let i = 0; i < 10; i++) await store.restore(other, outs[i % 2]!);
    stop = true;
    await reader;
    expect(seen).not.toContain('torn');
    expect(seen.length).toBeGreaterThan(0);
    expect(await readdir(other)).toEqual(['target.bin']);
  });
});

const dataDir = process.env.BLU_DATA_DIR ?? resolve(process.cwd(), '../shared/data/bbbc030');
const haveData = existsSync(join(dataDir, 'validation', 'images'));
if (!haveData) console.warn(`skipping BBBC030 round trip: no dataset at ${dataDir} (set BLU_DATA_DIR)`);

describe.skipIf(!haveData)('ContentStore on the real BBBC030 validation images', () => {
  it('stores and restores the 20 DIC images bit-identically', async () => {
    const { store, project, other, cacheDir } = await fixture();
    await symlink(join(dataDir, 'validation', 'images'), join(project, 'images'));
    const out = await store.putPath(project, 'images');
    const entries = await store.readTree(out.hash);
    expect(entries).toHaveLength(20);
    expect(entries.every((e) => e.path.endsWith('.png'))).toBe(true);
    await store.restore(other, out);
    const cache = await StatCache.open(join(cacheDir, 'state', 'hashes.json'));
    const original = await cache.hashPath(join(dataDir, 'validation', 'images'));
    expect(await cache.hashPath(join(other, 'images'))).toEqual(original);
    expect(original).toMatchObject({ type: 'dir', hash: out.hash, size: out.size });
    await rm(join(other, 'images'), { recursive: true });
  });
});

describe('ContentStore.restore verifies what it copies', () => {
  async function corrupt(store: ContentStore, hash: Sha256): Promise<void> {
    const file = store.blobPath(hash);
    await chmod(file, 0o644);
    const bytes = await readFile(file);
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(file, bytes);
  }

  for (const [label, size] of [
    ['small (verified in memory)', 1000],
    ['big (verified while streaming)', 9 << 20],
  ] as const) {
    it(`a ${label} corrupt blob is evicted and the existing target is left untouched`, async () => {
      const { store, project } = await fixture();
      await writeFile(join(project, 'f.bin'), Buffer.alloc(size, 7));
      const stored = await store.putPath(project, 'f.bin');
      await corrupt(store, stored.hash);
      await writeFile(join(project, 'f.bin'), 'what the user has now');
      const failure = await store.restore(project, stored).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failure).toBeInstanceOf(ArtifactError);
      expect((failure as ArtifactError).code).toBe('corrupt-blob');
      expect(await readFile(join(project, 'f.bin'), 'utf8')).toBe('what the user has now');
      expect(await store.has(stored.hash)).toBe(false);
      expect((await readdir(project)).sort()).toEqual(['f.bin']); // no temp file left behind
    });
  }

  it('a corrupt tree manifest is evicted too', async () => {
    const { store, project } = await fixture();
    await writeTree(join(project, 'd'), { 'a.txt': 'a', 'b/c.txt': 'c' });
    const stored = await store.putPath(project, 'd');
    await corrupt(store, stored.hash);
    await rm(join(project, 'd'), { recursive: true });
    await expect(store.restore(project, stored)).rejects.toMatchObject({ code: 'corrupt-blob' });
    expect(existsSync(join(project, 'd'))).toBe(false);
    expect(await store.has(stored.hash)).toBe(false);
  });
});
