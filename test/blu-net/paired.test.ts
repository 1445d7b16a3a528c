/** Paired differences and their seeded bootstrap interval (issue 22), against hand-computed cases. */
import { describe, expect, it } from 'vitest';
import type { EvaluationFile } from '../../src/steps/blu-net/impl/evaluate.js';
import { bootstrapInterval, claimText, pairedDiffs, quantile } from '../../src/steps/blu-net/impl/paired.js';
import { compareModels } from '../../src/steps/blu-net/impl/report-fair.js';

function evaluation(label: string, seed: number, ious: Record<string, number>): EvaluationFile {
  const perImage = Object.entries(ious).map(([image, iou]) => ({ image, iou, f1: iou }));
  return {
    model: { architecture: 'unet', label, width: 4, stepId: `${label}@seed=${seed}`, seed },
    crop: 64,
    images: perImage.length,
    meanIou: 0,
    meanF1: 0,
    perImage,
  };
}

describe('paired differences', () => {
  it('pairs by seed and image name, leaving out what only one model has', () => {
    const a = [
      evaluation('A', 1, { x: 0.8, y: 0.6, z: 0.5 }),
      evaluation('A', 2, { x: 0.7, y: 0.5, z: 0.4 }),
      evaluation('A', 3, { x: 1, y: 1, z: 1 }),
    ];
    const b = [evaluation('B', 2, { y: 0.25, x: 0.5 }), evaluation('B', 1, { x: 0.5, y: 0.5 })];
    const paired = pairedDiffs(a, b);
    expect(paired.seeds).toEqual([1, 2]);
    expect(paired.images).toEqual(['x', 'y']);
    expect(paired.diffs.map((row) => row.map((d) => Number(d.toFixed(6))))).toEqual([
      [0.3, 0.1],
      [0.2, 0.25],
    ]);
  });
});

describe('bootstrap interval', () => {
  it('is the constant difference itself when every difference is the same', () => {
    const interval = bootstrapInterval(
      {
        diffs: [
          [0.02, 0.02],
          [0.02, 0.02],
        ],
      },
      500,
      7,
    );
    expect(interval.mean).toBeCloseTo(0.02, 12);
    expect(interval.low).toBeCloseTo(0.02, 12);
    expect(interval.high).toBeCloseTo(0.02, 12);
  });

  it('spans 0 to 1 for one seed and the images [0, 1] (each end has probability 1/4, far beyond 2.5 %)', () => {
    const interval = bootstrapInterval({ diffs: [[0, 1]] }, 2000, 3);
    expect(interval.mean).toBe(0.5);
    expect(interval.low).toBe(0);
    expect(interval.high).toBe(1);
  });

  it('is reproducible for a PRNG seed and changes with it', () => {
    const diffs = [
      [0.1, -0.05, 0.2, 0.0, 0.03],
      [0.02, 0.04, -0.1, 0.15, 0.05],
      [0.0, 0.01, 0.02, -0.03, 0.08],
    ];
    expect(bootstrapInterval({ diffs }, 1000, 5)).toEqual(bootstrapInterval({ diffs }, 1000, 5));
    expect(bootstrapInterval({ diffs }, 1000, 5)).not.toEqual(bootstrapInterval({ diffs }, 1000, 6));
  });

  it('takes quantiles by nearest rank', () => {
    const sorted = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(quantile(sorted, 0.025)).toBe(0);
    expect(quantile(sorted, 0.5)).toBe(5);
    expect(quantile(sorted, 0.975)).toBe(10);
  });
});

describe('claims', () => {
  const interval = (low: number, high: number) => ({ mean: (low + high) / 2, low, high, replicates: 1 });

  it('states a difference only when the interval excludes 0, and otherwise how close the interval allows', () => {
    expect(claimText('A', 'B', interval(0.012, 0.05))).toBe('A is above B: by 1.2 to 5.0 points');
    expect(claimText('A', 'B', interval(-0.05, -0.012))).toBe('A is below B: by 1.2 to 5.0 points');
    expect(claimText('A', 'B', interval(-0.031, 0.012))).toBe('no difference shown: A is within 3.1 points of B');
  });

  it('compares the models the report names, on their shared seeds and images', () => {
    const evaluations = [1, 2].flatMap((seed) => [
      evaluation('U-Net', seed, { x: 0.8, y: 0.7 }),
      evaluation('BLU-Net (from distilled lw_unet)', seed, { x: 0.7, y: 0.6 }),
    ]);
    const [first, ...rest] = compareModels(evaluations);
    expect(rest).toEqual([]);
    expect(first).toMatchObject({ a: 'BLU-Net (from distilled lw_unet)', b: 'U-Net', seeds: [1, 2], images: 2 });
    expect(first?.interval.mean).toBeCloseTo(-0.1, 12);
    expect(first?.interval.low).toBeCloseTo(-0.1, 12);
    expect(first?.claim).toBe('BLU-Net (from distilled lw_unet) is below U-Net: by 10.0 to 10.0 points');
  });
});
