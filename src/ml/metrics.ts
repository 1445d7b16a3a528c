import type * as tf from '@tensorflow/tfjs';

/** Thesis §7: both truth and prediction are binarised with `> 0.5`. */
const THRESHOLD = 0.5;
const EPSILON = 1e-7;

export interface Confusion {
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
}

export interface SegmentationScores {
  /** Mean over images of per-image IoU. */
  readonly iou: number;
  /** Mean over images of per-image F1 (Dice). */
  readonly f1: number;
  readonly perImage: { readonly iou: number; readonly f1: number }[];
}

/** Plain arrays or any typed array (what tensor.data() and the data module produce). */
type Pixels = ArrayLike<number>;

/** Counts over pixels [start, start + length) of both arrays; by default all of them. */
export function confusion(truth: Pixels, prediction: Pixels, start = 0, length = truth.length): Confusion {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const end = Math.min(start + length, truth.length, prediction.length);
  for (let i = start; i < end; i++) {
    const t = (truth[i] as number) > THRESHOLD;
    const p = (prediction[i] as number) > THRESHOLD;
    if (t && p) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  return { tp, fp, fn };
}

/** TP/(TP+FN+FP+1e-7): an empty truth with an empty prediction scores 0, as in the thesis. */
export function iouOf(c: Confusion): number {
  return c.tp / (c.tp + c.fn + c.fp + EPSILON);
}

export function f1Of(c: Confusion): number {
  return c.tp / (EPSILON + c.tp + 0.5 * (c.fp + c.fn));
}

/** Per-image scores for images stored back to back (`pixelsPerImage` each), then the means. */
export function scoreImages(truth: Pixels, prediction: Pixels, pixelsPerImage: number): SegmentationScores {
  const perImage: { iou: number; f1: number }[] = [];
  for (let start = 0; start + pixelsPerImage <= truth.length; start += pixelsPerImage) {
    const c = confusion(truth, prediction, start, pixelsPerImage);
    perImage.push({ iou: iouOf(c), f1: f1Of(c) });
  }
  return { iou: mean(perImage.map((s) => s.iou)), f1: mean(perImage.map((s) => s.f1)), perImage };
}

/** Scores a batch of tensors [B, ...] per image (first axis), reading them once. */
export async function scoreTensors(truth: tf.Tensor, prediction: tf.Tensor): Promise<SegmentationScores> {
  const batch = truth.shape[0] ?? 1;
  const [t, p] = await Promise.all([truth.data(), prediction.data()]);
  return scoreImages(t, p, t.length / batch);
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}
