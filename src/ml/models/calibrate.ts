/**
 * Data-driven start for the activation gammas of a BLU-Net: each BinarySignActivation, and the inner
 * binariser of each BinarySeparableConv2D with `separableBinarise`, gets the greedy residual fit
 * (the same as for kernels) to the values it sees on a few training images. Layers are fitted in
 * model order, so each fit sees the already-calibrated layers before it.
 */
import * as tf from '@tensorflow/tfjs';
import { BinaryConv2D, BinarySeparableConv2D, BinarySignActivation } from './binary-layers.js';
import { fitKernelGammas, fitResidualGammas, OUTPUT_LAYER_NAME, updateLayerWeights } from './transfer.js';

export interface CalibratedActivation {
  readonly layer: string;
  readonly gammas: number[];
}

/** An inner tensor of `model` on `images`; the caller disposes it. */
function probeTensor(model: tf.LayersModel, tensor: tf.SymbolicTensor | tf.SymbolicTensor[], images: tf.Tensor4D): tf.Tensor {
  // A probe model shares the layers; it must not be disposed (that would dispose their weights).
  return tf.model({ inputs: model.inputs, outputs: tensor as tf.SymbolicTensor }).predict(images) as tf.Tensor;
}

/** Reads the values of an inner tensor of `model` on `images` (before they are freed). */
function probe<T>(
  model: tf.LayersModel,
  tensor: tf.SymbolicTensor | tf.SymbolicTensor[],
  images: tf.Tensor4D,
  read: (values: Float32Array) => T,
): T {
  const out = probeTensor(model, tensor, images);
  const result = read(out.dataSync() as Float32Array);
  out.dispose();
  return result;
}

/** Fits one activation's gammas to the pre-activations it sees on `images`; returns them. */
function fitActivation(model: tf.LayersModel, act: BinarySignActivation, images: tf.Tensor4D): number[] {
  const gammas = probe(model, act.input, images, (values) => fitResidualGammas(values, act.levels));
  const value = tf.tensor1d(gammas, 'float32');
  act.setWeights([value]);
  value.dispose();
  return gammas;
}

/** Whether `layer` is a separable conv with an activation binariser between depthwise and pointwise. */
export const hasInnerBinariser = (layer: tf.layers.Layer): layer is BinarySeparableConv2D =>
  layer instanceof BinarySeparableConv2D && layer.separableBinarise;

/** Fits the inner binariser's gammas to the depthwise output the layer computes on `images`; returns them. */
export function fitInnerBinariser(model: tf.LayersModel, layer: BinarySeparableConv2D, images: tf.Tensor4D): number[] {
  const input = tf.model({ inputs: model.inputs, outputs: layer.input as tf.SymbolicTensor }).predict(images) as tf.Tensor4D;
  const depthwise = layer.depthwiseOutput(input);
  const gammas = fitResidualGammas(depthwise.dataSync() as Float32Array, layer.activationLevels);
  tf.dispose([input, depthwise]);
  updateLayerWeights(layer, (name, value) => (name === 'activation_gamma' ? tf.tensor1d(gammas, 'float32') : value));
  return gammas;
}

export function calibrateActivationGammas(model: tf.LayersModel, images: tf.Tensor4D): CalibratedActivation[] {
  const fitted: CalibratedActivation[] = [];
  for (const layer of model.layers) {
    if (layer instanceof BinarySignActivation) fitted.push({ layer: layer.name, gammas: fitActivation(model, layer, images) });
    else if (hasInnerBinariser(layer)) fitted.push({ layer: `${layer.name}/activation`, gammas: fitInnerBinariser(model, layer, images) });
  }
  return fitted;
}

/** Weight-scale gammas for every binary conv of a model (e.g. a BLU-Net trained from scratch). */
export function fitAllKernelGammas(model: tf.LayersModel): number {
  const convs = model.layers.filter((l) => l instanceof BinaryConv2D || l instanceof BinarySeparableConv2D);
  convs.forEach(fitKernelGammas);
  return convs.length;
}

// Weights scaled to change a binary conv's output scale: its (pointwise) gammas and the bias. The latent
// kernel is left alone: shrinking it (the first version of `matched` did, so that the greedy signs
// stayed exact) makes every Adam step of lr size flip many more of its signs, and that BLU-Net never
// left val IoU 0. With the kernel fixed the residual signs move a little, so the scale is matched
// iteratively. Depthwise stays; the pointwise gammas carry the scale.
const OUTPUT_SCALED = new Set(['gamma', 'pointwise_gamma', 'bias']);
/** Scale-matching passes per layer, and the relative error at which matching stops. */
const MATCH_PASSES = 4;
const MATCH_TOLERANCE = 0.01;

function meanAbs(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.abs(values[i] as number);
  return values.length > 0 ? sum / values.length : 0;
}

function outputScale(model: tf.LayersModel, layer: tf.layers.Layer, images: tf.Tensor4D): number {
  return probe(model, layer.output, images, meanAbs);
}

function scaleLayerOutput(layer: tf.layers.Layer, factor: number): void {
  updateLayerWeights(layer, (name, value) => (OUTPUT_SCALED.has(name) ? tf.mul(value, factor) : value));
}

/** Scales one layer's gammas and bias until its mean |output| is `target` (within 1 %); returns the total factor. */
function matchLayer(blu: tf.LayersModel, layer: tf.layers.Layer, images: tf.Tensor4D, target: number): number {
  let total = 1;
  for (let pass = 0; pass < MATCH_PASSES; pass++) {
    const current = outputScale(blu, layer, images);
    // A teacher layer whose ReLU output is all zero on these images gives no scale to match; keep it.
    if (!(current > 0 && target > 0) || Math.abs(target / current - 1) < MATCH_TOLERANCE) break;
    scaleLayerOutput(layer, target / current);
    total *= target / current;
  }
  return total;
}

/**
 * Teacher-matched start: walking the BLU-Net in order, each transferred conv (not the output) has its
 * gammas and bias scaled so its mean |output| on `images` equals the mean |output| of the lw_unet layer it came from, and each
 * activation's gammas are then fitted to what it sees. Without ReLU, magnitudes otherwise grow through
 * the decoder until the output sigmoid saturates. Returns the scale factors by layer.
 */
export function matchTeacherScales(blu: tf.LayersModel, lw: tf.LayersModel, images: tf.Tensor4D): Map<string, number> {
  const factors = new Map<string, number>();
  for (const layer of blu.layers) {
    if (layer instanceof BinarySignActivation) fitActivation(blu, layer, images);
    else if ((layer instanceof BinaryConv2D || layer instanceof BinarySeparableConv2D) && layer.name !== OUTPUT_LAYER_NAME) {
      if (hasInnerBinariser(layer)) fitInnerBinariser(blu, layer, images);
      const target = outputScale(lw, lw.getLayer(layer.name.replaceAll('Binary', '')), images);
      factors.set(layer.name, matchLayer(blu, layer, images, target));
    }
  }
  return factors;
}

/** Mean |logit| of the lw_unet's output conv on `images` (its sigmoid is fused, so from its weights). */
function teacherLogitScale(lw: tf.LayersModel, images: tf.Tensor4D): number {
  const layer = lw.getLayer(OUTPUT_LAYER_NAME);
  const [kernel, bias] = layer.getWeights() as [tf.Tensor4D, tf.Tensor1D];
  const padding = (layer.getConfig()['padding'] as 'same' | 'valid' | undefined) ?? 'same';
  const input = probeTensor(lw, layer.input as tf.SymbolicTensor, images) as tf.Tensor4D;
  const scale = tf.tidy(() => tf.mean(tf.abs(tf.add(tf.conv2d(input, kernel, 1, padding), bias))).dataSync()[0] ?? 0);
  input.dispose();
  return scale;
}

/**
 * Scales the BLU-Net's output conv (gammas and bias) so its mean |logit| on `images` is the lw_unet's.
 * Calibrated activation gammas follow magnitudes that grow through a decoder without ReLU, so the
 * transferred output conv can see inputs many times larger than in the lw_unet and start with a
 * saturated sigmoid (CPU experiment, seed 3: last gammas 24/14/11, training loss 11 at step 50, an
 * unstable run). Returns the factor applied.
 */
export function matchOutputLogits(blu: tf.LayersModel, lw: tf.LayersModel, images: tf.Tensor4D): number {
  return matchLayer(blu, blu.getLayer(OUTPUT_LAYER_NAME), images, teacherLogitScale(lw, images));
}
