/**
 * Data-driven start for the activation gammas of a BLU-Net: each BinarySignActivation gets the greedy
 * residual fit (the same as for kernels) to the pre-activations it sees on a few training images.
 * Layers are fitted in model order, so each fit sees the already-calibrated layers before it.
 */
import * as tf from '@tensorflow/tfjs';
import { BinaryConv2D, BinarySeparableConv2D, BinarySignActivation } from './binary-layers.js';
import { fitKernelGammas, fitResidualGammas } from './transfer.js';

export interface CalibratedActivation {
  readonly layer: string;
  readonly gammas: number[];
}

export function calibrateActivationGammas(model: tf.LayersModel, images: tf.Tensor4D): CalibratedActivation[] {
  const activations = model.layers.filter((l): l is BinarySignActivation => l instanceof BinarySignActivation);
  return activations.map((act) => {
    // A probe model shares the layers; it must not be disposed (that would dispose their weights).
    const probe = tf.model({ inputs: model.inputs, outputs: act.input as tf.SymbolicTensor });
    const pre = probe.predict(images) as tf.Tensor;
    const gammas = fitResidualGammas(pre.dataSync(), act.levels);
    pre.dispose();
    const value = tf.tensor1d(gammas, 'float32');
    act.setWeights([value]);
    value.dispose();
    return { layer: act.name, gammas };
  });
}

/** Weight-scale gammas for every binary conv of a model (e.g. a BLU-Net trained from scratch). */
export function fitAllKernelGammas(model: tf.LayersModel): number {
  const convs = model.layers.filter((l) => l instanceof BinaryConv2D || l instanceof BinarySeparableConv2D);
  convs.forEach(fitKernelGammas);
  return convs.length;
}
