import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../random.js';
import { augmentPatch, type AugmentOptions } from './augment.js';
import { cropSample, type CropOptions, type InsideRect, type Patch } from './crop.js';
import type { Sample } from './types.js';

/** x: images [B,H,W,1] in 0..1, y: masks [B,H,W,1] in {0,1}. The caller disposes both. */
export interface Batch {
  readonly x: tf.Tensor4D;
  readonly y: tf.Tensor4D;
  /** Per image: where the image is when its window was padded (see clearOutside). */
  readonly inside: readonly (InsideRect | undefined)[];
}

export interface TrainPatchOptions {
  readonly cropSize: number;
  /** false turns every augmentation off; an object toggles them one by one. */
  readonly augment?: AugmentOptions | false;
  readonly crop?: CropOptions;
}

/** Random crop (thesis rules or the optional foreground sampler), then the augmentation pipeline. */
export function trainPatch(sample: Sample, rng: Rng, options: TrainPatchOptions): Patch {
  const patch = cropSample(sample, options.cropSize, 'random', rng, options.crop);
  return options.augment === false ? patch : augmentPatch(patch, rng, options.augment);
}

/** Centre crop or pad, as for validation and test. */
export function evalPatch(sample: Sample, cropSize: number): Patch {
  return cropSample(sample, cropSize, 'center');
}

/** Packs equally sized patches into one pair of 4-D tensors. */
export function patchesToBatch(patches: readonly [Patch, ...Patch[]]): Batch {
  const size = patches[0].size;
  const pixels = size * size;
  const images = new Float32Array(patches.length * pixels);
  const masks = new Float32Array(patches.length * pixels);
  patches.forEach((patch, b) => {
    images.set(patch.image, b * pixels);
    for (let i = 0; i < pixels; i++) masks[b * pixels + i] = patch.mask[i] as number;
  });
  const shape: [number, number, number, number] = [patches.length, size, size, 1];
  return { x: tf.tensor4d(images, shape), y: tf.tensor4d(masks, shape), inside: patches.map((p) => p.inside) };
}
