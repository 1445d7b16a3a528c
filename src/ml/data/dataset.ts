import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { err, ok, type Result } from '../../base/result.js';
import { decodePair } from './decode.js';
import { thesisSplit } from './split.js';
import type { DataError, DatasetSplit, Sample } from './types.js';

export type DatasetLayout = 'split-folders' | 'dic1';

export interface LoadDatasetOptions {
  /** 'split-folders': {train,validation,test}/{images,masks}/*.png; 'dic1': the thesis DIC-1 folders. */
  readonly layout: DatasetLayout;
  /** Use the thesis k-fold split. Always on for 'dic1' (default 5); for split-folders it pools train+validation. */
  readonly folds?: number;
  readonly fold?: number;
  /** Seed of the fold reshuffle (thesis: 1). */
  readonly seed?: number;
  /** Size of the fixed test set for 'dic1' (thesis: 10). */
  readonly testCount?: number;
  /** Downscale factor in (0, 1], applied at decode time. */
  readonly scale?: number;
  /** Keep only the first N images of a split (after splitting), so the rest are never decoded. */
  readonly maxImages?: Partial<Record<(typeof SPLITS)[number], number>>;
}

/** A pair of files before decoding. */
interface PairPaths {
  readonly name: string;
  readonly imagePath: string;
  readonly maskPath: string;
}

const SPLITS = ['train', 'validation', 'test'] as const;
const IMAGE_EXT = /\.(png|tif|tiff)$/i;
const THESIS_TEST_SEED = 44;

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch {
    return false;
  }
}

async function listImages(dir: string): Promise<Result<string[], DataError>> {
  if (!(await isDirectory(dir))) {
    return err({ code: 'missing-folder', path: dir, message: `folder not found: ${dir}` });
  }
  const names = (await readdir(dir)).filter((n) => IMAGE_EXT.test(n)).sort();
  return ok(names);
}

/** Pairs every image with a mask produced by `maskNameOf`; a missing mask is an error. */
async function pairFiles(
  imageDir: string,
  maskDir: string,
  maskNameOf: (imageName: string) => string,
): Promise<Result<PairPaths[], DataError>> {
  const images = await listImages(imageDir);
  if (!images.ok) return images;
  const masks = await listImages(maskDir);
  if (!masks.ok) return masks;
  const maskSet = new Set(masks.value);
  const pairs: PairPaths[] = [];
  for (const imageName of images.value) {
    const maskName = maskNameOf(imageName);
    const imagePath = path.join(imageDir, imageName);
    if (!maskSet.has(maskName)) {
      const maskPath = path.join(maskDir, maskName);
      return err({ code: 'missing-mask', path: imagePath, message: `image ${imagePath} has no mask ${maskPath}` });
    }
    pairs.push({ name: imageName.replace(IMAGE_EXT, ''), imagePath, maskPath: path.join(maskDir, maskName) });
  }
  return ok(pairs);
}

async function decodeAll(pairs: readonly PairPaths[], scale: number): Promise<Result<Sample[], DataError>> {
  const samples: Sample[] = [];
  // Sequential on purpose: sharp already uses its own threads, and 2 cores are shared.
  for (const pair of pairs) {
    const decoded = await decodePair(pair.name, pair.imagePath, pair.maskPath, scale);
    if (!decoded.ok) return decoded;
    samples.push(decoded.value);
  }
  return ok(samples);
}

type PairSplit = { train: PairPaths[]; validation: PairPaths[]; test: PairPaths[] };

async function splitFolderPairs(dir: string): Promise<Result<PairSplit, DataError>> {
  const out: PairSplit = { train: [], validation: [], test: [] };
  for (const split of SPLITS) {
    const pairs = await pairFiles(path.join(dir, split, 'images'), path.join(dir, split, 'masks'), (n) => n);
    if (!pairs.ok) return pairs;
    out[split] = pairs.value;
  }
  return ok(out);
}

/** Accepts the DIC_Set folder itself or its parent. */
async function dic1Pairs(dir: string): Promise<Result<PairPaths[], DataError>> {
  const root = (await isDirectory(path.join(dir, 'DIC_Set1_Annotated'))) ? dir : path.join(dir, 'DIC_Set');
  return pairFiles(path.join(root, 'DIC_Set1_Annotated'), path.join(root, 'DIC_Set1_Masks'), (n) =>
    n.replace(IMAGE_EXT, (ext) => `_mask${ext}`),
  );
}

function checkOptions(dir: string, options: LoadDatasetOptions): Result<true, DataError> {
  const scale = options.scale ?? 1;
  const folds = options.folds ?? 5;
  const fold = options.fold ?? 0;
  const bad = (message: string) => err<DataError>({ code: 'bad-option', path: dir, message });
  if (!(scale > 0 && scale <= 1)) return bad(`scale must be in (0, 1], got ${scale}`);
  if (!Number.isInteger(folds) || folds < 2) return bad(`folds must be an integer >= 2, got ${folds}`);
  if (!Number.isInteger(fold) || fold < 0 || fold >= folds) return bad(`fold must be in [0, ${folds}), got ${fold}`);
  return ok(true);
}

function applyFolds(pairs: PairSplit, options: LoadDatasetOptions, usePool: boolean): PairSplit {
  const common = { folds: options.folds ?? 5, fold: options.fold ?? 0, seed: options.seed ?? 1, testSeed: THESIS_TEST_SEED };
  if (usePool) {
    // Pool the published train+validation and k-fold it; the published test set stays the test set.
    const pool = [...pairs.train, ...pairs.validation];
    const split = thesisSplit(pool, (p) => p.imagePath, { ...common, testCount: 0 });
    return { train: split.train, validation: split.validation, test: pairs.test };
  }
  const all = pairs.train;
  const split = thesisSplit(all, (p) => p.imagePath, { ...common, testCount: options.testCount ?? 10 });
  return { train: split.train, validation: split.validation, test: split.test };
}

async function listPairs(dir: string, options: LoadDatasetOptions): Promise<Result<PairSplit, DataError>> {
  if (options.layout === 'dic1') {
    const pairs = await dic1Pairs(dir);
    if (!pairs.ok) return pairs;
    return ok(applyFolds({ train: pairs.value, validation: [], test: [] }, options, false));
  }
  const pairs = await splitFolderPairs(dir);
  if (!pairs.ok) return pairs;
  return ok(options.folds !== undefined ? applyFolds(pairs.value, options, true) : pairs.value);
}

/** Loads and decodes a dataset; every failure names the offending path. Decoded pairs are cached. */
export async function loadDataset(dir: string, options: LoadDatasetOptions): Promise<Result<DatasetSplit, DataError>> {
  if (!(await isDirectory(dir))) {
    return err({ code: 'missing-folder', path: dir, message: `dataset folder not found: ${dir}` });
  }
  const checked = checkOptions(dir, options);
  if (!checked.ok) return checked;
  const pairs = await listPairs(dir, options);
  if (!pairs.ok) return pairs;
  if (pairs.value.train.length === 0) {
    return err({ code: 'empty-dataset', path: dir, message: `no training images found under ${dir}` });
  }
  const scale = options.scale ?? 1;
  const first = (name: (typeof SPLITS)[number]) => pairs.value[name].slice(0, options.maxImages?.[name] ?? pairs.value[name].length);
  const train = await decodeAll(first('train'), scale);
  if (!train.ok) return train;
  const validation = await decodeAll(first('validation'), scale);
  if (!validation.ok) return validation;
  const test = await decodeAll(first('test'), scale);
  if (!test.ok) return test;
  return ok({ train: train.value, validation: validation.value, test: test.value });
}
