import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { confusion, f1Of, iouOf, scoreImages, scoreTensors } from '../../../src/ml/metrics.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('thesis §7 metrics', () => {
  it('counts TP/FP/FN after thresholding both sides at > 0.5', () => {
    // truth:      1 1 0 0 1 0.5   (0.5 is not > 0.5, so background)
    // prediction: 0.9 0.2 0.7 0.1 0.51 0.9
    const c = confusion([1, 1, 0, 0, 1, 0.5], [0.9, 0.2, 0.7, 0.1, 0.51, 0.9]);
    expect(c).toEqual({ tp: 2, fp: 2, fn: 1 });
    expect(iouOf(c)).toBeCloseTo(2 / 5, 6);
    expect(f1Of(c)).toBeCloseTo(2 / (2 + 1.5), 6);
  });

  it('scores an empty truth with an empty prediction as 0, not 1', () => {
    const c = confusion([0, 0, 0], [0.1, 0.2, 0.3]);
    expect(iouOf(c)).toBe(0);
    expect(f1Of(c)).toBe(0);
  });

  it('gives ~1 for a perfect prediction (the 1e-7 keeps it just below 1)', () => {
    const c = confusion([1, 0, 1], [1, 0, 1]);
    expect(iouOf(c)).toBeCloseTo(1, 6);
    expect(iouOf(c)).toBeLessThan(1);
  });

  it('averages per image, not over all pixels', () => {
    // image 1: perfect (IoU≈1); image 2: 1 TP of 4 pixels of truth (IoU 0.25). Pixel IoU would be 5/8.
    const truth = [1, 1, 1, 1, 1, 1, 1, 1];
    const prediction = [1, 1, 1, 1, 1, 0, 0, 0];
    const scores = scoreImages(truth, prediction, 4);
    expect(scores.perImage.map((s) => s.iou)).toEqual([expect.closeTo(1, 6), expect.closeTo(0.25, 6)]);
    expect(scores.iou).toBeCloseTo(0.625, 6);
    expect(scores.f1).toBeCloseTo((1 + 0.4) / 2, 6);
  });

  it('gives the same numbers on tensors [B,H,W,1]', async () => {
    const truth = tf.tensor4d([1, 1, 1, 1, 1, 1, 1, 1], [2, 2, 2, 1]);
    const prediction = tf.tensor4d([1, 1, 1, 1, 1, 0, 0, 0], [2, 2, 2, 1]);
    const scores = await scoreTensors(truth, prediction);
    expect(scores.iou).toBeCloseTo(0.625, 6);
    tf.dispose([truth, prediction]);
  });
});
