import type * as tf from '@tensorflow/tfjs';
import { assertUnitDilation, convGeometry, transposedConvPads } from './conv-geometry.js';
import { KernelScope, explicitPad } from './scope.js';

type Shape4 = [number, number, number, number];
type DepthwiseFilterAttrs = tf.DepthwiseConv2dNativeBackpropFilterAttrs;
type DepthwiseInputAttrs = tf.DepthwiseConv2dNativeBackpropInputAttrs;

function guarded(scope: KernelScope, body: () => tf.TensorInfo): tf.TensorInfo {
  try {
    return scope.finish(body());
  } catch (e) {
    scope.disposeAll();
    throw e;
  }
}

/**
 * dX of a depthwise conv is itself a depthwise conv: the zero-dilated, padded dy correlated with
 * the spatially reversed filter, channel by channel. For a channel multiplier M > 1 we treat the
 * C·M gradient channels as independent (multiplier-1 conv) and sum the M copies per channel.
 */
export function composedDepthwiseBackpropInput(backendName: string): tf.KernelFunc {
  return ({ inputs, attrs, backend }) => {
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const a = attrs as unknown as DepthwiseInputAttrs;
    assertUnitDilation(a.dilations, 'DepthwiseConv2dNativeBackpropInput');
    const [kh, kw, c, m] = filter.shape as Shape4;
    const g = convGeometry(a.inputShape, [kh, kw, c, m], a.strides, a.pad, a.dimRoundingMode, true);
    const scope = new KernelScope(backend as tf.KernelBackend, backendName);
    return guarded(scope, () => {
      const dilated = scope.dilateSpatial(dy, g.strideH, g.strideW);
      const { x: cropped, pads } = scope.cropNegative(dilated, transposedConvPads(g));
      const flipped = scope.reshape(scope.reverse(filter, [0, 1]), [kh, kw, c * m, 1]);
      const perCopy = scope.run(
        'DepthwiseConv2dNative',
        { x: cropped, filter: flipped },
        {
          strides: [1, 1],
          pad: explicitPad(pads),
          dilations: [1, 1],
        },
      );
      if (m === 1) return perCopy;
      const [b, h, w] = perCopy.shape as Shape4;
      return scope.sum(scope.reshape(perCopy, [b, h, w, c, m]), [4]);
    });
  };
}

/** What both dW variants start from: inputs, the checked filter shape, geometry and a scope. */
function filterGradientSetup(inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap | undefined, backend: unknown, backendName: string) {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = attrs as unknown as DepthwiseFilterAttrs;
  assertUnitDilation(a.dilations, 'DepthwiseConv2dNativeBackpropFilter');
  const g = convGeometry(x.shape as Shape4, a.filterShape, a.strides, a.pad, a.dimRoundingMode, true);
  return { x, dy, filterShape: a.filterShape, g, scope: new KernelScope(backend as tf.KernelBackend, backendName) };
}

/**
 * dW of a depthwise conv as ONE depthwise conv: fold batch into channels (x -> [1,H,W,B·C]),
 * use dy as a huge per-channel filter ([Ho,Wo,B·C,M], dilation = stride), then sum over batch.
 * Cost equals the forward conv's MACs and runs in XNNPACK instead of a scalar loop.
 */
export function composedDepthwiseBackpropFilter(backendName: string): tf.KernelFunc {
  return ({ inputs, attrs, backend }) => {
    const {
      x,
      dy,
      filterShape: [kh, kw, c, m],
      g,
      scope,
    } = filterGradientSetup(inputs, attrs, backend, backendName);
    return guarded(scope, () => {
      const [b, h, w] = x.shape as Shape4;
      const folded = scope.reshape(scope.transpose(x, [1, 2, 0, 3]), [1, h, w, b * c]);
      const dyFilter = scope.reshape(scope.transpose(dy, [1, 2, 0, 3]), [g.outH, g.outW, b * c, m]);
      const corr = scope.run(
        'DepthwiseConv2dNative',
        { x: folded, filter: dyFilter },
        {
          strides: [1, 1],
          pad: explicitPad(g.pads),
          dilations: [g.strideH, g.strideW],
        },
      );
      const taps = scope.slice(corr, [0, 0, 0, 0], [1, kh, kw, b * c * m]);
      return scope.reshape(scope.sum(scope.reshape(taps, [kh, kw, b, c, m]), [2]), [kh, kw, c, m]);
    });
  };
}

/** The input pixels that filter tap (i, j) sees; wasm's 5-D StridedSlice is very slow, so use Slice at stride 1. */
function tapWindow(scope: KernelScope, x5: tf.TensorInfo, out: Shape4, i: number, j: number, sh: number, sw: number): tf.TensorInfo {
  const [b, oh, ow, c] = out;
  if (sh === 1 && sw === 1) return scope.slice(x5, [0, i, j, 0, 0], [b, oh, ow, c, 1]);
  return scope.run(
    'StridedSlice',
    { x: x5 },
    {
      begin: [0, i, j, 0, 0],
      end: [b, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, c, 1],
      strides: [1, sh, sw, 1, 1],
      beginMask: 0,
      endMask: 0,
      ellipsisMask: 0,
      newAxisMask: 0,
      shrinkAxisMask: 0,
    },
  );
}

/**
 * Alternative dW: one strided slice + multiply + reduce per filter tap. Memory-bound but simple;
 * kept to measure against the folded depthwise version (see docs/design/training-backends.md).
 */
export function perTapDepthwiseBackpropFilter(backendName: string): tf.KernelFunc {
  return ({ inputs, attrs, backend }) => {
    const {
      x,
      dy,
      filterShape: [kh, kw, c, m],
      g,
      scope,
    } = filterGradientSetup(inputs, attrs, backend, backendName);
    return guarded(scope, () => {
      const b = x.shape[0] as number;
      const padded = scope.pad(x, explicitPad(g.pads));
      const xExpanded = scope.reshape(padded, [...padded.shape, 1]);
      const dy5 = scope.reshape(dy, [b, g.outH, g.outW, c, m]);
      const taps: tf.TensorInfo[] = [];
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const window = tapWindow(scope, xExpanded, [b, g.outH, g.outW, c], i, j, g.strideH, g.strideW);
          taps.push(scope.reshape(scope.sum(scope.run('Multiply', { a: window, b: dy5 }), [0, 1, 2]), [1, c, m]));
        }
      }
      // Pack/Concat take their inputs as an array; the engine types them as a named map.
      const stacked = scope.run('Concat', taps as unknown as tf.NamedTensorInfoMap, { axis: 0 });
      return scope.reshape(stacked, [kh, kw, c, m]);
    });
  };
}
