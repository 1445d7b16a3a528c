import * as tf from '@tensorflow/tfjs';
import { convGeometry, transposedConvPads } from './conv-geometry.js';
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
      const xt = scope.transpose(x, [3, 1, 2, 0]);
      const dyAsFilter = scope.transpose(dy, [1, 2, 0, 3]);
      const corr = scope.run('Conv2D', { x: xt, filter: dyAsFilter }, {
        strides: [1, 1], pad: explicitPad(g.pads), dataFormat: 'NHWC',
        dilations: [g.strideH, g.strideW],
      });
      const [ci, , , co] = corr.shape as Shape4;
      const exact = corr.shape[1] === g.filterH && corr.shape[2] === g.filterW
        ? corr : scope.slice(corr, [0, 0, 0, 0], [ci, g.filterH, g.filterW, co]);
      return scope.finish(scope.transpose(exact, [1, 2, 0, 3]));
    } catch (e) {
      scope.disposeAll();
      throw e;
    }
  };
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
      const dx = scope.run('Conv2D', { x: cropped, filter: flipped }, {
        strides: [1, 1], pad: explicitPad(pads), dataFormat: 'NHWC', dilations: [1, 1],
      });
      return scope.finish(dx);
    } catch (e) {
      scope.disposeAll();
      throw e;
    }
  };
}
