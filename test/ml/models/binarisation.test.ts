import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BinarySignActivation, initialGammas, residualBinarize, steSign } from '../../../src/ml/models/index.js';
import { useTestBackend } from './setup-backend.js';

const X = [-1.5, -0.4, 0, 0.2, 0.9, 1.3];
const GAMMAS = initialGammas(3); // [3, 2, 1] / 6 = [0.5, 1/3, 1/6]

function expectClose(actual: ArrayLike<number>, expected: number[], tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(Math.abs((actual[i] as number) - e)).toBeLessThanOrEqual(tol));
}

/** d Σ f / d(x, gammas) through tf's autodiff. */
function tfGrads(x: number[], gammas: number[]): { dx: Float32Array; dg: Float32Array; out: Float32Array } {
  const xs = tf.tensor1d(x);
  const gs = tf.tensor1d(gammas);
  const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(residualBinarize(a, b));
  const [dx, dg] = tf.grads(f)([xs, gs]) as [tf.Tensor, tf.Tensor];
  const out = residualBinarize(xs, gs);
  const result = { dx: dx.dataSync() as Float32Array, dg: dg.dataSync() as Float32Array, out: out.dataSync() as Float32Array };
  tf.dispose([xs, gs, dx, dg, out]);
  return result;
}

/**
 * Plain-JS reference for the thesis expression c + stop_gradient(sign(c) − c), c = clip(r, −1, 1):
 * the stop-gradient parts are frozen at the base point, so finite differences of this function
 * give exactly the gradient the STE defines.
 */
function surrogateSum(x: number[], gammas: number[], frozen: number[][]): number {
  let total = 0;
  for (const [i, xi] of x.entries()) {
    let r = xi;
    gammas.forEach((g, m) => {
      const t = Math.abs(g) * (Math.max(-1, Math.min(1, r)) + (frozen[m]?.[i] ?? 0));
      r -= t;
      total += t;
    });
  }
  return total;
}

/** sign(r_m) − clip(r_m) at the base point, per level and element. */
function frozenOffsets(x: number[], gammas: number[]): number[][] {
  const residuals = [...x];
  return gammas.map((g) =>
    residuals.map((r, i) => {
      const c = Math.max(-1, Math.min(1, r));
      residuals[i] = r - Math.abs(g) * Math.sign(r);
      return Math.sign(r) - c;
    }),
  );
}

function centralDifference(f: (v: number[]) => number, v: number[], i: number, eps = 1e-4): number {
  const plus = [...v];
  const minus = [...v];
  plus[i] = (plus[i] as number) + eps;
  minus[i] = (minus[i] as number) - eps;
  return (f(plus) - f(minus)) / (2 * eps);
}

describe('residual binarisation', () => {
  beforeAll(async () => {
    await useTestBackend();
  });

  it('steSign: forward sign with sign(0)=0, backward dy·[|x|≤1]', () => {
    const x = tf.tensor1d([-1.5, -1, -0.4, 0, 0.2, 1, 1.3]);
    expectClose(steSign(x).dataSync(), [-1, -1, -1, 0, 1, 1, 1], 0);
    const dy = tf.tensor1d([2, 2, 2, 2, 2, 2, 2]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(steSign(v), dy)))(x);
    expectClose(g.dataSync(), [0, 2, 2, 2, 2, 2, 0], 0);
  });

  it('forward values on the hand-computed case', () => {
    // Level 1: b1 = sign(x) = [-1,-1,0,1,1,1]; r1 = x − 0.5·b1 = [-1.0, 0.1, 0, -0.3, 0.4, 0.8]
    // Level 2: b2 = sign(r1) = [-1,1,0,-1,1,1]; r2 = r1 − b2/3 = [-2/3, -0.2333, 0, 0.0333, 0.0667, 0.4667]
    // Level 3: b3 = sign(r2) = [-1,-1,0,1,1,1]
    // out = 0.5·b1 + b2/3 + b3/6 = [-1, -1/3, 0, 1/3, 1, 1]
    const { out } = tfGrads(X, GAMMAS);
    expectClose(out, [-1, -1 / 3, 0, 1 / 3, 1, 1]);
  });

  it('input gradient on the hand-computed case', () => {
    // out = x − r3, so dout/dx = 1 − Π_m (1 − |g_m|·d_m) with d_m = [|r_{m−1}| ≤ 1].
    // d1 = [0,1,1,1,1,0] (|−1.5|, |1.3| > 1); d2 = d3 = all 1 (|r1| = 1.0 at x0 is inside).
    // x0, x5: 1 − 1·(2/3)(5/6) = 4/9.  Others: 1 − (1/2)(2/3)(5/6) = 13/18.
    const { dx } = tfGrads(X, GAMMAS);
    expectClose(dx, [4 / 9, 13 / 18, 13 / 18, 13 / 18, 13 / 18, 4 / 9]);
  });

  it('gamma gradients on the hand-computed case', () => {
    // dΣout/dg_m = Σ_i b_m,i · Π_{k>m} (1 − |g_k| d_k,i); here every d_k>1 = 1 and Σb1 = Σb2 = Σb3 = 1:
    // g3: 1;  g2: 5/6;  g1: (2/3)(5/6) = 5/9.
    const { dg } = tfGrads(X, GAMMAS);
    expectClose(dg, [5 / 9, 5 / 6, 1]);
  });

  it('gradients match finite differences of the STE surrogate (random case)', () => {
    const x = [-2.3, -0.71, -0.05, 0.33, 0.62, 0.97, 1.7, 3.1];
    const gammas = [0.61, -0.29, 0.13]; // a negative gamma exercises |gamma|
    const frozen = frozenOffsets(x, gammas);
    const { dx, dg } = tfGrads(x, gammas);
    gammas.forEach((_, m) => {
      const fd = centralDifference((g) => surrogateSum(x, g, frozen), gammas, m);
      expect(Math.abs((dg[m] as number) - fd)).toBeLessThan(1e-4);
    });
    x.forEach((_, i) => {
      const fd = centralDifference((v) => surrogateSum(v, gammas, frozen), x, i);
      expect(Math.abs((dx[i] as number) - fd)).toBeLessThan(1e-4);
    });
  });

  it('where the STE passes no gradient, gamma gradients equal finite differences of the real forward', () => {
    // |x| large enough that every residual stays outside [−1, 1]: the forward is Σ |g_m|·b_m with
    // locally constant signs, so plain finite differences of the forward are the exact gradient.
    const x = [-5, -3.5, 4.2, 6];
    const gammas = [0.5, 1 / 3, 1 / 6];
    const forward = (g: number[]) => tf.tidy(() => tf.sum(residualBinarize(tf.tensor1d(x), tf.tensor1d(g))).dataSync()[0] as number);
    const { dg } = tfGrads(x, gammas);
    gammas.forEach((_, m) => expect(Math.abs((dg[m] as number) - centralDifference(forward, gammas, m, 1e-2))).toBeLessThan(1e-3));
  });

  it('BinarySignActivation layer: gammas start at [0.5, 1/3, 1/6] and the layer gives the same values', () => {
    const layer = new BinarySignActivation({ levels: 3 });
    const y = layer.apply(tf.tensor4d(X, [1, 1, 6, 1])) as tf.Tensor;
    expectClose((layer.getWeights()[0] as tf.Tensor).dataSync(), [0.5, 1 / 3, 1 / 6]);
    expectClose(y.dataSync(), [-1, -1 / 3, 0, 1 / 3, 1, 1]);
    expect(layer.trainableWeights).toHaveLength(1);
  });
});
