import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { residualBinarizeReference, residualBinarizeWith, type SteMode } from '../../../src/ml/models/binary-ops.js';
import { useTestBackend } from './setup-backend.js';

beforeAll(async () => {
  await useTestBackend();
});

type Quantise = (w: tf.Tensor, gammas: tf.Tensor, ste: SteMode) => tf.Tensor;

function gradsOf(
  quantise: Quantise,
  w: tf.Tensor,
  gammas: tf.Tensor,
  ste: SteMode,
  dy: tf.Tensor,
): { value: Float32Array; dw: Float32Array; dg: Float32Array } {
  const f = (a: tf.Tensor, b: tf.Tensor): tf.Tensor => tf.sum(tf.mul(quantise(a, b, ste), dy));
  const [dw, dg] = tf.grads(f)([w, gammas]);
  const value = quantise(w, gammas, ste);
  const out = { value: value.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array, dg: dg!.dataSync() as Float32Array };
  tf.dispose([dw!, dg!, value]);
  return out;
}

function worst(a: Float32Array, b: Float32Array): number {
  const scale = Math.max(1, ...Array.from(b, Math.abs));
  return Math.max(0, ...Array.from(a, (v, i) => Math.abs(v - b[i]!) / scale));
}

// host: a loop over host memory (small tensors); device: element-wise tensor ops (large ones).
const PLACEMENTS = ['host', 'device'] as const;

describe(`the fused residual quantiser (${PLACEMENTS.join(', ')}) equals the per-level formulation`, () => {
  // Gammas of mixed sign and scale, including a zero (abs has gradient −1 there in tfjs).
  const gammaSets = [[0.7], [0.5, -0.3], [1.4, 0.4, 0], [0.05, 0.02, 0.01]];
  for (const ste of ['unit', 'range'] as const) {
    for (const g of gammaSets) {
      it(`${ste} STE, ${g.length} level(s), gammas ${g.join(', ')}`, () => {
        const w = tf.randomNormal([2, 5, 7, 3], 0, 0.8, 'float32', 11);
        const dy = tf.randomNormal([2, 5, 7, 3], 0, 1, 'float32', 12);
        const gammas = tf.tensor1d(g);
        const reference = gradsOf(residualBinarizeReference, w, gammas, ste, dy);
        for (const placement of PLACEMENTS) {
          const fused = gradsOf((a, b, s) => residualBinarizeWith(placement, a, b, s), w, gammas, ste, dy);
          expect([...fused.value]).toEqual([...reference.value]);
          expect(worst(fused.dw, reference.dw)).toBeLessThan(1e-5);
          expect(worst(fused.dg, reference.dg)).toBeLessThan(1e-5);
          expect(fused.dw.some((v) => v !== 0)).toBe(true);
        }
        tf.dispose([w, dy, gammas]);
      });
    }
  }

  it('a NaN input stays NaN in every placement (a diverging layer must not look finite)', () => {
    const w = tf.tensor1d([0.3, Number.NaN, -2]);
    const gammas = tf.tensor1d([0.5, 0.3, 0.2]);
    for (const placement of PLACEMENTS) {
      const out = residualBinarizeWith(placement, w, gammas, 'range').dataSync();
      expect(Number.isNaN(out[1]), placement).toBe(true);
      expect(out[2], placement).toBeCloseTo(-1, 6);
    }
    tf.dispose([w, gammas]);
  });

  it('leaks no tensors over forward and backward', () => {
    const w = tf.randomNormal([4, 4, 8], 0, 1, 'float32', 1);
    const gammas = tf.variable(tf.tensor1d([0.5, 0.3, 0.2]));
    const step = (): void => {
      const { grads, value } = tf.variableGrads(
        () => tf.addN(PLACEMENTS.map((p) => tf.sum(residualBinarizeWith(p, w, gammas, 'range')))) as tf.Scalar,
        [gammas],
      );
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const before = tf.memory().numTensors;
    step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([w, gammas]);
  });
});
