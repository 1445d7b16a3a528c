/**
 * Paired differences of two models on the same test images and seeds, with a seeded bootstrap
 * 95 % interval (pure: no I/O, no tfjs). Seeds and images are both resampled, so the interval
 * covers the spread between training runs as well as between images.
 */
import { createRng } from '../../../ml/random.js';
import type { EvaluationFile } from './evaluate.js';

/** Per-seed, per-image differences A − B (rows: seeds, columns: images, in the same order every row). */
export interface PairedDiffs {
  readonly seeds: readonly number[];
  readonly images: readonly string[];
  readonly diffs: readonly (readonly number[])[];
}

export interface Interval {
  readonly mean: number;
  readonly low: number;
  readonly high: number;
  readonly replicates: number;
}

export const BOOTSTRAP = { replicates: 10000, seed: 22 } as const;

/** A's and B's per-image IoU on the seeds and images both have. */
export function pairedDiffs(a: readonly EvaluationFile[], b: readonly EvaluationFile[]): PairedDiffs {
  const bySeed = (files: readonly EvaluationFile[]) =>
    new Map(files.map((e) => [e.model.seed ?? 1, new Map(e.perImage.map((p) => [p.image, p.iou]))]));
  const [left, right] = [bySeed(a), bySeed(b)];
  const seeds = [...left.keys()].filter((s) => right.has(s)).sort((x, y) => x - y);
  const images =
    seeds.length === 0
      ? []
      : [...left.get(seeds[0]!)!.keys()].filter((image) => seeds.every((s) => left.get(s)!.has(image) && right.get(s)!.has(image)));
  const diffs = seeds.map((s) => images.map((image) => left.get(s)!.get(image)! - right.get(s)!.get(image)!));
  return { seeds, images, diffs };
}

function meanOver(diffs: PairedDiffs['diffs'], seedIdx: readonly number[], imageIdx: readonly number[]): number {
  let sum = 0;
  for (const s of seedIdx) for (const i of imageIdx) sum += diffs[s]?.[i] ?? Number.NaN;
  return sum / (seedIdx.length * imageIdx.length);
}

/** The value at quantile q of sorted values (nearest rank on n − 1 intervals). */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.round(q * (sorted.length - 1))] ?? Number.NaN;
}

/**
 * Mean difference and its percentile bootstrap 95 % interval: each replicate draws as many seeds
 * and as many images as there are, with replacement, and averages the differences over that grid.
 */
export function bootstrapInterval(
  paired: Pick<PairedDiffs, 'diffs'>,
  replicates: number = BOOTSTRAP.replicates,
  seed: number = BOOTSTRAP.seed,
): Interval {
  const nSeeds = paired.diffs.length;
  const nImages = paired.diffs[0]?.length ?? 0;
  if (nSeeds === 0 || nImages === 0) return { mean: Number.NaN, low: Number.NaN, high: Number.NaN, replicates: 0 };
  const all = (n: number) => Array.from({ length: n }, (_, i) => i);
  const mean = meanOver(paired.diffs, all(nSeeds), all(nImages));
  const rng = createRng(seed);
  const stats: number[] = [];
  for (let r = 0; r < replicates; r++) {
    const seedIdx = Array.from({ length: nSeeds }, () => rng.int(nSeeds));
    const imageIdx = Array.from({ length: nImages }, () => rng.int(nImages));
    stats.push(meanOver(paired.diffs, seedIdx, imageIdx));
  }
  stats.sort((x, y) => x - y);
  return { mean, low: quantile(stats, 0.025), high: quantile(stats, 0.975), replicates };
}

const points = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)}`;

/** What the interval supports, in words ("A − B" in IoU points). */
export function claimText(a: string, b: string, interval: Interval): string {
  const { low, high } = interval;
  if (!Number.isFinite(low) || !Number.isFinite(high)) return 'no paired data';
  if (low > 0) return `${a} is above ${b}: by ${points(low).slice(1)} to ${points(high).slice(1)} points`;
  if (high < 0) return `${a} is below ${b}: by ${points(high).slice(1)} to ${points(low).slice(1)} points`;
  const within = Math.max(Math.abs(low), Math.abs(high));
  return `no difference shown: ${a} is within ${(100 * within).toFixed(1)} points of ${b}`;
}

export { points as signedPoints };
