import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels, setWasmKernelVariant } from '../../../src/ml/kernels/index.js';
import { hostRandom, maxAbs, maxAbsDiff, runKernelOn, type HostTensor } from './helpers.js';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase {
  name: string;
  x: [number, number, number, number];
  k: number;
  outC: number; // output channels (conv) or channel multiplier (depthwise)
  stride: number;
  pad: Pad;
}

const conv2dCases: ConvCase[] = [
  { name: '3x3 s1 same b1', x: [1, 8, 8, 3], k: 3, outC: 4, stride: 1, pad: 'same' },
  { name: '3x3 s2 same b2 odd size', x: [2, 9, 9, 3], k: 3, outC: 5, stride: 2, pad: 'same' },
  { name: '3x3 s2 valid b2', x: [2, 10, 10, 3], k: 3, outC: 2, stride: 2, pad: 'valid' },
  { name: '2x2 s1 same b2 (up-conv)', x: [2, 8, 8, 4], k: 2, outC: 3, stride: 1, pad: 'same' },
  { name: '2x2 s2 valid b3', x: [3, 8, 8, 4], k: 2, outC: 6, stride: 2, pad: 'valid' },
  { name: '1x1 s1 valid b3', x: [3, 7, 7, 2], k: 1, outC: 4, stride: 1, pad: 'valid' },
  {
    name: '3x3 explicit pads > k-1',
    x: [2, 6, 7, 2],
    k: 3,
    outC: 3,
    stride: 1,
    pad: [
      [0, 0],
      [4, 1],
      [0, 2],
      [0, 0],
    ],
  },
];

const depthwiseCases: ConvCase[] = [
  { name: '3x3 s1 same b1 m1', x: [1, 8, 8, 3], k: 3, outC: 1, stride: 1, pad: 'same' },
  { name: '3x3 s2 same b2 m1', x: [2, 9, 9, 4], k: 3, outC: 1, stride: 2, pad: 'same' },
  { name: '3x3 s1 valid b2 m1', x: [2, 10, 10, 3], k: 3, outC: 1, stride: 1, pad: 'valid' },
  { name: '2x2 s1 same b3 m1', x: [3, 8, 8, 5], k: 2, outC: 1, stride: 1, pad: 'same' },
  { name: '2x2 s2 valid b2 m1', x: [2, 8, 8, 4], k: 2, outC: 1, stride: 2, pad: 'valid' },
  { name: '1x1 s1 valid b2 m1', x: [2, 5, 5, 6], k: 1, outC: 1, stride: 1, pad: 'valid' },
  { name: '3x3 s1 same b2 m2', x: [2, 7, 7, 3], k: 3, outC: 2, stride: 1, pad: 'same' },
];

function outSize(c: ConvCase): [number, number] {
  const conv = (n: number): number => {
    if (c.pad === 'same') return Math.ceil(n / c.stride);
    if (c.pad === 'valid') return Math.floor((n - c.k) / c.stride) + 1;
    return n; // explicit cases use stride 1 and are sized below
  };
  if (Array.isArray(c.pad)) {
    const [, [t, b], [l, r]] = c.pad;
    return [c.x[1] + t + b - c.k + 1, c.x[2] + l + r - c.k + 1];
  }
  return [conv(c.x[1]), conv(c.x[2])];
}

async function compareBackends(kernel: string, inputs: Record<string, HostTensor>, attrs: tf.NamedAttrMap): Promise<number> {
  const reference = await runKernelOn('cpu', kernel, inputs, attrs);
  const ours = await runKernelOn('wasm', kernel, inputs, attrs);
  expect(ours.shape).toEqual(reference.shape);
  expect(maxAbs(reference)).toBeGreaterThan(0.1); // a meaningful, non-degenerate comparison
  return maxAbsDiff(ours, reference);
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmTrainingKernels();
});

describe('Conv2D backprop kernels on wasm match the cpu backend', () => {
  for (const [i, c] of conv2dCases.entries()) {
    const [oh, ow] = outSize(c);
    const x = hostRandom(c.x, 11 + i);
    const dy = hostRandom([c.x[0], oh, ow, c.outC], 23 + i);
    const filter = hostRandom([c.k, c.k, c.x[3], c.outC], 37 + i);
    const common = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC' };
    it(`Conv2DBackpropFilter ${c.name}`, async () => {
      const attrs = { ...common, filterShape: filter.shape } as unknown as tf.NamedAttrMap;
      expect(await compareBackends('Conv2DBackpropFilter', { x, dy }, attrs)).toBeLessThan(2e-5);
    });
    it(`Conv2DBackpropInput ${c.name}`, async () => {
      const attrs = { ...common, inputShape: c.x } as unknown as tf.NamedAttrMap;
      expect(await compareBackends('Conv2DBackpropInput', { dy, filter }, attrs)).toBeLessThan(2e-5);
    });
  }
});

describe('Depthwise backprop kernels on wasm match the cpu backend', () => {
  for (const [i, c] of depthwiseCases.entries()) {
    const [oh, ow] = outSize(c);
    const x = hostRandom(c.x, 51 + i);
    const dy = hostRandom([c.x[0], oh, ow, c.x[3] * c.outC], 67 + i);
    const filter = hostRandom([c.k, c.k, c.x[3], c.outC], 79 + i);
    const common = { strides: [c.stride, c.stride], pad: c.pad, dilations: [1, 1] };
    it(`DepthwiseConv2dNativeBackpropFilter ${c.name}`, async () => {
      const attrs = { ...common, filterShape: filter.shape } as unknown as tf.NamedAttrMap;
      expect(await compareBackends('DepthwiseConv2dNativeBackpropFilter', { x, dy }, attrs)).toBeLessThan(2e-5);
    });
    it(`DepthwiseConv2dNativeBackpropFilter per-tap variant ${c.name}`, async () => {
      setWasmKernelVariant('per-tap');
      try {
        const attrs = { ...common, filterShape: filter.shape } as unknown as tf.NamedAttrMap;
        expect(await compareBackends('DepthwiseConv2dNativeBackpropFilter', { x, dy }, attrs)).toBeLessThan(2e-5);
      } finally {
        registerWasmTrainingKernels();
      }
    });
    it(`DepthwiseConv2dNativeBackpropInput ${c.name}`, async () => {
      const attrs = { ...common, inputShape: c.x } as unknown as tf.NamedAttrMap;
      expect(await compareBackends('DepthwiseConv2dNativeBackpropInput', { dy, filter }, attrs)).toBeLessThan(2e-5);
    });
  }
});

describe('composed kernels free every intermediate', () => {
  it('keeps backend.numDataIds() constant over repeated calls', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend();
    const x = tf.tensor(hostRandom([2, 9, 9, 3], 5).values, [2, 9, 9, 3]);
    const dy = tf.tensor(hostRandom([2, 5, 5, 3], 6).values, [2, 5, 5, 3]);
    const w = tf.tensor(hostRandom([3, 3, 3, 3], 7).values, [3, 3, 3, 3]);
    const dyFull = tf.tensor(hostRandom([2, 9, 9, 3], 8).values, [2, 9, 9, 3]);
    const callAll = (): void => {
      const outs = [
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x, dy: dyFull },
            { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', filterShape: [1, 1, 3, 3] },
          ),
        tf
          .engine()
          .runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [2, 2], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 3] }),
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropInput',
            { dy, filter: w },
            { strides: [2, 2], pad: 'same', dataFormat: 'NHWC', inputShape: [2, 9, 9, 3] },
          ),
        tf
          .engine()
          .runKernel(
            'DepthwiseConv2dNativeBackpropFilter',
            { x, dy },
            { strides: [2, 2], pad: 'same', dilations: [1, 1], filterShape: [3, 3, 3, 1] },
          ),
        tf
          .engine()
          .runKernel(
            'DepthwiseConv2dNativeBackpropInput',
            { dy, filter: tf.slice(w, [0, 0, 0, 0], [3, 3, 3, 1]) },
            { strides: [2, 2], pad: 'same', dilations: [1, 1], inputShape: [2, 9, 9, 3] },
          ),
      ] as tf.Tensor[];
      tf.dispose(outs);
    };
    tf.tidy(callAll);
    const before = backend.numDataIds();
    const tensorsBefore = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) tf.tidy(callAll);
    expect(backend.numDataIds()).toBe(before);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    tf.dispose([x, dy, w, dyFull]);
  });
});
