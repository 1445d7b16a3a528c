import type { Rng } from '../random.js';
import type { Sample } from './types.js';

/** The pixels of a window that lie inside the source image: columns [x0, x1), rows [y0, y1). */
export interface InsideRect {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/** A square training/validation patch: image in 0..1, mask 0/1. */
export interface Patch {
  readonly size: number;
  readonly image: Float32Array;
  readonly mask: Uint8Array;
  /** Set when the window reaches outside the image (zero padding): where the image is. */
  readonly inside?: InsideRect;
}

/**
 * Sets predictions on padding to 0 (background) for the image at `offset`: padding is not part of
 * the image, so it is not scored. The truth there is 0, so this only removes false positives.
 */
export function clearOutside(values: Float32Array, size: number, inside: InsideRect | undefined, offset = 0): void {
  if (inside === undefined) return;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (y < inside.y0 || y >= inside.y1 || x < inside.x0 || x >= inside.x1) values[offset + y * size + x] = 0;
    }
  }
}

export type CropMode = 'random' | 'center';

export interface CropOptions {
  /**
   * 'uniform' is the thesis rule. 'foreground' (a deliberate difference, off by default) centres the
   * crop on a random foreground pixel with probability `foregroundProbability`, because BBBC030 is
   * only 1-4 % cells and a uniform 64-px crop is often empty.
   */
  readonly sampler?: 'uniform' | 'foreground';
  readonly foregroundProbability?: number;
}

/** Copies a size×size window whose top-left is (x0, y0) in source coordinates; outside is zero. */
export function extractWindow(sample: Sample, x0: number, y0: number, size: number): Patch {
  const image = new Float32Array(size * size);
  const mask = new Uint8Array(size * size);
  const xStart = Math.max(0, -x0);
  const xEnd = Math.min(size, sample.width - x0);
  for (let y = 0; y < size; y++) {
    const sy = y0 + y;
    if (sy < 0 || sy >= sample.height || xEnd <= xStart) continue;
    const src = sy * sample.width + x0;
    image.set(sample.image.subarray(src + xStart, src + xEnd), y * size + xStart);
    mask.set(sample.mask.subarray(src + xStart, src + xEnd), y * size + xStart);
  }
  const inside = { x0: xStart, y0: Math.max(0, -y0), x1: Math.max(xStart, xEnd), y1: Math.min(size, Math.max(0, sample.height - y0)) };
  const padded = inside.x0 > 0 || inside.y0 > 0 || inside.x1 < size || inside.y1 < size;
  return padded ? { size, image, mask, inside } : { size, image, mask };
}

/**
 * Top-left offset along one axis, following thesis §6: both sides larger → crop; both smaller →
 * centre pad; mixed → centre pad to a square of the longer side, then crop.
 */
function axisOffset(length: number, padded: number, size: number, pick: (range: number) => number): number {
  const padBefore = Math.floor((padded - length) / 2);
  if (padded <= size) return -Math.floor((size - length) / 2);
  return pick(padded - size) - padBefore;
}

function thesisOffsets(sample: Sample, size: number, mode: CropMode, rng: Rng | undefined): [number, number] {
  const { width, height } = sample;
  const bothLarger = width >= size && height >= size;
  const bothSmaller = width <= size && height <= size;
  const squareSide = Math.max(width, height);
  const paddedW = bothLarger || bothSmaller ? width : squareSide;
  const paddedH = bothLarger || bothSmaller ? height : squareSide;
  const pick = (range: number): number => (mode === 'random' && rng ? rng.int(range + 1) : Math.floor(range / 2));
  return [axisOffset(width, paddedW, size, pick), axisOffset(height, paddedH, size, pick)];
}

/** Foreground pixel indices per sample, computed once (masks are immutable once decoded). */
const foregroundIndex = new WeakMap<Sample, Uint32Array>();

function foregroundPixels(sample: Sample): Uint32Array {
  let cached = foregroundIndex.get(sample);
  if (!cached) {
    const hits: number[] = [];
    for (let i = 0; i < sample.mask.length; i++) if (sample.mask[i] === 1) hits.push(i);
    cached = Uint32Array.from(hits);
    foregroundIndex.set(sample, cached);
  }
  return cached;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(Math.max(value, low), high);
}

function foregroundOffsets(sample: Sample, size: number, rng: Rng): [number, number] | undefined {
  const pixels = foregroundPixels(sample);
  if (pixels.length === 0 || sample.width < size || sample.height < size) return undefined;
  const index = pixels[rng.int(pixels.length)] ?? 0;
  const half = Math.floor(size / 2);
  const x0 = clamp((index % sample.width) - half, 0, sample.width - size);
  const y0 = clamp(Math.floor(index / sample.width) - half, 0, sample.height - size);
  return [x0, y0];
}

/** Random (train) or centre (validation/test) crop-or-pad of a sample to size×size. */
export function cropSample(sample: Sample, size: number, mode: CropMode, rng?: Rng, options: CropOptions = {}): Patch {
  if (mode === 'random' && rng && options.sampler === 'foreground') {
    if (rng.next() < (options.foregroundProbability ?? 0.5)) {
      const offsets = foregroundOffsets(sample, size, rng);
      if (offsets) return extractWindow(sample, offsets[0], offsets[1], size);
    }
  }
  const [x0, y0] = thesisOffsets(sample, size, mode, rng);
  return extractWindow(sample, x0, y0, size);
}
