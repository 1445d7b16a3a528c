/**
 * Model size as the thesis counts it (§8): full-precision weights 32 bits each; for binary layers
 * 1 bit per weight per residual level, with gammas and biases fp32; no packing overhead.
 */
import type * as tf from '@tensorflow/tfjs';
import { BinaryConv2D, BinarySeparableConv2D, BinarySignActivation } from './binary-layers.js';

export interface ThesisSize {
  fp32Params: number;
  binaryBits: number;
  bytes: number;
  mib: number;
}

interface Count {
  fp32: number;
  bits: number;
}

const elements = (v: { shape: readonly (number | null)[] }) => v.shape.reduce<number>((a, b) => a * (b ?? 0), 1);

/** Weight elements of `layer` whose variable name ends with one of `suffixes`. */
function sizeOf(layer: tf.layers.Layer, suffixes: string[]): number {
  return layer.trainableWeights.filter((w) => suffixes.some((s) => w.originalName.endsWith(`/${s}`))).reduce((a, w) => a + elements(w), 0);
}

function countLayer(layer: tf.layers.Layer): Count {
  if (layer instanceof BinarySignActivation) return { fp32: layer.levels, bits: 0 };
  if (layer instanceof BinaryConv2D) {
    return { fp32: layer.levels + sizeOf(layer, ['bias']), bits: layer.levels * sizeOf(layer, ['kernel']) };
  }
  if (layer instanceof BinarySeparableConv2D) {
    const bits = layer.depthwiseLevels * sizeOf(layer, ['depthwise_kernel']) + layer.pointwiseLevels * sizeOf(layer, ['pointwise_kernel']);
    const inner = layer.separableBinarise ? layer.activationLevels + sizeOf(layer, ['depthwise_bias']) : 0;
    return { fp32: layer.depthwiseLevels + layer.pointwiseLevels + inner + sizeOf(layer, ['bias']), bits };
  }
  return { fp32: layer.trainableWeights.reduce((a, w) => a + elements(w), 0), bits: 0 };
}

export function thesisSize(model: tf.LayersModel): ThesisSize {
  const total = model.layers.map(countLayer).reduce((a, c) => ({ fp32: a.fp32 + c.fp32, bits: a.bits + c.bits }), { fp32: 0, bits: 0 });
  const bytes = (32 * total.fp32 + total.bits) / 8;
  return { fp32Params: total.fp32, binaryBits: total.bits, bytes, mib: bytes / 2 ** 20 };
}
