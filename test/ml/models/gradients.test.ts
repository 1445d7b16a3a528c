import { TEST_BACKEND } from '../test-backend.js';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { buildBluNet } from '../../../src/ml/models/index.js';
import { useTestBackend } from './setup-backend.js';

/** One BCE gradient of a tiny BLU-Net; returns the gradient norm per trainable variable. */
function gradientNorms(seed: number, separableBinarise = false): Map<string, number> {
  const model = buildBluNet({ baseFilters: 2, levels: 2, seed, separableBinarise });
  const x = tf.randomUniform([1, 16, 16, 1], 0, 1, 'float32', seed);
  const y = tf.cast(tf.greater(tf.randomUniform([1, 16, 16, 1], 0, 1, 'float32', seed + 1), 0.5), 'float32');
  const { grads } = tf.variableGrads(
    () => tf.metrics.binaryCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor).mean() as tf.Scalar,
  );
  const norms = new Map(Object.entries(grads).map(([name, g]) => [name, tf.norm(g).dataSync()[0] as number]));
  tf.dispose([x, y, ...Object.values(grads)]);
  model.dispose();
  return norms;
}

describe('gradients reach every BLU-Net variable (one BCE step, 16×16, width 2)', () => {
  for (const backend of ['cpu', TEST_BACKEND] as const) {
    it(`on ${backend}`, async () => {
      if (backend === 'cpu') await tf.setBackend('cpu');
      else await useTestBackend();
      expect(tf.getBackend()).toBe(backend);
      const norms = gradientNorms(4);
      // 3 BinaryConv2D × (kernel, bias, gamma) + 5 separable × (dw, pw, bias, dw γ, pw γ) + 7 activation γ.
      expect(norms.size).toBe(3 * 3 + 5 * 5 + 7);
      for (const [name, norm] of norms) {
        expect(Number.isFinite(norm), name).toBe(true);
        if (name.includes('gamma') || name.includes('kernel')) expect(norm, name).toBeGreaterThan(0);
      }
    });
  }

  it("with separable_binarise, also the inner binarisers' gammas and depthwise biases", async () => {
    await useTestBackend();
    const norms = gradientNorms(4, true);
    // + 5 separable × (inner γ, depthwise bias).
    expect(norms.size).toBe(3 * 3 + 5 * 7 + 7);
    const inner = [...norms].filter(([name]) => /activation_gamma|depthwise_bias/.test(name));
    expect(inner).toHaveLength(10);
    for (const [name, norm] of inner) expect(norm, name).toBeGreaterThan(0);
  });
});
