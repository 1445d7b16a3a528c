import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend/index.js';
import {
  BinarySeparableConv2D,
  BinarySignActivation,
  fitResidualGammas,
  buildBluNet,
  buildLwUnet,
  calibrateActivationGammas,
  emulateTeacher,
  fitReluEmulation,
  lwUnetTwin,
  residualBinarize,
  transferLwUnetToBluNet,
  uniformGammas,
} from '../../../src/ml/models/index.js';

beforeAll(async () => {
  expect((await initBackend('cpu')).ok).toBe(true);
});

const quantised = (x: number[], gammas: number[]) =>
  tf.tidy(() => Array.from(residualBinarize(tf.tensor1d(x), tf.tensor1d(gammas)).dataSync()));

function correlation(a: Float32Array, b: Float32Array): number {
  const mean = (v: Float32Array) => v.reduce((s, x) => s + x, 0) / v.length;
  const [ma, mb] = [mean(a), mean(b)];
  let [ab, aa, bb] = [0, 0, 0];
  a.forEach((x, i) => {
    const y = (b[i] as number) - mb;
    ab += (x - ma) * y;
    aa += (x - ma) ** 2;
    bb += y * y;
  });
  return ab / Math.sqrt(aa * bb);
}

describe('ReLU emulation by a shifted residual quantiser', () => {
  it('uniform gammas sum to the range and give 2^levels equally spaced values', () => {
    const gammas = uniformGammas(0.7, 3);
    expect(gammas.reduce((a, b) => a + b, 0)).toBeCloseTo(0.7, 6);
    const values = [
      ...new Set(quantised([-5, -0.55, -0.45, -0.25, -0.05, 0.05, 0.25, 0.45, 0.55, 5], gammas).map((v) => v.toFixed(5))),
    ].map(Number);
    expect(values).toHaveLength(8);
    const gaps = values.slice(1).map((v, i) => v - (values[i] as number));
    gaps.forEach((g) => expect(g).toBeCloseTo(0.2, 4));
  });

  it('puts the ReLU corner at the bottom of the range for a channel around 0, and centres a channel that is always positive', () => {
    const channels = 2;
    const n = 2000;
    const values = new Float32Array(n * channels);
    for (let i = 0; i < n; i++) {
      values[i * channels] = -1 + (2 * i) / n; // straddles 0
      values[i * channels + 1] = 10 + (2 * i) / n; // 10..12, always positive
    }
    const fit = fitReluEmulation(values, channels, 3);
    expect(fit.offsets[0]).toBeCloseTo(fit.range, 6);
    expect(fit.offsets[1]).toBeGreaterThan(10);
    expect(fit.offsets[1]).toBeLessThan(12);
    const gammas = uniformGammas(fit.range, 3);
    for (let c = 0; c < channels; c++) {
      const x = Array.from({ length: n }, (_, i) => values[i * channels + c] as number);
      const emulated = quantised(
        x.map((v) => v - (fit.offsets[c] as number)),
        gammas,
      ).map((q) => q + (fit.offsets[c] as number));
      const error = emulated.reduce((s, q, i) => s + Math.abs(q - Math.max(0, x[i] as number)), 0) / n;
      expect(error).toBeLessThan(0.15);
    }
  });
});

describe('emulated start', () => {
  const images = () => tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 9) as tf.Tensor4D;
  const logits = (m: tf.LayersModel, x: tf.Tensor4D) =>
    (
      tf.model({ inputs: m.inputs, outputs: m.getLayer('logit_output').output as tf.SymbolicTensor }).predict(x) as tf.Tensor
    ).dataSync() as Float32Array;
  const teacherLogits = (lw: tf.LayersModel, x: tf.Tensor4D) =>
    ((lw.predict(x) as tf.Tensor).dataSync() as Float32Array).map((p) => Math.log(p / (1 - p)));
  const kernelsOf = (m: tf.LayersModel) =>
    m.layers.flatMap((l) => l.weights.filter((w) => /kernel(_\d+)?$/.test(w.originalName)).map((w) => Array.from(w.read().dataSync())));

  function transferred(): { lw: tf.LayersModel; blu: tf.LayersModel } {
    const lw = buildLwUnet({ baseFilters: 4, levels: 2, seed: 5 });
    const blu = buildBluNet({ baseFilters: 4, levels: 2, seed: 1, ste: 'range' });
    expect(transferLwUnetToBluNet(lw, blu, { gammaInit: 'weight-scale', transferOutput: true }).ok).toBe(true);
    return { lw, blu };
  }

  it('reproduces the teacher logits’ mean, keeps the latent kernels, and uses uniform activation gammas', () => {
    const { lw, blu } = transferred();
    const x = images();
    const before = kernelsOf(blu);
    const layers = emulateTeacher(blu, lw, x);
    expect(layers.map((l) => l.layer).at(-1)).toBe('logit_output');
    const mean = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b, 0) / v.length;
    expect(mean(logits(blu, x))).toBeCloseTo(mean(teacherLogits(lw, x)), 3);
    expect(kernelsOf(blu)).toEqual(before);
    for (const act of blu.layers.filter((l): l is BinarySignActivation => l instanceof BinarySignActivation)) {
      const g = Array.from(act.getWeights()[0]!.dataSync());
      g.slice(1).forEach((v, i) => expect(v).toBeCloseTo((g[i] as number) / 2, 5));
    }
  });

  it('starts closer to the teacher than the calibrated start', () => {
    const x = images();
    const emulated = transferred();
    emulateTeacher(emulated.blu, emulated.lw, x);
    const calibrated = transferred();
    calibrateActivationGammas(calibrated.blu, x);
    const target = teacherLogits(emulated.lw, x);
    expect(correlation(logits(emulated.blu, x), target)).toBeGreaterThan(correlation(logits(calibrated.blu, x), target));
  });

  it('with separable_binarise: fits each inner binariser to its depthwise output and still reproduces the teacher logits’ mean', () => {
    const lw = buildLwUnet({ baseFilters: 4, levels: 2, seed: 5 });
    const blu = buildBluNet({ baseFilters: 4, levels: 2, seed: 1, ste: 'range', separableBinarise: true });
    expect(transferLwUnetToBluNet(lw, blu, { gammaInit: 'weight-scale', transferOutput: true }).ok).toBe(true);
    const x = images();
    emulateTeacher(blu, lw, x);
    const mean = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b, 0) / v.length;
    expect(mean(logits(blu, x))).toBeCloseTo(mean(teacherLogits(lw, x)), 3);
    const separable = blu.layers.filter((l): l is BinarySeparableConv2D => l instanceof BinarySeparableConv2D);
    for (const layer of separable) {
      const input = tf.model({ inputs: blu.inputs, outputs: layer.input as tf.SymbolicTensor }).predict(x) as tf.Tensor4D;
      const expected = fitResidualGammas(layer.depthwiseOutput(input).dataSync(), layer.activationLevels);
      Array.from(layer.getWeights()[5]!.dataSync()).forEach((g, i) => expect(g).toBeCloseTo(expected[i]!, 4));
    }
  });

  it('from scratch, emulates the lw_unet that holds the BLU-Net’s own weights', () => {
    const blu = buildBluNet({ baseFilters: 4, levels: 2, seed: 3 });
    const twin = lwUnetTwin(blu, { baseFilters: 4, levels: 2, seed: 3 });
    for (const layer of twin.layers.filter((l) => l.weights.length > 0)) {
      const source = blu.getLayer(
        layer.name.replace('Lightweight_', 'BinaryLightweight_').replace(/(Separable)?Conv2D/, (m) => `Binary${m}`),
      );
      layer.getWeights().forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(Array.from(source.getWeights()[i]!.dataSync())));
    }
  });
});
