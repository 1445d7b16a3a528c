import { TEST_BACKEND } from '../test-backend.js';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend/index.js';
import { buildBluNet, buildLwUnet, buildUnet } from '../../../src/ml/models/index.js';
import { hostRandom } from './helpers.js';

// The real thesis models at toy size: proves no kernel they need is missing on wasm.
const SIZE = 32;
const OPTS = { baseFilters: 4, levels: 3, seed: 1 };
const builders: Record<string, () => tf.LayersModel> = {
  unet: () => buildUnet(OPTS),
  lw_unet: () => buildLwUnet(OPTS),
  blu_net: () => buildBluNet(OPTS),
};

function batch(n: number): { x: tf.Tensor4D; y: tf.Tensor4D } {
  const shape = [n, SIZE, SIZE, 1];
  const x = tf.tensor4d(
    hostRandom(shape, 1).values.map((v) => (v + 1) / 2),
    shape as [number, number, number, number],
  );
  const y = tf.tensor4d(
    hostRandom(shape, 2).values.map((v) => (v > 0.2 ? 1 : 0)),
    shape as [number, number, number, number],
  );
  return { x, y };
}

async function gradients(backend: string, name: string, weights?: tf.Tensor[]): Promise<{ grads: Float32Array[]; weights: tf.Tensor[] }> {
  await tf.setBackend(backend);
  const model = builders[name]!();
  if (weights !== undefined) model.setWeights(weights);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { x, y } = batch(1);
  const { value, grads } = tf.variableGrads(
    () => tf.metrics.binaryCrossentropy(y, model.predict(x) as tf.Tensor).mean() as tf.Scalar,
    vars,
  );
  const out = await Promise.all(vars.map(async (v) => (await grads[v.name]!.data()) as Float32Array));
  const saved = model.getWeights().map((w) => tf.tensor(w.dataSync(), w.shape));
  tf.dispose([x, y, value, ...Object.values(grads)]);
  model.dispose();
  return { grads: out, weights: saved };
}

beforeAll(async () => {
  expect((await initBackend(TEST_BACKEND)).ok).toBe(true);
});

describe(`real thesis models train on ${TEST_BACKEND}`, () => {
  for (const name of Object.keys(builders)) {
    it(`${name}: Adam steps at batch 2 give finite losses and leak nothing`, async () => {
      await tf.setBackend(TEST_BACKEND);
      const model = builders[name]!();
      model.compile({ optimizer: tf.train.adam(1e-3), loss: 'binaryCrossentropy' });
      const { x, y } = batch(2);
      const losses: number[] = [];
      let idsAfterSecond = 0;
      for (let step = 0; step < 4; step++) {
        losses.push((await model.trainOnBatch(x, y)) as number);
        if (step === 1) idsAfterSecond = tf.backend().numDataIds();
      }
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(tf.backend().numDataIds()).toBe(idsAfterSecond);
      tf.dispose([x, y]);
      model.dispose();
    });
  }

  // BLU-Net is left out: max-pooling binarised activations has exact ties that cpu and wasm break differently.
  for (const name of ['unet', 'lw_unet']) {
    it(`${name}: gradients at batch 1 match the cpu backend`, async () => {
      const ours = await gradients(TEST_BACKEND, name);
      const cpu = await gradients('cpu', name, ours.weights);
      let worst = 0;
      for (const [i, g] of ours.grads.entries()) {
        const ref = cpu.grads[i]!;
        const scale = Math.max(1e-8, ...Array.from(ref, Math.abs));
        for (let j = 0; j < g.length; j++) worst = Math.max(worst, Math.abs(g[j]! - ref[j]!) / scale);
      }
      tf.dispose(ours.weights);
      tf.dispose(cpu.weights);
      expect(worst).toBeLessThan(1e-4);
    });
  }
});
