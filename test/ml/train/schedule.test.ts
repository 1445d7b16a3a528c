import { describe, expect, it } from 'vitest';
import type { Sample } from '../../../src/ml/data/index.js';
import { createRng } from '../../../src/ml/random.js';
import { epochSchedule } from '../../../src/ml/train/batching.js';

const samples: Sample[] = Array.from({ length: 5 }, (_, i) => ({
  name: `s${i}`,
  width: 1,
  height: 1,
  image: new Float32Array(1),
  mask: new Uint8Array(1),
}));

describe('epoch schedule', () => {
  it('by default is one shuffled pass with a smaller last batch', () => {
    const batches = epochSchedule(samples, 2, undefined, createRng(1));
    expect(batches.map((b) => b.length)).toEqual([2, 2, 1]);
    expect(new Set(batches.flat().map((s) => s.name)).size).toBe(5);
  });

  it('with explicit steps draws full batches from successive shuffles', () => {
    const batches = epochSchedule(samples, 3, 4, createRng(1));
    expect(batches.map((b) => b.length)).toEqual([3, 3, 3, 3]);
    // The first 5 draws are one full permutation, the next 5 another.
    const flat = batches.flat().map((s) => s.name);
    expect(new Set(flat.slice(0, 5)).size).toBe(5);
    expect(new Set(flat.slice(5, 10)).size).toBe(5);
  });

  it('reshuffles differently each epoch from the same stream', () => {
    const rng = createRng(3);
    const orders = Array.from({ length: 4 }, () =>
      epochSchedule(samples, 5, undefined, rng)[0]!
        .map((s) => s.name)
        .join(),
    );
    expect(new Set(orders).size).toBeGreaterThan(1);
  });
});
