/** Segments a list of images with one predictor: tiling, masks, overlays, progress events. */
import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { err, ok, type Result } from '../../base/result.js';
import { readGreyImage, writeMask, writeOverlay, type GreyImage, type ImageError } from './image.js';
import type { Predictor } from './predictor.js';
import { cutTile, pasteOwned, planAxis } from './tiles.js';

export interface PredictOptions {
  readonly outDir: string;
  readonly overlay: boolean;
  /** Tile side (thesis crop: 512); larger images are tiled. */
  readonly tile: number;
  /** Pixels shared by neighbouring tiles. */
  readonly overlap: number;
  /** Rescale factor applied on reading, as the dataset step's `scale`. */
  readonly scale: number;
}

export type PredictEvent =
  | {
      readonly kind: 'done';
      readonly index: number;
      readonly total: number;
      readonly file: string;
      readonly outputs: readonly string[];
      readonly tiles: number;
      readonly ms: number;
    }
  | { readonly kind: 'failed'; readonly index: number; readonly total: number; readonly error: ImageError };

export interface PredictSummary {
  readonly done: number;
  readonly failed: readonly ImageError[];
}

const IMAGE_EXTENSIONS = new Set(['.png', '.tif', '.tiff', '.jpg', '.jpeg', '.webp', '.bmp', '.gif']);

/** Files as given, and the image files of folders (sorted); a missing path is an error. */
export async function listImages(inputs: readonly string[]): Promise<Result<string[], string>> {
  const files: string[] = [];
  for (const input of inputs) {
    const info = await stat(input).catch(() => null);
    if (!info) return err(`${input}: no such file or folder`);
    if (!info.isDirectory()) {
      files.push(input);
      continue;
    }
    const names = (await readdir(input)).filter((n) => IMAGE_EXTENSIONS.has(path.extname(n).toLowerCase())).sort();
    if (names.length === 0) return err(`${input}: folder has no images (${[...IMAGE_EXTENSIONS].join(', ')})`);
    files.push(...names.map((n) => path.join(input, n)));
  }
  return ok(files);
}

/** Tile side rounded so the predictor accepts it; checks the overlap leaves a stride. */
export function checkTiling(tile: number, overlap: number, multiple: number): Result<void, string> {
  if (tile % multiple !== 0) return err(`--tile ${tile} must be a multiple of ${multiple} for this model`);
  if (overlap < 0 || overlap >= tile / 2) return err(`--overlap ${overlap} must be at least 0 and less than half the tile (${tile / 2})`);
  return ok(undefined);
}

async function segment(predictor: Predictor, image: GreyImage, o: PredictOptions): Promise<{ probabilities: Float32Array; tiles: number }> {
  const rows = planAxis(image.height, o.tile, o.overlap, predictor.multiple);
  const cols = planAxis(image.width, o.tile, o.overlap, predictor.multiple);
  const probabilities = new Float32Array(image.width * image.height);
  for (const ty of rows) {
    for (const tx of cols) {
      const values = await predictor.predict(cutTile(image.pixels, image.width, image.height, ty, tx), ty.size, tx.size);
      pasteOwned(probabilities, image.width, values, ty, tx);
    }
  }
  return { probabilities, tiles: rows.length * cols.length };
}

/** Output base name: the image's name without extension; duplicates get their index appended. */
function outputBase(file: string, index: number, seen: Set<string>): string {
  const base = path.basename(file, path.extname(file));
  const unique = seen.has(base) ? `${base}_${index + 1}` : base;
  seen.add(unique);
  return unique;
}

export async function predictImages(
  predictor: Predictor,
  files: readonly string[],
  o: PredictOptions,
  onEvent: (e: PredictEvent) => void,
): Promise<PredictSummary> {
  await mkdir(o.outDir, { recursive: true });
  const failed: ImageError[] = [];
  const seen = new Set<string>();
  for (const [index, file] of files.entries()) {
    const started = performance.now();
    const image = await readGreyImage(file, o.scale);
    if (!image.ok) {
      failed.push(image.error);
      onEvent({ kind: 'failed', index, total: files.length, error: image.error });
      continue;
    }
    const { probabilities, tiles } = await segment(predictor, image.value, o);
    const base = outputBase(file, index, seen);
    const outputs = [path.join(o.outDir, `${base}_mask.png`)];
    await writeMask(outputs[0] as string, image.value.width, image.value.height, probabilities);
    if (o.overlay) {
      outputs.push(path.join(o.outDir, `${base}_overlay.png`));
      await writeOverlay(outputs[1] as string, image.value, probabilities);
    }
    onEvent({ kind: 'done', index, total: files.length, file, outputs, tiles, ms: performance.now() - started });
  }
  return { done: files.length - failed.length, failed };
}
