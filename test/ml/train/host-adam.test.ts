import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend/index.js';
import { isGammaVariable } from '../../../src/ml/models/binary-layers.js';
import { ScheduledAdam } from '../../../src/ml/train/optimizer.js';
import { TEST_BACKEND } from '../test-backend.js';

beforeAll(async () => {
  expect((await initBackend(TEST_BACKEND)).ok).toBe(true);
});

/** Five Adam steps on a least-squares problem with one small and one large variable. */
// (tfjs's Optimizer overrides instanceof with duck typing, so the caller says how to change the rate.)
function train(optimizer: tf.Optimizer, setRate: (lr: number) => void, seed: number): Float32Array[] {
  const small = tf.variable(tf.randomNormal([3, 3, 4], 0, 1, 'float32', seed), true, `small${seed}`);
  const large = tf.variable(tf.randomNormal([40_000], 0, 1, 'float32', seed + 1), true, `large${seed}`);
  const target = tf.randomNormal([40_000], 0, 1, 'float32', seed + 2);
  for (let step = 0; step < 5; step++) {
    if (step === 3) setRate(0.05);
    optimizer.minimize(() => tf.add(tf.sum(tf.square(tf.sub(small, 0.5))), tf.mean(tf.square(tf.sub(large, target)))) as tf.Scalar);
  }
  const out = [small.dataSync() as Float32Array, large.dataSync() as Float32Array];
  tf.dispose([small, large, target]);
  return out;
}

describe('ScheduledAdam (host loop for small variables) matches tfjs Adam', () => {
  it('gives the same weights after 5 steps with a learning-rate change', async () => {
    const scheduled = new ScheduledAdam(0.1);
    const ours = train(scheduled, (lr) => scheduled.setLearningRate(lr), 3);
    const plain = tf.train.adam(0.1, 0.9, 0.999, 1e-7);
    const theirs = train(plain, (lr) => Object.assign(plain, { learningRate: lr }), 3);
    for (const [i, values] of ours.entries()) {
      const reference = theirs[i]!;
      const worst = Math.max(...Array.from(values, (v, j) => Math.abs(v - reference[j]!)));
      expect(worst).toBeLessThan(1e-5);
    }
    // Only the large variable has tfjs-side moments: the small one went through the host loop.
    const tfjsMoments = (await scheduled.getWeights()).map((w) => w.name);
    expect(tfjsMoments.some((n) => n.startsWith('large3'))).toBe(true);
    expect(tfjsMoments.some((n) => n.startsWith('small3'))).toBe(false);
    scheduled.dispose();
    plain.dispose();
  });
});

describe('ScheduledAdam with a relative learning rate', () => {
  /** One Adam step on Σx with x = `start` everywhere; returns how far each variable moved. */
  function firstStep(relative: ((name: string) => boolean) | undefined, start: number, size: number): number {
    const optimizer = new ScheduledAdam(1e-3, relative);
    const x = tf.variable(tf.fill([size], start), true, `layer_${start}_${size}_${relative ? 'r' : 'a'}/gamma`);
    optimizer.minimize(() => tf.sum(x) as tf.Scalar, false, [x]);
    const moved = Math.abs((x.dataSync()[0] ?? Number.NaN) - start);
    x.dispose();
    optimizer.dispose();
    return moved;
  }

  it('steps picked variables by lr × their mean |value|, whatever their size, and others by lr', () => {
    const gammas = (name: string): boolean => name.endsWith('/gamma');
    // Adam's first step is lr·sign(gradient), so these are exact up to epsilon.
    expect(firstStep(undefined, 0.01, 3)).toBeCloseTo(1e-3, 6);
    expect(firstStep(gammas, 0.01, 3)).toBeCloseTo(1e-5, 8);
    expect(firstStep(gammas, 2, 3)).toBeCloseTo(2e-3, 6);
    // Large picked variables take the host loop too (a GPU backend would otherwise skip the scaling).
    expect(firstStep(gammas, 0.5, 40_000)).toBeCloseTo(5e-4, 6);
    expect(firstStep(() => false, 0.5, 40_000)).toBeCloseTo(1e-3, 6);
  });

  it('picks exactly the gamma weights of the binary layers by variable name', () => {
    for (const name of ['L0_BinaryConv2D_1/gamma', 'L1_Sep_1/depthwise_gamma', 'L1_Sep_1/pointwise_gamma', 'L0_Act/gamma_3']) {
      expect(isGammaVariable(name)).toBe(true);
    }
    for (const name of ['L0_BinaryConv2D_1/kernel', 'L1_Sep_1/bias', 'gamma_dense/kernel', 'L0/gammas']) {
      expect(isGammaVariable(name)).toBe(false);
    }
  });
});
