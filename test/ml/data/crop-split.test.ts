import { describe, expect, it } from 'vitest';
import { chunk, clearOutside, cropSample, evalPatch, thesisSplit, trainPatch, type Sample } from '../../../src/ml/data/index.js';
import { createRng, shuffled } from '../../../src/ml/random.js';

function rampSample(width: number, height: number): Sample {
  const image = Float32Array.from({ length: width * height }, (_, i) => (i + 1) / (width * height));
  const mask = Uint8Array.from({ length: width * height }, (_, i) => (i % 7 === 0 ? 1 : 0));
  return { name: `ramp${width}x${height}`, width, height, image, mask };
}

describe('crop or pad (thesis §6 rules)', () => {
  it('centre-crops a larger image', () => {
    const patch = cropSample(rampSample(6, 4), 2, 'center');
    // offsets x=2, y=1 → first row starts at index 1*6+2 = 8
    expect(Array.from(patch.image).map((v) => Math.round(v * 24))).toEqual([9, 10, 15, 16]);
  });

  it('centre-pads a smaller image with zeros', () => {
    const patch = evalPatch(rampSample(2, 2), 4);
    const values = Array.from(patch.image).map((v) => Math.round(v * 4));
    expect(values).toEqual([0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0]);
  });

  it('knows where the image is in a padded window, so padding is not scored', () => {
    const patch = evalPatch(rampSample(2, 2), 4);
    expect(patch.inside).toEqual({ x0: 1, y0: 1, x1: 3, y1: 3 });
    const predictions = new Float32Array(16).fill(0.9);
    clearOutside(predictions, 4, patch.inside);
    expect(Array.from(predictions).map((v) => (v > 0.5 ? 1 : 0))).toEqual([0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
    expect(cropSample(rampSample(6, 4), 2, 'center').inside).toBeUndefined(); // a crop inside the image
    expect(cropSample(rampSample(8, 2), 4, 'center').inside).toEqual({ x0: 0, y0: 1, x1: 4, y1: 3 });
  });

  it('pads a mixed-size image to a square, then crops (some rows are padding)', () => {
    const patch = cropSample(rampSample(8, 2), 4, 'center');
    const rowsWithData = [0, 1, 2, 3].filter((r) => patch.image.slice(r * 4, r * 4 + 4).some((v) => v > 0));
    expect(rowsWithData).toEqual([1, 2]);
  });

  it('random crops stay inside the image and vary with the seed', () => {
    const sample = rampSample(50, 40);
    const firsts = new Set<number>();
    for (let seed = 0; seed < 20; seed++) {
      const patch = cropSample(sample, 16, 'random', createRng(seed));
      expect(patch.image.every((v) => v > 0)).toBe(true);
      firsts.add(patch.image[0] as number);
    }
    expect(firsts.size).toBeGreaterThan(5);
  });

  it('foreground sampler (opt-in) puts foreground into crops of a sparse mask', () => {
    const width = 200;
    const mask = new Uint8Array(width * width);
    for (let y = 150; y < 155; y++) for (let x = 20; x < 25; x++) mask[y * width + x] = 1;
    const sample: Sample = { name: 'sparse', width, height: width, image: new Float32Array(width * width), mask };
    const rng = createRng(3);
    const count = (sampler: 'uniform' | 'foreground') =>
      Array.from({ length: 40 }, () =>
        trainPatch(sample, rng, { cropSize: 32, augment: false, crop: { sampler, foregroundProbability: 1 } }).mask.some((v) => v === 1),
      ).filter(Boolean).length;
    expect(count('foreground')).toBe(40);
    expect(count('uniform')).toBeLessThan(20);
  });
});

describe('thesis split', () => {
  it('chunks like np.array_split', () => {
    expect(chunk([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([
      [1, 2, 3],
      [4, 5],
      [6, 7],
    ]);
  });

  it('40 items → 10 fixed test, 6 validation, 24 train; folds partition the pool', () => {
    const items = Array.from({ length: 40 }, (_, i) => `img_${String(i).padStart(2, '0')}`);
    const options = { folds: 5, seed: 1, testSeed: 44, testCount: 10 };
    const splits = [0, 1, 2, 3, 4].map((fold) => thesisSplit(shuffled(items, createRng(9)), (s) => s, { ...options, fold }));
    const first = splits[0]!;
    expect([first.train.length, first.validation.length, first.test.length]).toEqual([24, 6, 10]);
    for (const s of splits) expect(s.test).toEqual(first.test);
    const validations = splits.flatMap((s) => s.validation);
    expect(new Set(validations).size).toBe(30);
    expect(validations.some((v) => first.test.includes(v))).toBe(false);
  });
});
