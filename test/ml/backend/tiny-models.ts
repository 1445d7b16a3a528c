import * as tf from '@tensorflow/tfjs';

/** Tiny stand-ins for the three thesis models, with seeded initialisers, for kernel-coverage tests. */
const init = (seed: number): ReturnType<typeof tf.initializers.heNormal> => tf.initializers.heNormal({ seed });
const l2 = (): ReturnType<typeof tf.regularizers.l2> => tf.regularizers.l2({ l2: 1e-4 });

type Conv = (x: tf.SymbolicTensor, filters: number, k: number, seed: number) => tf.SymbolicTensor;

const plainConv: Conv = (x, filters, k, seed) =>
  tf.layers
    .conv2d({
      filters,
      kernelSize: k,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(seed),
      biasInitializer: tf.initializers.constant({ value: 0.01 }),
      kernelRegularizer: l2(),
    })
    .apply(x) as tf.SymbolicTensor;

const separableConv: Conv = (x, filters, k, seed) =>
  tf.layers
    .separableConv2d({
      filters,
      kernelSize: k,
      padding: 'same',
      activation: 'relu',
      depthwiseInitializer: init(seed),
      pointwiseInitializer: init(seed + 1000),
      biasInitializer: tf.initializers.constant({ value: 0.01 }),
      depthwiseRegularizer: l2(),
      pointwiseRegularizer: l2(),
    })
    .apply(x) as tf.SymbolicTensor;

/** 2-level U-Net: conv 3x3 + ReLU, maxPool, upSampling2d nearest, conv 2x2 up-conv, concat [skip, up], 1x1 sigmoid head. */
export function tinyUnet(size: number, width: number, inner: Conv = plainConv): tf.LayersModel {
  const input = tf.input({ shape: [size, size, 1] });
  const l0 = plainConv(plainConv(input, width, 3, 1), width, 3, 2);
  const pooled = tf.layers.maxPooling2d({ poolSize: 2 }).apply(l0) as tf.SymbolicTensor;
  const l1 = inner(inner(pooled, 2 * width, 3, 3), 2 * width, 3, 4);
  const up = inner(tf.layers.upSampling2d({ size: [2, 2] }).apply(l1) as tf.SymbolicTensor, width, 2, 5);
  const merged = tf.layers.concatenate({ axis: -1 }).apply([l0, up]) as tf.SymbolicTensor;
  const d0 = inner(inner(merged, width, 3, 6), width, 3, 7);
  const out = tf.layers
    .conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid', kernelInitializer: init(8) })
    .apply(d0) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

/** The lightweight variant: separable convs everywhere except level 0 and the head. */
export function tinyLwUnet(size: number, width: number): tf.LayersModel {
  return tinyUnet(size, width, separableConv);
}

/** Straight-through sign: forward sign(x), backward dy where |x| <= 1. */
export const steSign = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  return {
    value: tf.sign(x),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.cast(tf.lessEqual(tf.abs(saved[0] as tf.Tensor), 1), 'float32')),
  };
}) as (x: tf.Tensor) => tf.Tensor;

/** Binarised weights: 2-level residual sign approximation with clipping, as the binary net does. */
function binarize(w: tf.Tensor): tf.Tensor {
  const c = tf.clipByValue(w, -1, 1);
  const scale1 = tf.mean(tf.abs(c));
  const first = tf.mul(scale1, steSign(c));
  const rest = tf.sub(c, first);
  return tf.add(first, tf.mul(tf.mean(tf.abs(rest)), steSign(rest)));
}

export interface TinyBinaryNet {
  variables: tf.Variable[];
  predict(x: tf.Tensor4D): tf.Tensor4D;
}

/** A functional binary net: STE-sign(conv 3x3), separable conv with computed (binarised) kernels, pool, upsample, concat, sigmoid. */
export function tinyBinaryNet(channels: number, seedValues: (shape: number[], seed: number) => Float32Array): TinyBinaryNet {
  const v = (shape: number[], seed: number): tf.Variable => tf.variable(tf.tensor(seedValues(shape, seed), shape));
  const w0 = v([3, 3, 1, channels], 1);
  const dw = v([3, 3, channels, 1], 2);
  const pw = v([1, 1, channels, channels], 3);
  const head = v([1, 1, channels, 1], 4);
  const predict = (x: tf.Tensor4D): tf.Tensor4D => {
    const a0 = steSign(tf.conv2d(x, binarize(w0) as tf.Tensor4D, 1, 'same')) as tf.Tensor4D;
    const a1 = tf.separableConv2d(a0, binarize(dw) as tf.Tensor4D, binarize(pw) as tf.Tensor4D, 1, 'same');
    // No sign after a1 and avg- instead of maxPool: sums of binary terms tie exactly, and cpu and
    // wasm break ties (sign near 0, max argmax) differently, which makes the comparison ill-posed.
    const up = tf.image.resizeNearestNeighbor(tf.avgPool(tf.tanh(a1), 2, 2, 'same'), [x.shape[1], x.shape[2]]);
    return tf.sigmoid(tf.conv2d(tf.concat([tf.tanh(a1), up], -1), tf.concat([head, head], 2) as tf.Tensor4D, 1, 'same'));
  };
  return { variables: [w0, dw, pw, head], predict };
}
