import { TEST_BACKEND } from '../test-backend.js';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend/index.js';
import { hostRandom } from './helpers.js';
import { tinyBinaryNet, tinyLwUnet, tinyUnet } from './tiny-models.js';

type Builder = () => tf.LayersModel;
interface Grads {
  loss: number;
  grads: Float32Array[];
}

const SIZE = 16;
const imageOf = (batch: number, seed: number): tf.Tensor4D =>
  tf.tensor4d(
    hostRandom([batch, SIZE, SIZE, 1], seed).values.map((v) => (v + 1) / 2),
    [batch, SIZE, SIZE, 1],
  );
const maskOf = (batch: number, seed: number): tf.Tensor4D =>
  tf.tensor4d(
    hostRandom([batch, SIZE, SIZE, 1], seed).values.map((v) => (v > 0 ? 1 : 0)),
    [batch, SIZE, SIZE, 1],
  );

/** BCE + L2 gradients of every trainable weight, with weights copied in so both backends agree. */
async function layerGrads(
  backend: string,
  build: Builder,
  weights: Float32Array[] | undefined,
): Promise<{ g: Grads; weights: Float32Array[] }> {
  await tf.setBackend(backend);
  const model = build();
  if (weights !== undefined) model.setWeights(weights.map((w, i) => tf.tensor(w, model.getWeights()[i]?.shape)));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const x = imageOf(1, 3);
  const y = maskOf(1, 4);
  const { value, grads } = tf.variableGrads(() => {
    const bce = tf.metrics.binaryCrossentropy(y, model.predict(x) as tf.Tensor).mean() as tf.Scalar;
    return tf.addN([bce, ...model.calculateLosses()]) as tf.Scalar;
  }, vars);
  const g = {
    loss: (await value.data())[0] ?? NaN,
    grads: await Promise.all(vars.map(async (v) => (await grads[v.name]!.data()) as Float32Array)),
  };
  const host = await Promise.all(model.getWeights().map(async (w) => (await w.data()) as Float32Array));
  tf.dispose([x, y, value, ...Object.values(grads)]);
  model.dispose();
  return { g, weights: host };
}

function worstRelativeError(a: Grads, b: Grads): number {
  let worst = 0;
  for (const [i, ga] of a.grads.entries()) {
    const gb = b.grads[i]!;
    let scale = 1e-8;
    for (const v of gb) scale = Math.max(scale, Math.abs(v));
    for (let j = 0; j < ga.length; j++) worst = Math.max(worst, Math.abs(ga[j]! - gb[j]!) / scale);
  }
  return worst;
}

async function compareGradients(build: Builder): Promise<number> {
  const ours = await layerGrads(TEST_BACKEND, build, undefined);
  const cpu = await layerGrads('cpu', build, ours.weights);
  expect(Math.abs(ours.g.loss - cpu.g.loss)).toBeLessThan(1e-5);
  expect(ours.g.grads.length).toBe(cpu.g.grads.length);
  return worstRelativeError(ours.g, cpu.g);
}

beforeAll(async () => {
  const r = await initBackend(TEST_BACKEND);
  expect(r.ok).toBe(true);
});

describe(`training steps on ${TEST_BACKEND}`, () => {
  // Batch 1 only: the cpu backend's ResizeNearestNeighborGrad is wrong for batch > 1.
  it('U-Net (conv 3x3/2x2, pool, upsample, concat, sigmoid, BCE, L2) gradients match cpu', async () => {
    expect(await compareGradients(() => tinyUnet(SIZE, 4))).toBeLessThan(1e-4);
  });

  it('separable-conv U-Net gradients match cpu', async () => {
    expect(await compareGradients(() => tinyLwUnet(SIZE, 4))).toBeLessThan(1e-4);
  });

  it('binary net (customGrad STE, sign, abs, clip, computed separable kernels) gradients match cpu', async () => {
    const values = (shape: number[], seed: number): Float32Array => hostRandom(shape, 100 + seed).values;
    const run = async (backend: string): Promise<Float32Array[]> => {
      await tf.setBackend(backend);
      const net = tinyBinaryNet(4, values);
      const x = imageOf(1, 5);
      const y = maskOf(1, 6);
      const { grads } = tf.variableGrads(() => tf.metrics.binaryCrossentropy(y, net.predict(x)).mean() as tf.Scalar, net.variables);
      const out = await Promise.all(net.variables.map(async (v) => (await grads[v.name]!.data()) as Float32Array));
      tf.dispose([x, y, ...Object.values(grads), ...net.variables]);
      return out;
    };
    const ours = await run(TEST_BACKEND);
    const cpu = await run('cpu');
    expect(worstRelativeError({ loss: 0, grads: ours }, { loss: 0, grads: cpu })).toBeLessThan(1e-4);
    expect(ours.some((g) => g.some((v) => v !== 0))).toBe(true);
  });

  it('Adam trainOnBatch at batch 2 runs, lowers the loss and leaks no data', async () => {
    await tf.setBackend(TEST_BACKEND);
    const model = tinyLwUnet(SIZE, 4);
    model.compile({ optimizer: tf.train.adam(1e-2), loss: 'binaryCrossentropy' });
    const x = imageOf(2, 7);
    const y = maskOf(2, 8);
    const losses: number[] = [];
    const backend = tf.backend();
    let idsAfterFirst = 0;
    for (let step = 0; step < 6; step++) {
      losses.push((await model.trainOnBatch(x, y)) as number);
      if (step === 1) idsAfterFirst = backend.numDataIds();
    }
    expect(backend.numDataIds()).toBe(idsAfterFirst);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[5]!).toBeLessThan(losses[0]!);
    tf.dispose([x, y]);
    model.dispose();
  });
});
