import { afterEach, describe, expect, it } from 'vitest';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ActionCache } from '../../src/artifacts/action-cache.js';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { collectGarbage } from '../../src/artifacts/gc.js';
import type { Sha256, StepKey, StoredOutput } from '../../src/artifacts/types.js';
import { makeEntry } from './entries.js';
import { ageBy, removeTempDirs, tempDir } from './helpers.js';

afterEach(removeTempDirs);

interface World {
  cacheDir: string;
  store: ContentStore;
  ac: ActionCache;
  keyA: StepKey;
  keyB: StepKey;
  outA: StoredOutput;
  outB: StoredOutput;
  logHash: Sha256;
  orphan: Sha256;
}

/** Step A: one file + a log. Step B: a directory of two files. Plus one orphan blob. */
async function world(): Promise<World> {
  const root = await tempDir('gc');
  const cacheDir = join(root, 'cache');
  const project = join(root, 'project');
  await mkdir(join(project, 'dirB'), { recursive: true });
  await writeFile(join(project, 'a.txt'), 'A'.repeat(100));
  await writeFile(join(project, 'dirB', 'one.bin'), 'B'.repeat(1000));
  await writeFile(join(project, 'dirB', 'two.bin'), 'b'.repeat(500));
  const store = new ContentStore(cacheDir);
  const ac = new ActionCache(cacheDir);
  const outA = await store.putPath(project, 'a.txt');
  const outB = await store.putPath(project, 'dirB');
  const logHash = await store.putBytes('log of A\n');
  const orphan = await store.putBytes('nobody references me');
  const entryA = makeEntry('A', [outA], { logHash });
  const entryB = makeEntry('B', [outB]);
  await ac.put(entryA);
  await ac.put(entryB);
  for await (const blob of store.listBlobs()) await ageBy(store.blobPath(blob.hash), 7200);
  return { cacheDir, store, ac, keyA: entryA.key, keyB: entryB.key, outA, outB, logHash, orphan };
}

const manifestBytes = async (w: World): Promise<number> => {
  for await (const blob of w.store.listBlobs()) if (blob.hash === w.outB.hash) return blob.size;
  throw new Error('manifest missing');
};

describe('collectGarbage', () => {
  it('dry run reports what would go and deletes nothing', async () => {
    const w = await world();
    const report = await collectGarbage(w.cacheDir, { keys: new Set([w.keyA]), hashes: new Set() }, { dryRun: true });
    const expectedBytes = 1000 + 500 + (await manifestBytes(w)) + 'nobody references me'.length;
    expect(report).toEqual({ removedEntries: 1, removedBlobs: 4, freedBytes: expectedBytes, keptBlobs: 2 });
    expect(await w.ac.get(w.keyB)).toBeDefined();
    expect(await w.store.verify(w.outB)).toBe(true);
  });

  it('removes unkept entries and unreferenced blobs, keeping outputs and logs of kept ones', async () => {
    const w = await world();
    const expectedBytes = 1000 + 500 + (await manifestBytes(w)) + 'nobody references me'.length;
    const report = await collectGarbage(w.cacheDir, { keys: new Set([w.keyA]), hashes: new Set() }, { dryRun: false });
    expect(report).toEqual({ removedEntries: 1, removedBlobs: 4, freedBytes: expectedBytes, keptBlobs: 2 });
    expect(await w.ac.get(w.keyB)).toBeUndefined();
    expect(await w.ac.get(w.keyA)).toBeDefined();
    expect(await w.store.verify(w.outA)).toBe(true);
    expect(await w.store.has(w.logHash)).toBe(true);
    expect(await w.store.has(w.outB.hash)).toBe(false);
    const again = await collectGarbage(w.cacheDir, { keys: new Set([w.keyA]), hashes: new Set() }, { dryRun: false });
    expect(again).toEqual({ removedEntries: 0, removedBlobs: 0, freedBytes: 0, keptBlobs: 2 });
  });

  it('keeps the files of a tree whose manifest hash is in keep.hashes', async () => {
    const w = await world();
    const report = await collectGarbage(w.cacheDir, { keys: new Set(), hashes: new Set([w.outB.hash]) }, { dryRun: false });
    expect(report.removedEntries).toBe(2);
    expect(await w.store.verify(w.outB)).toBe(true);
    expect(await w.store.has(w.outA.hash)).toBe(false);
    expect(report.keptBlobs).toBe(3);
  });

  it('spares blobs and temp files younger than the grace period', async () => {
    const w = await world();
    const young = await w.store.putBytes('put by a step that is still running');
    await mkdir(w.store.tempDir, { recursive: true });
    await writeFile(join(w.store.tempDir, 'put-old'), 'x'.repeat(70));
    await writeFile(join(w.store.tempDir, 'put-young'), 'y'.repeat(30));
    await ageBy(join(w.store.tempDir, 'put-old'), 7200);
    const acDir = join(w.cacheDir, 'ac', w.keyA.slice(0, 2));
    await writeFile(join(acDir, `.${w.keyA}.json.blu-tmp-dead`), 'z'.repeat(5)); // torn AC write
    await ageBy(join(acDir, `.${w.keyA}.json.blu-tmp-dead`), 7200);
    const treeBytes = await manifestBytes(w);
    const report = await collectGarbage(w.cacheDir, { keys: new Set(), hashes: new Set() }, { dryRun: false });
    expect(await w.store.has(young)).toBe(true);
    expect(await w.store.has(w.orphan)).toBe(false);
    expect(report.keptBlobs).toBe(1);
    expect(await readdir(w.store.tempDir)).toEqual(['put-young']);
    expect(await readdir(acDir)).toEqual([]); // entry A was not kept; its old temp went too
    const orphanBytes = 'nobody references me'.length;
    const otherBlobs = 100 + 1000 + 500 + 'log of A\n'.length + treeBytes;
    expect(report.freedBytes).toBe(orphanBytes + otherBlobs + 70 + 5);
  });

  it('re-putting an old blob refreshes it so gc spares it', async () => {
    const w = await world();
    await w.store.putBytes('nobody references me');
    await collectGarbage(w.cacheDir, { keys: new Set(), hashes: new Set() }, { dryRun: false });
    expect(await w.store.has(w.orphan)).toBe(true);
  });
});
