import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePair, loadDataset } from '../../../src/ml/data/index.js';
import { dataDir, hasData } from './data-dir.js';

async function writeGray(file: string, width: number, height: number, value: (i: number) => number): Promise<void> {
  const pixels = Buffer.from(Uint8Array.from({ length: width * height }, (_, i) => value(i)));
  await sharp(pixels, { raw: { width, height, channels: 1 } })
    .png()
    .toFile(file);
}

describe.skipIf(!hasData)('real BBBC030 dataset', () => {
  it('loads 20/20/20 samples at half scale with sparse 0/1 masks', async () => {
    const started = performance.now();
    const loaded = await loadDataset(dataDir, { layout: 'split-folders', scale: 0.5 });
    const seconds = (performance.now() - started) / 1000;
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    const { train, validation, test } = loaded.value;
    expect([train.length, validation.length, test.length]).toEqual([20, 20, 20]);
    console.log(`[debug] decoded 60 pairs at scale 0.5 in ${seconds.toFixed(2)} s (${((seconds * 1000) / 60).toFixed(0)} ms/pair)`);
    for (const s of [...train, ...validation, ...test]) {
      expect([s.width, s.height]).toEqual([688, 516]);
      expect(s.mask.every((v) => v === 0 || v === 1)).toBe(true);
      expect(Math.max(...s.image.subarray(0, 5000))).toBeLessThanOrEqual(1);
    }
    const foreground = train.map((s) => s.mask.reduce((a, v) => a + v, 0) / s.mask.length);
    const meanForeground = foreground.reduce((a, b) => a + b, 0) / foreground.length;
    console.log(`[debug] train foreground fraction mean ${(meanForeground * 100).toFixed(2)} %`);
    expect(meanForeground).toBeGreaterThan(0.005);
    expect(meanForeground).toBeLessThan(0.06);
    // A second load comes from the in-memory cache and returns the same arrays.
    const again = await loadDataset(dataDir, { layout: 'split-folders', scale: 0.5 });
    expect(again.ok && again.value.train[0]?.image).toBe(train[0]?.image);
  });

  it('pools train+validation into thesis folds when asked (decoded pairs come from the cache)', async () => {
    const loaded = await loadDataset(dataDir, { layout: 'split-folders', folds: 5, fold: 2, scale: 0.5 });
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect([loaded.value.train.length, loaded.value.validation.length, loaded.value.test.length]).toEqual([32, 8, 20]);
    expect(loaded.value.test.map((s) => s.name)).toEqual(Array.from({ length: 20 }, (_, i) => `cho${41 + i}`));
  });

  it('decodes a full-size pair at 1376×1032', async () => {
    const name = 'cho41.png';
    const started = performance.now();
    const pair = await decodePair('cho41', path.join(dataDir, 'test/images', name), path.join(dataDir, 'test/masks', name));
    console.log(`[debug] full-size pair decoded in ${(performance.now() - started).toFixed(0)} ms`);
    expect(pair.ok).toBe(true);
    if (!pair.ok) return;
    expect([pair.value.width, pair.value.height, pair.value.image.length]).toEqual([1376, 1032, 1376 * 1032]);
  });
});

describe('broken datasets give typed errors with the path', () => {
  let root = '';
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'blu-data-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function makeSplitFolders(dir: string): Promise<void> {
    for (const split of ['train', 'validation', 'test']) {
      await mkdir(path.join(dir, split, 'images'), { recursive: true });
      await mkdir(path.join(dir, split, 'masks'), { recursive: true });
      await writeGray(path.join(dir, split, 'images', 'a.png'), 8, 6, (i) => i);
      await writeGray(path.join(dir, split, 'masks', 'a.png'), 8, 6, (i) => (i % 3 === 0 ? 255 : 0));
    }
  }

  it('loads a tiny valid dataset', async () => {
    const dir = path.join(root, 'ok');
    await makeSplitFolders(dir);
    const loaded = await loadDataset(dir, { layout: 'split-folders' });
    expect(loaded.ok).toBe(true);
    if (loaded.ok) expect(Array.from(loaded.value.train[0]?.mask.subarray(0, 4) ?? [])).toEqual([1, 0, 0, 1]);
  });

  it('never decodes images beyond maxImages', async () => {
    const dir = path.join(root, 'limited');
    await makeSplitFolders(dir);
    for (const sub of ['images', 'masks']) await writeFile(path.join(dir, 'train', sub, 'b.png'), 'not a png');
    expect((await loadDataset(dir, { layout: 'split-folders' })).ok).toBe(false);
    const limited = await loadDataset(dir, { layout: 'split-folders', maxImages: { train: 1 } });
    expect(limited.ok && limited.value.train.map((s) => s.name)).toEqual(['a']);
  });

  it('reports a missing folder', async () => {
    const dir = path.join(root, 'no-test');
    await makeSplitFolders(dir);
    await rm(path.join(dir, 'test', 'masks'), { recursive: true });
    const loaded = await loadDataset(dir, { layout: 'split-folders' });
    expect(loaded).toMatchObject({ ok: false, error: { code: 'missing-folder', path: path.join(dir, 'test', 'masks') } });
  });

  it('reports an image without a mask', async () => {
    const dir = path.join(root, 'orphan');
    await makeSplitFolders(dir);
    await writeGray(path.join(dir, 'train', 'images', 'b.png'), 8, 6, () => 1);
    const loaded = await loadDataset(dir, { layout: 'split-folders' });
    expect(loaded).toMatchObject({ ok: false, error: { code: 'missing-mask', path: path.join(dir, 'train', 'images', 'b.png') } });
  });

  it('reports a size mismatch', async () => {
    const dir = path.join(root, 'mismatch');
    await makeSplitFolders(dir);
    await writeGray(path.join(dir, 'validation', 'masks', 'a.png'), 7, 6, () => 0);
    const loaded = await loadDataset(dir, { layout: 'split-folders' });
    expect(loaded).toMatchObject({ ok: false, error: { code: 'size-mismatch', path: path.join(dir, 'validation', 'masks', 'a.png') } });
  });

  it('reports an undecodable file', async () => {
    const dir = path.join(root, 'corrupt');
    await makeSplitFolders(dir);
    await writeFile(path.join(dir, 'train', 'images', 'a.png'), 'not a png');
    const loaded = await loadDataset(dir, { layout: 'split-folders' });
    expect(loaded).toMatchObject({ ok: false, error: { code: 'decode-failed', path: path.join(dir, 'train', 'images', 'a.png') } });
  });

  it('loads the DIC-1 layout with the thesis split', async () => {
    const dir = path.join(root, 'DIC_Set');
    await mkdir(path.join(dir, 'DIC_Set1_Annotated'), { recursive: true });
    await mkdir(path.join(dir, 'DIC_Set1_Masks'), { recursive: true });
    for (let i = 1; i <= 15; i++) {
      const id = `img_0000${String(i).padStart(2, '0')}_1`;
      await sharp(Buffer.alloc(10 * 10, i), { raw: { width: 10, height: 10, channels: 1 } })
        .tiff()
        .toFile(path.join(dir, 'DIC_Set1_Annotated', `${id}.tif`));
      await sharp(Buffer.alloc(10 * 10, 255), { raw: { width: 10, height: 10, channels: 1 } })
        .tiff()
        .toFile(path.join(dir, 'DIC_Set1_Masks', `${id}_mask.tif`));
    }
    const loaded = await loadDataset(root, { layout: 'dic1', folds: 5, fold: 1, testCount: 5 });
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect([loaded.value.train.length, loaded.value.validation.length, loaded.value.test.length]).toEqual([8, 2, 5]);
    expect(loaded.value.test[0]?.mask.every((v) => v === 1)).toBe(true);
  });

  it('rejects a bad option', async () => {
    const dir = path.join(root, 'ok');
    const loaded = await loadDataset(dir, { layout: 'split-folders', scale: 2 });
    expect(loaded).toMatchObject({ ok: false, error: { code: 'bad-option' } });
  });
});
