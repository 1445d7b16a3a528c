import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend/index.js';
import {
  BinarySeparableConv2D,
  BinarySignActivation,
  buildBluNet,
  calibrateActivationGammas,
  buildLwUnet,
  fitAllKernelGammas,
  fitResidualGammas,
  matchTeacherScales,
  loadModel,
  residualBinarize,
  saveModel,
  transferLwUnetToBluNet,
} from '../../../src/ml/models/index.js';

beforeAll(async () => {
  expect((await initBackend('cpu')).ok).toBe(true);
});

function slopes(x: number[], gammas: number[], ste: 'unit' | 'range'): number[] {
  return tf.tidy(() =>
    Array.from(
      tf
        .grad((t: tf.Tensor) => residualBinarize(t, tf.tensor1d(gammas), ste).sum())(tf.tensor1d(x))
        .dataSync(),
    ),
  );
}

describe('straight-through estimators of the residual quantiser', () => {
  const x = [-2.5, -0.7, 0.05, 0.3, 0.9, 2.5];

  it('have the same forward value', () => {
    const g = tf.tensor1d([0.5, 0.3, 0.2]);
    const values = (['unit', 'range'] as const).map((ste) => Array.from(residualBinarize(tf.tensor1d(x), g, ste).dataSync()));
    expect(values[1]).toEqual(values[0]);
  });

  it("unit: the thesis's hard-tanh per level, so the slope is 1 − Π(1 − g) inside |x| ≤ 1", () => {
    expect(slopes([0.3], [0.5, 1 / 3, 1 / 6], 'unit')[0]).toBeCloseTo(1 - 0.5 * (2 / 3) * (5 / 6), 5);
    // Small gammas: almost no gradient; large inputs: none, as no residual gets inside |r| ≤ 1.
    expect(slopes([0.3], [0.05, 0.02, 0.01], 'unit')[0]).toBeLessThan(0.1);
    expect(slopes([5], [0.5, 0.3, 0.2], 'unit')[0]).toBe(0);
  });

  it('range: slope 1 inside the range Σ|g| the quantiser can represent, 0 outside, at any scale', () => {
    for (const scale of [0.01, 1, 30]) {
      const g = [0.5, 0.3, 0.2].map((v) => v * scale);
      const s = slopes(
        x.map((v) => v * scale),
        g,
        'range',
      );
      s.forEach((v, i) => expect(v).toBeCloseTo(Math.abs(x[i]!) <= 1 ? 1 : 0, 4));
    }
  });
});

describe('gamma starts for BLU-Net', () => {
  it('keeps the STE in the saved model config', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'blu-ste-'));
    try {
      const model = buildBluNet({ baseFilters: 2, levels: 2, ste: 'range' });
      expect((await saveModel(model, dir)).ok).toBe(true);
      const loaded = await loadModel(dir);
      expect(
        loaded.ok &&
          loaded.value.layers.filter((l) => l instanceof BinarySignActivation).every((l) => (l as BinarySignActivation).ste === 'range'),
      ).toBe(true);
      expect(buildBluNet({ baseFilters: 2, levels: 2 }).layers.some((l) => l instanceof BinarySignActivation && l.ste === 'unit')).toBe(
        true,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('calibrates every activation in order on the pre-activations it sees, after the layers before it', () => {
    const model = buildBluNet({ baseFilters: 2, levels: 2, seed: 4 });
    fitAllKernelGammas(model);
    const images = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
    const fitted = calibrateActivationGammas(model, images);
    const acts = model.layers.filter((l): l is BinarySignActivation => l instanceof BinarySignActivation);
    expect(fitted.map((f) => f.layer)).toEqual(acts.map((a) => a.name));
    for (const act of [acts[0]!, acts.at(-1)!]) {
      const pre = tf.model({ inputs: model.inputs, outputs: act.input as tf.SymbolicTensor }).predict(images) as tf.Tensor;
      const expected = fitResidualGammas(pre.dataSync(), act.levels);
      Array.from(act.getWeights()[0]!.dataSync()).forEach((g, i) => expect(g).toBeCloseTo(expected[i]!, 5));
    }
    // A thesis start would be [0.5, 0.333, 0.167] everywhere; the fitted ones follow the data.
    expect(fitted.some((f) => Math.abs(f.gammas[0]! - 0.5) > 0.01)).toBe(true);
  });

  it('with separable_binarise, also fits each inner binariser, in model order, to the depthwise output + bias it sees', () => {
    const model = buildBluNet({ baseFilters: 2, levels: 2, seed: 4, separableBinarise: true, activationLevels: 2 });
    fitAllKernelGammas(model);
    const images = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
    const fitted = calibrateActivationGammas(model, images);
    const separable = model.layers.filter((l): l is BinarySeparableConv2D => l instanceof BinarySeparableConv2D);
    expect(fitted.filter((f) => f.layer.endsWith('/activation')).map((f) => f.layer)).toEqual(separable.map((l) => `${l.name}/activation`));
    const layer = separable.at(-1)!;
    const input = tf.model({ inputs: model.inputs, outputs: layer.input as tf.SymbolicTensor }).predict(images) as tf.Tensor4D;
    const expected = fitResidualGammas(layer.depthwiseOutput(input).dataSync(), 2);
    Array.from(layer.getWeights()[5]!.dataSync()).forEach((g, i) => expect(g).toBeCloseTo(expected[i]!, 5));
    expect(Math.abs(expected[0]! - 2 / 3)).toBeGreaterThan(0.01);
  });

  it('fits the kernel gammas of every binary conv, the output layer included', () => {
    const model = buildBluNet({ baseFilters: 2, levels: 2, seed: 4 });
    const out = model.getLayer('logit_output');
    const kernel = out.getWeights()[0]!.dataSync();
    expect(fitAllKernelGammas(model)).toBe(
      model.layers.filter((l) => /Conv2D|logit_output/.test(l.name) && !(l instanceof BinarySignActivation)).length,
    );
    const expected = fitResidualGammas(kernel, 3);
    Array.from(out.getWeights().at(-1)!.dataSync()).forEach((g, i) => expect(g).toBeCloseTo(expected[i]!, 6));
  });

  it('matches every transferred conv to the scale of its lw_unet layer through gammas and bias, leaving the latent kernels alone', () => {
    const lw = buildLwUnet({ baseFilters: 2, levels: 2, seed: 5 });
    const blu = buildBluNet({ baseFilters: 2, levels: 2, seed: 1, ste: 'range' });
    expect(transferLwUnetToBluNet(lw, blu, { gammaInit: 'weight-scale' }).ok).toBe(true);
    const images = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 9) as tf.Tensor4D;
    const meanAbsOut = (m: tf.LayersModel, name: string) => {
      const y = tf.model({ inputs: m.inputs, outputs: m.getLayer(name).output as tf.SymbolicTensor }).predict(images) as tf.Tensor;
      return tf.mean(tf.abs(y)).dataSync()[0]!;
    };
    const kernelsOf = (m: tf.LayersModel) =>
      m.layers.flatMap((l) => l.weights.filter((w) => /kernel$/.test(w.originalName)).map((w) => Array.from(w.read().dataSync())));
    const before = kernelsOf(blu);
    const factors = matchTeacherScales(blu, lw, images);
    expect(factors.size).toBeGreaterThan(0);
    expect(factors.has('logit_output')).toBe(false);
    for (const name of factors.keys()) {
      const target = meanAbsOut(lw, name.replaceAll('Binary', ''));
      expect(Math.abs(meanAbsOut(blu, name) / target - 1)).toBeLessThan(0.02);
    }
    expect(kernelsOf(blu)).toEqual(before);
  });
});
