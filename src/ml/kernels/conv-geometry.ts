import * as tf from '@tensorflow/tfjs';
import type { SpatialPads } from './scope.js';

type Shape4 = [number, number, number, number];
type PadAttr = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/** Forward-conv geometry that every backprop kernel is derived from. */
export interface ConvGeometry {
  strideH: number;
  strideW: number;
  filterH: number;
  filterW: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  pads: SpatialPads;
}

export function convGeometry(
  xShape: Shape4,
  filterShape: Shape4,
  strides: [number, number] | number,
  pad: PadAttr,
  rounding: Rounding,
  depthwise: boolean,
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad, rounding, depthwise);
  const p = info.padInfo;
  return {
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    filterH: info.filterHeight,
    filterW: info.filterWidth,
    inH: info.inHeight,
    inW: info.inWidth,
    outH: info.outHeight,
    outW: info.outWidth,
    pads: { top: p.top, bottom: p.bottom, left: p.left, right: p.right },
  };
}

/**
 * Pads that turn the (dilated) output gradient into the input gradient with a stride-1 'valid'
 * correlation against the spatially reversed filter. Negative values mean the dilated gradient
 * must be cropped first (happens when explicit pads exceed the filter size).
 */
export function transposedConvPads(g: ConvGeometry): SpatialPads {
  const dilatedH = (g.outH - 1) * g.strideH + 1;
  const dilatedW = (g.outW - 1) * g.strideW + 1;
  const top = g.filterH - 1 - g.pads.top;
  const left = g.filterW - 1 - g.pads.left;
  return {
    top,
    left,
    bottom: g.inH + g.filterH - 1 - dilatedH - top,
    right: g.inW + g.filterW - 1 - dilatedW - left,
  };
}

export function assertUnitDilation(dilations: [number, number] | number | undefined, kernel: string): void {
  const [dh, dw] = typeof dilations === 'number' ? [dilations, dilations] : (dilations ?? [1, 1]);
  if (dh !== 1 || dw !== 1) throw new Error(`${kernel}: dilations > 1 are not supported by the composed kernel`);
}
