import type * as tf from '@tensorflow/tfjs';
import { evalPatch, patchesToBatch, trainPatch, type Batch, type TrainPatchOptions } from '../data/batches.js';
import type { Patch } from '../data/crop.js';
import type { Sample } from '../data/types.js';
import { shuffled, type Rng } from '../random.js';

/**
 * The sample lists for each step of one epoch. By default one pass over a fresh shuffle (the
 * thesis reshuffles every epoch; the last batch may be smaller). With an explicit step count,
 * full batches are drawn from successive shuffles.
 */
export function epochSchedule(train: readonly Sample[], batchSize: number, steps: number | undefined, rng: Rng): Sample[][] {
  let order = shuffled(train, rng);
  const batches: Sample[][] = [];
  if (steps === undefined) {
    for (let start = 0; start < order.length; start += batchSize) batches.push(order.slice(start, start + batchSize));
    return batches;
  }
  let cursor = 0;
  for (let s = 0; s < steps; s++) {
    const batch: Sample[] = [];
    while (batch.length < batchSize && order.length > 0) {
      if (cursor === order.length) [order, cursor] = [shuffled(train, rng), 0];
      batch.push(order[cursor++] as Sample);
    }
    batches.push(batch);
  }
  return batches;
}

function nonEmpty(patches: Patch[]): [Patch, ...Patch[]] | undefined {
  const [first, ...rest] = patches;
  return first ? [first, ...rest] : undefined;
}

export function makeTrainBatch(samples: readonly Sample[], rng: Rng, options: TrainPatchOptions): Batch | undefined {
  const patches = nonEmpty(samples.map((s) => trainPatch(s, rng, options)));
  return patches ? patchesToBatch(patches) : undefined;
}

/** Centre-cropped validation batches, built lazily so only one batch lives at a time. */
export function* evalBatches(samples: readonly Sample[], cropSize: number, batchSize: number): Generator<Batch> {
  for (let start = 0; start < samples.length; start += batchSize) {
    const patches = nonEmpty(samples.slice(start, start + batchSize).map((s) => evalPatch(s, cropSize)));
    if (patches) yield patchesToBatch(patches);
  }
}

export function disposeBatch(batch: Batch): void {
  batch.x.dispose();
  batch.y.dispose();
}

/** Batch size of a 4-D tensor (its first dimension). */
export function batchCount(t: tf.Tensor): number {
  return t.shape[0] ?? 1;
}
