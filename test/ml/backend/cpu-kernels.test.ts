import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { registerCpuTrainingKernels } from '../../../src/ml/kernels/index.js';
import { hostRandom, maxAbs, maxAbsDiff, runKernelOn } from './helpers.js';

// Own file: it replaces the cpu kernel for the whole worker, after taking the native reference.
describe('composed Conv2DBackpropFilter on the cpu backend', () => {
  it('matches the native cpu kernel and frees its intermediates', async () => {
    const cases = [
      { x: [2, 9, 9, 3], dy: [2, 5, 5, 4], k: 3, stride: 2, pad: 'same' },
      { x: [1, 8, 8, 2], dy: [1, 8, 8, 3], k: 2, stride: 1, pad: 'same' },
      { x: [3, 6, 6, 4], dy: [3, 6, 6, 2], k: 1, stride: 1, pad: 'valid' },
    ];
    const inputs = cases.map((c, i) => ({ x: hostRandom(c.x, 3 + i), dy: hostRandom(c.dy, 9 + i) }));
    const attrsOf = (c: (typeof cases)[number]): tf.NamedAttrMap =>
      ({
        strides: [c.stride, c.stride],
        pad: c.pad,
        dataFormat: 'NHWC',
        filterShape: [c.k, c.k, c.x[3], c.dy[3]],
      }) as unknown as tf.NamedAttrMap;
    const native = [];
    for (const [i, c] of cases.entries()) native.push(await runKernelOn('cpu', 'Conv2DBackpropFilter', inputs[i]!, attrsOf(c)));
    registerCpuTrainingKernels();
    const before = tf.backend().numDataIds();
    for (const [i, c] of cases.entries()) {
      const ours = await runKernelOn('cpu', 'Conv2DBackpropFilter', inputs[i]!, attrsOf(c));
      expect(maxAbs(native[i]!)).toBeGreaterThan(0.1);
      expect(maxAbsDiff(ours, native[i]!)).toBeLessThan(2e-5);
    }
    expect(tf.backend().numDataIds()).toBe(before);
  });
});
