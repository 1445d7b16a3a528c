import type * as tf from '@tensorflow/tfjs';
import { convGeometry, transposedConvPads, type ConvGeometry } from './conv-geometry.js';
import { KernelScope, explicitPad } from './scope.js';

type Shape4 = [number, number, number, number];

function assertNhwc(dataFormat: string | undefined, kernel: string): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`${kernel}: only NHWC is supported by the composed kernel`);
  }
}

/**
 * dW via one big correlation: with batch as the contraction axis,
 * dW[ky,kx,ci,co] = conv2d(transpose(x)->[ci,H,W,B], transpose(dy)->[Ho,Wo,B,co],
 * dilation = stride), so XNNPACK's fast conv does all the work instead of a scalar loop.
 */
export function composedConv2DBackpropFilter(backendName: string): tf.KernelFunc {
  return ({ inputs, attrs, backend }) => {
    const { x, dy } = inputs as unknown as tf.Conv2DBackpropFilterInputs & { x: tf.TensorInfo; dy: tf.TensorInfo };
    const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    assertNhwc(a.dataFormat, 'Conv2DBackpropFilter');
    const g = convGeometry(x.shape as Shape4, a.filterShape, a.strides, a.pad, a.dimRoundingMode, false);
    const scope = new KernelScope(backend as tf.KernelBackend, backendName);
    try {
      if (isPointwise(g)) return scope.finish(pointwiseFilterGrad(scope, x, dy));
      const xt = scope.transpose(x, [3, 1, 2, 0]);
      const dyAsFilter = scope.transpose(dy, [1, 2, 0, 3]);
      const corr = scope.run(
        'Conv2D',
        { x: xt, filter: dyAsFilter },
        {
          strides: [1, 1],
          pad: explicitPad(g.pads),
          dataFormat: 'NHWC',
          dilations: [g.strideH, g.strideW],
        },
      );
      const [ci, , , co] = corr.shape as Shape4;
      const exact =
        corr.shape[1] === g.filterH && corr.shape[2] === g.filterW ? corr : scope.slice(corr, [0, 0, 0, 0], [ci, g.filterH, g.filterW, co]);
      return scope.finish(scope.transpose(exact, [1, 2, 0, 3]));
    } catch (e) {
      scope.disposeAll();
      throw e;
    }
  };
}

function isPointwise(g: ConvGeometry): boolean {
  const p = g.pads;
  return g.filterH === 1 && g.filterW === 1 && g.strideH === 1 && g.strideW === 1 && p.top + p.bottom + p.left + p.right === 0;
}

/**
 * 1×1 convs (the pointwise half of every separable conv) have dW = xᵀ·dy over all B·H·W pixels.
 * One transpose + BatchMatMul was 4–8× faster than the dilated-conv form here, whose huge
 * Ho×Wo "filter" with only B channels per tap is a poor shape for XNNPACK (docs/design/training-backends.md).
 */
function pointwiseFilterGrad(scope: KernelScope, x: tf.TensorInfo, dy: tf.TensorInfo): tf.TensorInfo {
  const ci = x.shape[3] as number;
  const co = dy.shape[3] as number;
  const pixels = x.shape.slice(0, 3).reduce((a, b) => a * b, 1);
  const xT = scope.transpose(scope.reshape(x, [pixels, ci]), [1, 0]);
  const product = scope.run(
    'BatchMatMul',
    { a: scope.reshape(xT, [1, ci, pixels]), b: scope.reshape(dy, [1, pixels, co]) },
    { transposeA: false, transposeB: false },
  );
  return scope.reshape(product, [1, 1, ci, co]);
}

/**
 * dX as a stride-1 'valid' conv of the zero-dilated, padded dy with the spatially reversed,
 * in/out-swapped filter: replaces wasm's scalar C++ loop (1-2 GFLOP/s) with XNNPACK.
 */
export function composedConv2DBackpropInput(backendName: string): tf.KernelFunc {
  return ({ inputs, attrs, backend }) => {
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    assertNhwc(a.dataFormat, 'Conv2DBackpropInput');
    const g = convGeometry(a.inputShape, filter.shape as Shape4, a.strides, a.pad, a.dimRoundingMode, false);
    const scope = new KernelScope(backend as tf.KernelBackend, backendName);
    try {
      const dilated = scope.dilateSpatial(dy, g.strideH, g.strideW);
      const { x: cropped, pads } = scope.cropNegative(dilated, transposedConvPads(g));
      const flipped = scope.transpose(scope.reverse(filter, [0, 1]), [0, 1, 3, 2]);
      const dx = scope.run(
        'Conv2D',
        { x: cropped, filter: flipped },
        {
          strides: [1, 1],
          pad: explicitPad(pads),
          dataFormat: 'NHWC',
          dilations: [1, 1],
        },
      );
      return scope.finish(dx);
    } catch (e) {
      scope.disposeAll();
      throw e;
    }
  };
}
