import type { Rng } from '../random.js';
import { createPchip } from './pchip.js';
import type { Patch } from './crop.js';

/** Which augmentations run, in the thesis order. All on by default. */
export interface AugmentOptions {
  readonly histogramVoodoo?: boolean;
  readonly elasticDeform?: boolean;
  readonly gaussianNoise?: boolean;
  readonly randomFlip?: boolean;
  readonly randomRot90?: boolean;
  /** Std of the elastic grid displacement in pixels (thesis: 20). */
  readonly elasticSigma?: number;
  /** Control points per axis (thesis: 3). */
  readonly elasticPoints?: number;
  /** Noise std on the 0..1 scale (thesis: 1/255). */
  readonly noiseSigma?: number;
}

/**
 * HistogramVoodoo (DeLTA): a monotone PCHIP intensity curve through 3 sorted U(0.1, 0.9) knots,
 * then linear rescale back to the original min/max. Image only.
 */
export function histogramVoodoo(image: Float32Array, rng: Rng, controlPoints = 3): Float32Array {
  const xs = Array.from({ length: controlPoints + 2 }, (_, i) => i / (controlPoints + 1));
  const inner = Array.from({ length: controlPoints }, () => rng.uniform(0.1, 0.9)).sort((a, b) => a - b);
  const curve = createPchip(xs, [0, ...inner, 1]);
  const out = new Float32Array(image.length);
  let [lo, hi, newLo, newHi] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < image.length; i++) {
    const v = image[i] as number;
    const mapped = curve(v);
    out[i] = mapped;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
    newLo = Math.min(newLo, mapped);
    newHi = Math.max(newHi, mapped);
  }
  const gain = newHi > newLo ? (hi - lo) / (newHi - newLo) : 0;
  for (let i = 0; i < out.length; i++) out[i] = lo + ((out[i] as number) - newLo) * gain;
  return out;
}

/** Mirror (reflect without repeating the edge) like scipy's mode="mirror". */
function mirrorIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const m = ((i % period) + period) % period;
  return m < n ? m : period - m;
}

/** Bilinear interpolation of a points×points grid spread evenly from edge to edge. */
function displacementField(grid: Float64Array, points: number, size: number): Float32Array {
  const field = new Float32Array(size * size);
  const step = (size - 1) / (points - 1);
  // Per-column cell index and weight, shared by every row.
  const cellX = new Int32Array(size);
  const weightX = new Float64Array(size);
  for (let x = 0; x < size; x++) {
    const gx = Math.min(x / step, points - 1 - 1e-9);
    cellX[x] = Math.floor(gx);
    weightX[x] = gx - Math.floor(gx);
  }
  for (let y = 0; y < size; y++) {
    const gy = Math.min(y / step, points - 1 - 1e-9);
    const top = Math.floor(gy) * points;
    const bottom = top + points;
    const fy = gy - Math.floor(gy);
    for (let x = 0; x < size; x++) {
      const c = cellX[x] as number;
      const fx = weightX[x] as number;
      const upper = (grid[top + c] as number) * (1 - fx) + (grid[top + c + 1] as number) * fx;
      const lower = (grid[bottom + c] as number) * (1 - fx) + (grid[bottom + c + 1] as number) * fx;
      field[y * size + x] = upper * (1 - fy) + lower * fy;
    }
  }
  return field;
}

/**
 * ElasticDeform on a random grid (elasticdeform.deform_random_grid semantics): N(0, sigma) pixel
 * displacements at a points×points grid, interpolated bilinearly (the original uses a cubic
 * B-spline), sampled with order 0 (nearest) and mirror boundary on image and mask alike.
 */
export function elasticDeform(patch: Patch, rng: Rng, sigma = 20, points = 3): Patch {
  const { size } = patch;
  const gridY = Float64Array.from({ length: points * points }, () => rng.normal() * sigma);
  const gridX = Float64Array.from({ length: points * points }, () => rng.normal() * sigma);
  const dy = displacementField(gridY, points, size);
  const dx = displacementField(gridX, points, size);
  const image = new Float32Array(size * size);
  const mask = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const sy = mirrorIndex(Math.round(y + (dy[i] as number)), size);
      const sx = mirrorIndex(Math.round(x + (dx[i] as number)), size);
      image[i] = patch.image[sy * size + sx] as number;
      mask[i] = patch.mask[sy * size + sx] as number;
    }
  }
  return { size, image, mask };
}

export function gaussianNoise(image: Float32Array, rng: Rng, sigma = 1 / 255): Float32Array {
  const out = new Float32Array(image.length);
  for (let i = 0; i < image.length; i++) {
    const v = (image[i] as number) + rng.normal() * sigma;
    // biome-ignore lint/complexity/useMathMinMax: same result; rewriting it would change the training kinds' code hash and rerun the committed study for nothing
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return out;
}

/** Remaps every pixel through `source(y, x)` → source index; used for flips and rotations. */
function remap(patch: Patch, source: (y: number, x: number) => number): Patch {
  const { size } = patch;
  const image = new Float32Array(size * size);
  const mask = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const s = source(y, x);
      image[y * size + x] = patch.image[s] as number;
      mask[y * size + x] = patch.mask[s] as number;
    }
  }
  return { size, image, mask };
}

export function flipLeftRight(patch: Patch): Patch {
  const n = patch.size;
  return remap(patch, (y, x) => y * n + (n - 1 - x));
}

export function flipUpDown(patch: Patch): Patch {
  const n = patch.size;
  return remap(patch, (y, x) => (n - 1 - y) * n + x);
}

/** Rotates counter-clockwise by k quarter turns (np.rot90 direction). */
export function rot90(patch: Patch, k: number): Patch {
  const n = patch.size;
  const turns = ((k % 4) + 4) % 4;
  if (turns === 0) return patch;
  if (turns === 2) return remap(patch, (y, x) => (n - 1 - y) * n + (n - 1 - x));
  if (turns === 1) return remap(patch, (y, x) => x * n + (n - 1 - y));
  return remap(patch, (y, x) => (n - 1 - x) * n + y);
}

/** The thesis pipeline in its order; each step is toggleable and draws only from `rng`. */
export function augmentPatch(patch: Patch, rng: Rng, options: AugmentOptions = {}): Patch {
  let out = patch;
  if (options.histogramVoodoo ?? true) out = { ...out, image: histogramVoodoo(out.image, rng) };
  if (options.elasticDeform ?? true) out = elasticDeform(out, rng, options.elasticSigma ?? 20, options.elasticPoints ?? 3);
  if (options.gaussianNoise ?? true) out = { ...out, image: gaussianNoise(out.image, rng, options.noiseSigma ?? 1 / 255) };
  if (options.randomFlip ?? true) {
    if (rng.next() < 0.5) out = flipLeftRight(out);
    if (rng.next() < 0.5) out = flipUpDown(out);
  }
  if (options.randomRot90 ?? true) out = rot90(out, rng.int(4));
  return out;
}
