import { describe, expect, it } from 'vitest';
import {
  augmentPatch,
  createPchip,
  elasticDeform,
  flipLeftRight,
  flipUpDown,
  gaussianNoise,
  histogramVoodoo,
  rot90,
  type Patch,
} from '../../../src/ml/data/index.js';
import { createRng } from '../../../src/ml/random.js';

/** A patch whose mask is a function of the image, so joint transforms can be checked per pixel. */
function markedPatch(size: number, seed: number): Patch {
  const rng = createRng(seed);
  const image = Float32Array.from({ length: size * size }, () => rng.next());
  const mask = Uint8Array.from(image, (v) => (v > 0.6 ? 1 : 0));
  return { size, image, mask };
}

function maskMatchesImage(patch: Patch): boolean {
  return patch.image.every((v, i) => patch.mask[i] === (v > 0.6 ? 1 : 0));
}

describe('random flips and rot90', () => {
  it('move image and mask together', () => {
    const patch = markedPatch(9, 1);
    for (const out of [flipLeftRight(patch), flipUpDown(patch), rot90(patch, 1), rot90(patch, 2), rot90(patch, 3)]) {
      expect(maskMatchesImage(out)).toBe(true);
      expect(out.image).not.toEqual(patch.image);
    }
  });

  it('rot90 turns counter-clockwise like np.rot90 and four turns are the identity', () => {
    const patch: Patch = { size: 2, image: Float32Array.from([1, 2, 3, 4]), mask: Uint8Array.from([1, 0, 0, 0]) };
    expect(Array.from(rot90(patch, 1).image)).toEqual([2, 4, 1, 3]);
    expect(Array.from(rot90(patch, 1).mask)).toEqual([0, 0, 1, 0]);
    expect(Array.from(flipLeftRight(patch).image)).toEqual([2, 1, 4, 3]);
    const four = rot90(rot90(rot90(rot90(patch, 1), 1), 1), 1);
    expect(Array.from(four.image)).toEqual([1, 2, 3, 4]);
  });
});

describe('elastic deform', () => {
  it('keeps the mask binary and only moves existing pixels (order 0)', () => {
    const patch = markedPatch(64, 2);
    const out = elasticDeform(patch, createRng(3), 20, 3);
    expect(out.mask.every((v) => v === 0 || v === 1)).toBe(true);
    expect(maskMatchesImage(out)).toBe(true);
    const original = new Set(patch.image);
    expect(out.image.every((v) => original.has(v))).toBe(true);
    expect(out.image).not.toEqual(patch.image);
  });

  it('is the identity when sigma is 0', () => {
    const patch = markedPatch(16, 4);
    expect(elasticDeform(patch, createRng(1), 0).image).toEqual(patch.image);
  });
});

describe('histogram voodoo', () => {
  it('keeps the original min and max and a monotone intensity order', () => {
    const image = Float32Array.from({ length: 100 }, (_, i) => 0.2 + (0.6 * i) / 99);
    const out = histogramVoodoo(image, createRng(5));
    expect(out[0]).toBeCloseTo(0.2, 5);
    expect(out[99]).toBeCloseTo(0.8, 5);
    for (let i = 1; i < out.length; i++) expect(out[i] as number).toBeGreaterThanOrEqual((out[i - 1] as number) - 1e-6);
    expect(out).not.toEqual(image);
  });

  it('PCHIP passes through its knots and stays monotone between them', () => {
    const curve = createPchip([0, 0.25, 0.5, 0.75, 1], [0, 0.15, 0.2, 0.85, 1]);
    expect(curve(0.25)).toBeCloseTo(0.15, 12);
    expect(curve(0.75)).toBeCloseTo(0.85, 12);
    let previous = -Infinity;
    for (let x = 0; x <= 1; x += 0.001) {
      expect(curve(x)).toBeGreaterThanOrEqual(previous - 1e-12);
      previous = curve(x);
    }
  });
});

describe('full pipeline', () => {
  it('is deterministic for a seed, different for another, and keeps the mask binary', () => {
    const patch = markedPatch(48, 6);
    const a = augmentPatch(patch, createRng(11));
    const b = augmentPatch(patch, createRng(11));
    const c = augmentPatch(patch, createRng(12));
    expect(a.image).toEqual(b.image);
    expect(a.mask).toEqual(b.mask);
    expect(a.image).not.toEqual(c.image);
    expect(a.mask.every((v) => v === 0 || v === 1)).toBe(true);
    expect(a.image.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('with only geometric steps the mask still follows the image', () => {
    const patch = markedPatch(32, 7);
    const geometric = { histogramVoodoo: false, gaussianNoise: false };
    for (let seed = 0; seed < 8; seed++) expect(maskMatchesImage(augmentPatch(patch, createRng(seed), geometric))).toBe(true);
  });

  it('with every step off it returns the input unchanged', () => {
    const patch = markedPatch(8, 8);
    const off = { histogramVoodoo: false, elasticDeform: false, gaussianNoise: false, randomFlip: false, randomRot90: false };
    expect(augmentPatch(patch, createRng(1), off)).toBe(patch);
  });
});

describe('photometric steps touch the image only', () => {
  it('noise is clipped to [0, 1] and has about the requested spread', () => {
    const image = new Float32Array(20000).fill(0.5);
    image[0] = 0;
    image[1] = 1;
    const out = gaussianNoise(image, createRng(2), 1 / 255);
    expect(out.every((v) => v >= 0 && v <= 1)).toBe(true);
    const diffs = Array.from(out.subarray(2), (v) => v - 0.5);
    const std = Math.sqrt(diffs.reduce((a, d) => a + d * d, 0) / diffs.length);
    expect(std * 255).toBeGreaterThan(0.95);
    expect(std * 255).toBeLessThan(1.05);
  });

  it('voodoo and noise alone leave the mask untouched', () => {
    const patch = markedPatch(16, 9);
    const only = { elasticDeform: false, randomFlip: false, randomRot90: false };
    const out = augmentPatch(patch, createRng(3), only);
    expect(out.mask).toEqual(patch.mask);
    expect(out.image).not.toEqual(patch.image);
  });
});
