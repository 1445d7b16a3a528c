/** `dataset`: copies (downscaled, subsetted) images and masks into a cached split-folders artifact. */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import sharp from 'sharp';
import { loadDataset, type DatasetSplit, type Sample } from '../../../ml/data/index.js';
import { ok } from '../../../base/result.js';
import type { StepImplementation, StepRunContext } from '../../../runtime/kinds/kind.js';
import { ARTIFACT, withOf } from '../common.js';
import type { DatasetWith } from '../dataset.js';
import { failure, metric, ownArtifact, writeJson, type StepResult } from './context.js';
import { deriveSample } from './derive.js';
import { checkFolder, DEFAULT_URL_PATTERN, fetchPinned, parseManifest } from './sources.js';

const SPLITS = ['train', 'validation', 'test'] as const;
type SplitName = (typeof SPLITS)[number];

export interface SplitSummary {
  readonly images: number;
  readonly width: { readonly min: number; readonly max: number };
  readonly height: { readonly min: number; readonly max: number };
  /** Mean over images of the fraction of foreground (mask = 1) pixels. */
  readonly foregroundFraction: number;
}

function summarise(samples: readonly Sample[]): SplitSummary {
  const widths = samples.map((s) => s.width);
  const heights = samples.map((s) => s.height);
  const fractions = samples.map((s) => s.mask.reduce((a, v) => a + v, 0) / s.mask.length);
  const range = (xs: number[]) => ({ min: xs.length ? Math.min(...xs) : 0, max: xs.length ? Math.max(...xs) : 0 });
  return {
    images: samples.length,
    width: range(widths),
    height: range(heights),
    foregroundFraction: fractions.reduce((a, b) => a + b, 0) / Math.max(1, fractions.length),
  };
}

async function writeSample(dir: string, sample: Sample): Promise<void> {
  const raw = { width: sample.width, height: sample.height, channels: 1 as const };
  const image = Buffer.from(sample.image.map((v) => Math.round(v * 255)));
  const mask = Buffer.from(sample.mask.map((v) => v * 255));
  await sharp(image, { raw })
    .png()
    .toFile(path.join(dir, 'images', `${sample.name}.png`));
  await sharp(mask, { raw })
    .png()
    .toFile(path.join(dir, 'masks', `${sample.name}.png`));
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Downloads `url` once into .blu/downloads/<sha256>/ (checked against the pinned hash), unpacks it
 * and returns the folder. Needs internet on first use; later runs reuse the download.
 */
async function download(ctx: StepRunContext, url: string, sha256: string): Promise<StepResult<string>> {
  const root = ctx.resolve(path.join('.blu', 'downloads', sha256));
  const unpacked = path.join(root, 'unpacked');
  if (
    await stat(unpacked).then(
      () => true,
      () => false,
    )
  )
    return ok(unpacked);
  await mkdir(root, { recursive: true });
  const archive = path.join(root, path.basename(new URL(url).pathname) || 'archive');
  try {
    const response = await fetch(url, { signal: ctx.signal });
    if (!response.ok) return failure(`download ${url}: HTTP ${response.status}`);
    await writeFile(`${archive}.part`, Buffer.from(await response.arrayBuffer()));
  } catch (cause) {
    return failure(
      `download ${url} failed (no internet? use a local 'path:' instead): ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
  const actual = await sha256Of(`${archive}.part`);
  if (actual !== sha256) return failure(`download ${url}: sha256 ${actual} does not match the pinned ${sha256}`);
  await rename(`${archive}.part`, archive);
  await mkdir(`${unpacked}.tmp`, { recursive: true });
  const tool = archive.endsWith('.zip')
    ? (['unzip', ['-q', archive, '-d', `${unpacked}.tmp`]] as const)
    : (['tar', ['-xf', archive, '-C', `${unpacked}.tmp`]] as const);
  const result = await execa(tool[0], [...tool[1]], { reject: false });
  if (result.exitCode !== 0) return failure(`unpacking ${archive} failed: ${result.stderr}`);
  await rename(`${unpacked}.tmp`, unpacked);
  return ok(unpacked);
}

/**
 * A pinned data set (`sources:`): the local folder when it exists and holds the manifest's pixels,
 * else the pinned files, fetched once into the cache. Either way the step reads what its key names.
 */
async function pinned(ctx: StepRunContext, manifestPath: string, localPath: string | undefined): Promise<StepResult<string>> {
  const text = await readFile(ctx.resolve(manifestPath), 'utf8');
  const manifest = parseManifest(text, manifestPath);
  if (!manifest.ok) return failure(manifest.error);
  const local = localPath === undefined ? null : ctx.resolve(localPath);
  if (local !== null && existsSync(local)) {
    const checked = await checkFolder(local, manifest.value);
    if (!checked.ok)
      return failure(
        `${checked.error}. ${localPath} is not the data set ${manifestPath} pins; to use other data, set the step's 'sources' to null (blu-net: --set data_sources=null)`,
      );
    ctx.log(`dataset: ${localPath} holds the pixels ${manifestPath} pins (${manifest.value.rows.length} files checked)`);
    return ok(local);
  }
  ctx.log(
    `dataset: ${localPath ?? 'no local folder'} absent; using the files ${manifestPath} pins (${manifest.value.repo}@${manifest.value.commit.slice(0, 10)}), fetched once into the cache`,
  );
  const manifestSha = createHash('sha256').update(text).digest('hex');
  const urlPattern = process.env.BLU_DATA_URL ?? DEFAULT_URL_PATTERN;
  const fetched = await fetchPinned(manifest.value, manifestSha, {
    cacheDir: ctx.spec.cacheDir,
    urlPattern,
    signal: ctx.signal,
    log: (l) => ctx.log(l),
  });
  return fetched.ok ? fetched : failure(fetched.error);
}

async function source(ctx: StepRunContext, w: DatasetWith): Promise<StepResult<string>> {
  if (w.sources) return pinned(ctx, w.sources, w.path);
  if (w.path !== undefined) return ok(ctx.resolve(w.path));
  if (w.url !== undefined && w.sha256 !== undefined) return download(ctx, w.url, w.sha256);
  return failure(`dataset needs 'path', or 'url' with 'sha256'`);
}

/** The source's splits as the step writes them: decoded (and scaled), or derived, then subsetted. */
async function loadSplits(dir: string, w: DatasetWith): Promise<StepResult<DatasetSplit>> {
  const derive = w.derive ?? null;
  const limits = derive ? derive.images : w.max_images;
  const loaded = await loadDataset(dir, { layout: w.layout, scale: derive ? 1 : (w.scale ?? 1), ...(limits ? { maxImages: limits } : {}) });
  if (!loaded.ok) return failure(loaded.error.message);
  if (!derive) return ok(loaded.value);
  const split: Record<SplitName, Sample[]> = { train: [], validation: [], test: [] };
  for (const name of SPLITS) {
    const keep = loaded.value[name].slice(0, w.max_images?.[name] ?? Infinity);
    for (const sample of keep) split[name].push(await deriveSample(sample, derive, w.scale ?? 1));
  }
  return ok(split);
}

export const datasetStep: StepImplementation = {
  async run(ctx) {
    const w = withOf<DatasetWith>(ctx.spec.with);
    const dir = await source(ctx, w);
    if (!dir.ok) return dir;
    const loaded = await loadSplits(dir.value, w);
    if (!loaded.ok) return loaded;
    const chosen: DatasetSplit = loaded.value;
    const target = ownArtifact(ctx, ARTIFACT.data);
    const summary: Partial<Record<SplitName, SplitSummary>> = {};
    for (const name of SPLITS) {
      if (chosen[name].length === 0) return failure(`split '${name}' of ${dir.value} is empty`);
      await mkdir(path.join(target, name, 'images'), { recursive: true });
      await mkdir(path.join(target, name, 'masks'), { recursive: true });
      for (const sample of chosen[name]) await writeSample(path.join(target, name), sample);
      summary[name] = summarise(chosen[name]);
      metric(ctx, `${name}_images`, chosen[name].length);
      metric(ctx, `${name}_foreground_fraction`, summary[name].foregroundFraction);
    }
    await writeJson(ownArtifact(ctx, ARTIFACT.summary), {
      source: w.path ?? w.url,
      ...(w.sources ? { sources: w.sources } : {}),
      layout: w.layout,
      scale: w.scale ?? 1,
      derive: w.derive ?? null,
      splits: summary,
    });
    ctx.log(`dataset: ${SPLITS.map((s) => `${s} ${chosen[s].length}`).join(', ')} images written to ${target}`);
    return ok(undefined);
  },
};
