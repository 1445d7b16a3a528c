/** Random BLU-Nets for the engine tests, and the fp32 simulation's outputs to compare with. */
import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { runEngineLogits } from '../../../src/ml/engine/forward.js';
import type { EngineKernels } from '../../../src/ml/engine/kernels.js';
import { parseEngineModel, type EngineModel } from '../../../src/ml/engine/model.js';
import { referenceKernels } from '../../../src/ml/engine/reference.js';
import { buildBluNet, exportPackedBluNet, type BluNetOptions } from '../../../src/ml/models/index.js';

export interface EngineCase {
  readonly label: string;
  readonly options: BluNetOptions;
  readonly seed: number;
  readonly height: number;
  readonly width: number;
}

const levelsOf = (a: number, c: number, d: number, p: number) => ({
  activationLevels: a,
  convLevels: c,
  depthwiseLevels: d,
  pointwiseLevels: p,
});

/** Odd sizes, channel counts that are not multiples of 32 (and above it), every level count 1–3. */
export const bluNetCases: readonly EngineCase[] = [
  {
    label: 'width 3, 1 level everywhere, 7×9',
    options: { baseFilters: 3, levels: 1, ...levelsOf(1, 1, 1, 1) },
    seed: 11,
    height: 7,
    width: 9,
  },
  {
    label: 'width 5, 2 levels everywhere, depth 2, 10×14',
    options: { baseFilters: 5, levels: 2, ...levelsOf(2, 2, 2, 2) },
    seed: 12,
    height: 10,
    width: 14,
  },
  {
    label: 'width 6, 3 levels everywhere, depth 3, 12×20',
    options: { baseFilters: 6, levels: 3, ...levelsOf(3, 3, 3, 3) },
    seed: 13,
    height: 12,
    width: 20,
  },
  {
    label: 'width 36 (2 words, partial), mixed levels a3 c2 d1 p3, depth 2, 6×10',
    options: { baseFilters: 36, levels: 2, ...levelsOf(3, 2, 1, 3) },
    seed: 14,
    height: 6,
    width: 10,
  },
  { label: 'width 8, thesis levels, depth 4, 24×16', options: { baseFilters: 8, levels: 4 }, seed: 15, height: 24, width: 16 },
];

/**
 * Model variants (issue 24): separableBinarise on and off × activation and weight levels 1–3
 * chosen independently, small widths and images. With it on, each separable conv's pointwise
 * runs as a 1×1 XNOR conv on the binarised depthwise output.
 */
export const variantCases: readonly EngineCase[] = [
  {
    label: 'separable_binarise, a1 c1 d1 p1, width 4, depth 2, 8×12',
    options: { baseFilters: 4, levels: 2, separableBinarise: true, ...levelsOf(1, 1, 1, 1) },
    seed: 21,
    height: 8,
    width: 12,
  },
  {
    label: 'separable_binarise, a2 c3 d1 p2, width 5, depth 2, 10×14',
    options: { baseFilters: 5, levels: 2, separableBinarise: true, ...levelsOf(2, 3, 1, 2) },
    seed: 22,
    height: 10,
    width: 14,
  },
  {
    label: 'separable_binarise, thesis levels a3 c3 d3 p3, width 6, depth 3, 12×20',
    options: { baseFilters: 6, levels: 3, separableBinarise: true },
    seed: 23,
    height: 12,
    width: 20,
  },
  {
    label: 'separable_binarise, a1 c3 d3 p3, width 36 (2 words, partial), depth 2, 6×10',
    options: { baseFilters: 36, levels: 2, separableBinarise: true, ...levelsOf(1, 3, 3, 3) },
    seed: 24,
    height: 6,
    width: 10,
  },
  {
    label: 'separable_binarise, a3 c1 d2 p1, width 8, depth 3, 16×12',
    options: { baseFilters: 8, levels: 3, separableBinarise: true, ...levelsOf(3, 1, 2, 1) },
    seed: 25,
    height: 16,
    width: 12,
  },
  {
    // The study's sep_a3w2; with the next case, every activation × weight level count has a case.
    label: 'separable_binarise, a3 c2 d3 p2, width 9, depth 2, 10×12',
    options: { baseFilters: 9, levels: 2, separableBinarise: true, ...levelsOf(3, 2, 3, 2) },
    seed: 28,
    height: 10,
    width: 12,
  },
  {
    label: 'separable_binarise, a1 c2 d1 p2, width 6, depth 2, 8×8',
    options: { baseFilters: 6, levels: 2, separableBinarise: true, ...levelsOf(1, 2, 1, 2) },
    seed: 29,
    height: 8,
    width: 8,
  },
  {
    label: 'thesis separable, a1 c3 d2 p1, width 5, depth 2, 8×10',
    options: { baseFilters: 5, levels: 2, ...levelsOf(1, 3, 2, 1) },
    seed: 26,
    height: 8,
    width: 10,
  },
  {
    label: 'thesis separable, a2 c1 d3 p2, width 7, depth 3, 12×8',
    options: { baseFilters: 7, levels: 3, ...levelsOf(2, 1, 3, 2) },
    seed: 27,
    height: 12,
    width: 8,
  },
];

/** Trained-looking weights: latent kernels, biases and gammas moved off their initial values. */
export function perturb(model: tf.LayersModel, seed: number): void {
  const values = model.getWeights().map((w, i) => tf.add(w, tf.randomNormal(w.shape, 0, 0.05, 'float32', seed * 1000 + i)));
  model.setWeights(values);
  tf.dispose(values);
}

/** The simulation's logits (output of logit_output) and probabilities for one image. */
export function simulate(
  model: tf.LayersModel,
  image: Float32Array,
  height: number,
  width: number,
): { logits: Float32Array; probabilities: Float32Array } {
  const logitModel = tf.model({ inputs: model.inputs, outputs: model.getLayer('logit_output').output as tf.SymbolicTensor });
  return tf.tidy(() => {
    const x = tf.tensor4d(image, [1, height, width, 1]);
    const logits = (logitModel.predict(x) as tf.Tensor).dataSync() as Float32Array;
    const probabilities = (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
    return { logits: logits.slice(), probabilities: probabilities.slice() };
  });
}

/**
 * A width-4 BLU-Net (thesis levels unless `variant` says otherwise) with exact-zero signs in the
 * level-0 conv's weights (w = 0 and w = |γ1|) and, through a zero first-conv bias, in the
 * activations of a black image region.
 */
export function zeroSignModel(
  weightZeros = true,
  variant: Partial<BluNetOptions> = {},
): { model: tf.LayersModel; options: BluNetOptions; image: Float32Array } {
  const options: BluNetOptions = { baseFilters: 4, levels: 2, seed: 9, ...variant };
  const model = buildBluNet(options);
  perturb(model, 9);
  const first = model.getLayer('Level0_BinaryConv2D_1');
  const [k1, b1, g1] = first.getWeights() as [tf.Tensor, tf.Tensor, tf.Tensor];
  first.setWeights([k1, tf.zerosLike(b1), g1]);
  if (weightZeros) {
    const conv = model.getLayer('Level0_BinaryConv2D_2');
    const [kernel, bias, gamma] = conv.getWeights() as [tf.Tensor, tf.Tensor, tf.Tensor];
    const values = kernel.dataSync().slice();
    values.fill(0, 0, 5);
    values.fill(Math.abs(gamma.dataSync()[0] as number), 5, 9);
    conv.setWeights([tf.tensor(values, kernel.shape), bias, gamma]);
  }
  const image = Float32Array.from({ length: 80 }, (_, i) => (i % 10 < 4 ? 0 : ((i * 37) % 11) / 11 + 0.05));
  return { model, options, image };
}

/** Exports `model` packed to `file` and reads it back as an engine model. */
export async function packedEngine(model: tf.LayersModel, file: string): Promise<EngineModel> {
  const info = await exportPackedBluNet(model, file);
  if (!info.ok) throw new Error(info.error.message);
  const parsed = parseEngineModel(new Uint8Array(await readFile(file)));
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.value;
}

/**
 * Runs case `c` on `kernels` and checks it against the TypeScript reference and the fp32
 * simulation: the same masks everywhere, probabilities within 1e-4 of the simulation, and (with
 * `relativeToReference`) logits within that relative distance of the reference. Returns the
 * engine, input and logits for further checks.
 */
export async function expectMatchesReference(kernels: EngineKernels, c: EngineCase, dir: string, relativeToReference?: number) {
  const model = buildBluNet(c.options);
  perturb(model, c.seed);
  const engine = await packedEngine(model, path.join(dir, `w${c.seed}.blupack`));
  const image = Float32Array.from(tf.randomUniform([c.height * c.width], 0, 1, 'float32', c.seed + 100).dataSync());
  const input = { height: c.height, width: c.width, pixels: image };
  const fast = runEngineLogits(engine, kernels, input);
  const ref = runEngineLogits(engine, referenceKernels, input);
  const sim = simulate(model, image, c.height, c.width);
  model.dispose();
  fast.forEach((v, i) => {
    const r = ref[i] as number;
    expect(v > 0).toBe(r > 0);
    expect(v > 0).toBe((sim.logits[i] as number) > 0);
    if (relativeToReference !== undefined) expect(Math.abs(v - r) / Math.max(1, Math.abs(r))).toBeLessThan(relativeToReference);
    expect(Math.abs(1 / (1 + Math.exp(-v)) - (sim.probabilities[i] as number))).toBeLessThan(1e-4);
  });
  return { engine, input, logits: fast };
}
