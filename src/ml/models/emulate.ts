/**
 * `emulated` start: the BLU-Net begins as a quantised copy of a ReLU network (the distilled lw_unet it was
 * transferred from, or, from scratch, an lw_unet holding the BLU-Net's own latent weights).
 *
 * A BLU-Net has no ReLU: its sign activations quantise symmetrically around 0, so transferred weights meet
 * features of the wrong shape. With a shift β the residual quantiser emulates a ReLU: for uniform gammas
 * summing to β, Q(z − β) + β is 0 for z ≤ 0, ≈ z up to 2β, and 2β above (the `range` STE passes gradient
 * exactly on (0, 2β), like a clipped ReLU). −β goes into the conv's bias; +β would be a constant input to
 * the next conv, so walking the model in order, each conv's bias is corrected per channel until its mean
 * output equals the teacher's pre-activation mean on the calibration images. That also removes the mean
 * error of binarising the weights. No layer, and no latent kernel, changes: only biases and gammas.
 */
import * as tf from '@tensorflow/tfjs';
import { BinaryConv2D, BinarySeparableConv2D, BinarySignActivation } from './binary-layers.js';
import { fitInnerBinariser, hasInnerBinariser } from './calibrate.js';
import { updateLayerWeights } from './transfer.js';
import { buildLwUnet, type UnetOptions } from './unet.js';

export interface EmulatedLayer {
  readonly layer: string;
  /** Range of the activation that follows (0 for the output layer), and its per-channel offsets. */
  readonly range: number;
  readonly offsets: readonly number[];
  /** Mean |bias correction| applied, over channels. */
  readonly biasCorrection: number;
}

// Fit passes per conv (scale, then mean): rescaled gammas move some residual signs of the kernel.
const FIT_PASSES = 3;
// The fit of β looks at a sample of the pre-activations; enough for stable quantiles.
const FIT_SAMPLE = 8192;

const isBinaryConv = (l: tf.layers.Layer): l is BinaryConv2D | BinarySeparableConv2D =>
  l instanceof BinaryConv2D || l instanceof BinarySeparableConv2D;

/** An inner tensor of `model` on `images`; the caller disposes it. */
function probeTensor(model: tf.LayersModel, tensor: tf.SymbolicTensor, images: tf.Tensor4D): tf.Tensor4D {
  // A probe model shares the layers; it must not be disposed (that would dispose their weights).
  return tf.model({ inputs: model.inputs, outputs: tensor }).predict(images) as tf.Tensor4D;
}

/** The teacher conv's output before its activation (ReLU or sigmoid), computed from its weights. */
function teacherPreActivation(teacher: tf.LayersModel, name: string, images: tf.Tensor4D): tf.Tensor4D {
  const layer = teacher.getLayer(name);
  const input = probeTensor(teacher, layer.input as tf.SymbolicTensor, images);
  const [first, second, third] = layer.getWeights() as [tf.Tensor, tf.Tensor, tf.Tensor | undefined];
  const padding = (layer.getConfig()['padding'] as 'same' | 'valid' | undefined) ?? 'same';
  const out = tf.tidy(() =>
    third === undefined
      ? tf.add(tf.conv2d(input, first as tf.Tensor4D, 1, padding), second)
      : tf.add(tf.separableConv2d(input, first as tf.Tensor4D, second as tf.Tensor4D, 1, padding), third),
  );
  input.dispose();
  return out as tf.Tensor4D;
}

function addToBias(layer: tf.layers.Layer, delta: tf.Tensor | number): void {
  updateLayerWeights(layer, (name, value) => (name === 'bias' ? tf.add(value, delta) : value));
}

// The gammas that carry a conv's output scale (pointwise for separable convs), scaled with the bias.
const SCALE_CARRIERS = new Set(['gamma', 'pointwise_gamma', 'bias']);

/** Least-squares scale of `current` onto `target`, each centred per channel (1 when undefined). */
function fittedScale(current: tf.Tensor4D, target: tf.Tensor4D): number {
  return tf.tidy(() => {
    const c = tf.sub(current, tf.mean(current, [0, 1, 2]));
    const t = tf.sub(target, tf.mean(target, [0, 1, 2]));
    const [cross, power] = [tf.sum(tf.mul(c, t)).dataSync()[0] ?? 0, tf.sum(tf.square(c)).dataSync()[0] ?? 0];
    const scale = cross / power;
    return Number.isFinite(scale) && scale > 0 ? scale : 1;
  });
}

/**
 * Fits the conv's output to `target` (the teacher's pre-activation): its scale by the gammas (least
 * squares; the residual signs then move a little, hence passes), then its per-channel mean by the bias.
 * Returns the mean |bias change| of the last pass.
 */
function fitToTeacher(student: tf.LayersModel, conv: tf.layers.Layer, target: tf.Tensor4D, images: tf.Tensor4D): number {
  let change = 0;
  for (let pass = 0; pass < FIT_PASSES; pass++) {
    let current = probeTensor(student, conv.output as tf.SymbolicTensor, images);
    const scale = fittedScale(current, target);
    updateLayerWeights(conv, (name, value) => (SCALE_CARRIERS.has(name) ? tf.mul(value, scale) : value));
    current.dispose();
    current = probeTensor(student, conv.output as tf.SymbolicTensor, images);
    const delta = tf.tidy(() => tf.sub(tf.mean(target, [0, 1, 2]), tf.mean(current, [0, 1, 2])));
    current.dispose();
    change = tf.tidy(() => tf.mean(tf.abs(delta)).dataSync()[0] ?? 0);
    addToBias(conv, delta);
    delta.dispose();
  }
  return change;
}

/** Gammas of `levels` uniform residual levels summing to `shift` (Q then has 2^levels equally spaced values). */
export function uniformGammas(shift: number, levels: number): number[] {
  const denominator = 2 ** levels - 1;
  return Array.from({ length: levels }, (_, m) => (shift * 2 ** (levels - 1 - m)) / denominator);
}

/** The greedy residual quantiser (sign(0) = 0, as the forward pass). */
function quantise(x: number, gammas: readonly number[]): number {
  let r = x;
  let q = 0;
  for (const g of gammas) {
    const step = g * Math.sign(r);
    q += step;
    r -= step;
  }
  return q;
}

/** Up to FIT_SAMPLE values of each channel of an NHWC tensor's data, in golden-ratio (Weyl) steps. */
function channelSamples(values: Float32Array, channels: number): Float32Array[] {
  const perChannel = Math.floor(values.length / channels);
  const count = Math.min(perChannel, FIT_SAMPLE);
  const step = perChannel <= FIT_SAMPLE ? 1 : Math.floor(perChannel * 0.6180339887);
  return Array.from({ length: channels }, (_, c) =>
    Float32Array.from({ length: count }, (_, k) => values[((k * step) % perChannel) * channels + c] as number),
  );
}

function quantile(sorted: Float32Array, q: number): number {
  return sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);
}

/** Squared error of emulating ReLU on `values` with range `range` around offset `offset`. */
function emulationError(values: Float32Array, gammas: readonly number[], offset: number): number {
  let error = 0;
  for (const z of values) error += (quantise(z - offset, gammas) + offset - Math.max(0, z)) ** 2;
  return error;
}

export interface ReluEmulation {
  /** Sum of the activation's gammas (half the width of what it represents). */
  readonly range: number;
  /** Per channel: the value the quantiser's range is centred on (moved into the conv's bias). */
  readonly offsets: number[];
}

/** The best offset for one channel, and its error, for a given range. */
function bestOffset(
  values: Float32Array,
  sorted: Float32Array,
  gammas: readonly number[],
  range: number,
): { offset: number; error: number } {
  // ReLU's corner at the bottom of the range, or the range centred on the channel's bulk (for channels
  // that are almost always positive or almost always negative).
  const candidates = [range, ...[0.1, 0.3, 0.5, 0.7, 0.9].map((q) => quantile(sorted, q))];
  let best = { offset: range, error: Infinity };
  for (const offset of candidates) {
    const error = emulationError(values, gammas, offset);
    if (error < best.error) best = { offset, error };
  }
  return best;
}

/**
 * Per-layer gammas (the architecture's) and per-channel offsets: minimises the squared error of
 * Q(z − o_c) + o_c against ReLU(z) over every channel's values.
 */
export function fitReluEmulation(values: Float32Array, channels: number, levels: number): ReluEmulation {
  const samples = channelSamples(values, channels);
  const sorted = samples.map((v) => Float32Array.from(v).sort());
  const positive = Float32Array.from(values.filter((v) => v > 0)).sort();
  const spread = Float32Array.from(sorted.map((v) => quantile(v, 0.9) - quantile(v, 0.1)).filter((v) => v > 0)).sort();
  const ranges = [
    ...[0.5, 0.8, 0.9, 0.95, 0.99].map((q) => quantile(positive, q) / 2),
    ...[0.25, 0.5, 0.75].map((q) => quantile(spread, q) / 2),
  ].filter((r) => r > 0);
  let best: ReluEmulation & { error: number } = { range: 1e-3, offsets: samples.map(() => 1e-3), error: Infinity };
  for (const range of ranges) {
    const gammas = uniformGammas(range, levels);
    const fits = samples.map((v, c) => bestOffset(v, sorted[c] as Float32Array, gammas, range));
    const error = fits.reduce((a, f) => a + f.error, 0);
    if (error < best.error) best = { range, offsets: fits.map((f) => f.offset), error };
  }
  return { range: best.range, offsets: best.offsets };
}

/** Fits the activation after `conv` to emulate a ReLU and moves the offsets into the conv's bias. */
function emulateRelu(student: tf.LayersModel, act: BinarySignActivation, conv: tf.layers.Layer, images: tf.Tensor4D): ReluEmulation {
  const input = probeTensor(student, act.input as tf.SymbolicTensor, images);
  const fit = fitReluEmulation(input.dataSync() as Float32Array, input.shape[3], act.levels);
  input.dispose();
  const gammas = tf.tensor1d(uniformGammas(fit.range, act.levels));
  act.setWeights([gammas]);
  gammas.dispose();
  const offsets = tf.neg(tf.tensor1d(fit.offsets));
  addToBias(conv, offsets);
  offsets.dispose();
  return fit;
}

/** The activation a conv feeds, if any. */
function activationAfter(student: tf.LayersModel, conv: tf.layers.Layer): BinarySignActivation | undefined {
  return student.layers.find(
    (l): l is BinarySignActivation => l instanceof BinarySignActivation && l.inboundNodes[0]?.inboundLayers[0] === conv,
  );
}

/**
 * Walks the BLU-Net in order: each binary conv gets the teacher layer's pre-activation mean per channel,
 * then the activation after it emulates the teacher's ReLU. `teacherName` maps a BLU-Net layer name to
 * the teacher's. Kernel gammas should already fit the kernels (`weight-scale`).
 */
export function emulateTeacher(
  student: tf.LayersModel,
  teacher: tf.LayersModel,
  images: tf.Tensor4D,
  teacherName = (n: string) => n.replaceAll('Binary', ''),
): EmulatedLayer[] {
  const report: EmulatedLayer[] = [];
  for (const conv of student.layers.filter(isBinaryConv)) {
    // The inner binariser (separableBinarise) sees the depthwise output, which the fit below leaves
    // alone (it scales the pointwise gammas and the bias): fitted once, before.
    if (hasInnerBinariser(conv)) fitInnerBinariser(student, conv, images);
    const target = teacherPreActivation(teacher, teacherName(conv.name), images);
    const biasCorrection = fitToTeacher(student, conv, target, images);
    target.dispose();
    const act = activationAfter(student, conv);
    const fit = act ? emulateRelu(student, act, conv, images) : undefined;
    report.push({ layer: conv.name, range: fit?.range ?? 0, offsets: fit?.offsets ?? [], biasCorrection });
  }
  return report;
}

/** An lw_unet holding a BLU-Net's latent kernels and biases: the ReLU network a BLU-Net from scratch emulates. */
export function lwUnetTwin(blu: tf.LayersModel, shape: UnetOptions): tf.LayersModel {
  const twin = buildLwUnet(shape);
  for (const conv of blu.layers.filter(isBinaryConv)) {
    const target = twin.getLayer(conv.name.replaceAll('Binary', ''));
    target.setWeights(conv.getWeights().slice(0, target.weights.length));
  }
  return twin;
}
