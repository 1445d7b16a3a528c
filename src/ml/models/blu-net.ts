/** BLU-Net (thesis §2.4): lw_unet topology with every conv residual-binarised and no ReLU. */
import * as tf from '@tensorflow/tfjs';
import { BinaryConv2D, BinarySeparableConv2D, BinarySignActivation } from './binary-layers.js';
import type { SteMode } from './binary-ops.js';
import { buildTopology, type ConvSpec, type ModelParts } from './topology.js';
import { checkShape } from './unet.js';

export interface BluNetOptions {
  baseFilters?: number;
  levels?: number;
  activationLevels?: number;
  convLevels?: number;
  depthwiseLevels?: number;
  pointwiseLevels?: number;
  /** A residual activation binariser between depthwise and pointwise of every separable conv (default false: the thesis). */
  separableBinarise?: boolean;
  seed?: number;
  /** Kernels hold already-binarised values (set by the packed loader; not for training). */
  frozen?: boolean;
  /** Straight-through estimator of every binariser (default 'unit', the thesis's). */
  ste?: SteMode;
}

export type ResolvedBluNetOptions = Required<BluNetOptions>;

export function resolveBluNetOptions(opts: BluNetOptions): ResolvedBluNetOptions {
  return {
    baseFilters: opts.baseFilters ?? 64,
    levels: opts.levels ?? 5,
    activationLevels: opts.activationLevels ?? 3,
    convLevels: opts.convLevels ?? 3,
    depthwiseLevels: opts.depthwiseLevels ?? 3,
    pointwiseLevels: opts.pointwiseLevels ?? 3,
    separableBinarise: opts.separableBinarise ?? false,
    seed: opts.seed ?? 1,
    frozen: opts.frozen ?? false,
    ste: opts.ste ?? 'unit',
  };
}

function binaryConv(spec: ConvSpec, o: ResolvedBluNetOptions): tf.layers.Layer {
  const common = {
    name: spec.name,
    filters: spec.filters,
    kernelSize: spec.kernelSize,
    padding: 'same' as const,
    seed: spec.seed,
    frozen: o.frozen,
    ste: o.ste,
  };
  if (spec.role === 'level0') return new BinaryConv2D({ ...common, levels: o.convLevels });
  return new BinarySeparableConv2D({
    ...common,
    depthwiseLevels: o.depthwiseLevels,
    pointwiseLevels: o.pointwiseLevels,
    separableBinarise: o.separableBinarise,
    activationLevels: o.activationLevels,
  });
}

/** Every conv except the output is followed by a residual-binarised sign activation. */
function convWithActivation(spec: ConvSpec, o: ResolvedBluNetOptions, x: tf.SymbolicTensor): tf.SymbolicTensor {
  const y = binaryConv(spec, o).apply(x) as tf.SymbolicTensor;
  const act = new BinarySignActivation({ name: `${spec.name}_BinarySignActivation`, levels: o.activationLevels, ste: o.ste });
  return act.apply(y) as tf.SymbolicTensor;
}

/** Output: BinaryConv2D 1×1 (padding valid, as in the thesis) then a separate sigmoid. */
function binaryHead(o: ResolvedBluNetOptions) {
  return (x: tf.SymbolicTensor, seed: number): tf.SymbolicTensor => {
    const logits = new BinaryConv2D({
      name: 'logit_output',
      filters: 1,
      kernelSize: 1,
      padding: 'valid',
      levels: o.convLevels,
      seed,
      frozen: o.frozen,
      ste: o.ste,
    });
    return tf.layers.activation({ activation: 'sigmoid', name: 'output' }).apply(logits.apply(x)) as tf.SymbolicTensor;
  };
}

export function buildBluNet(opts: BluNetOptions = {}): tf.LayersModel {
  const o = resolveBluNetOptions(opts);
  checkShape(o.baseFilters, o.levels);
  for (const n of [o.activationLevels, o.convLevels, o.depthwiseLevels, o.pointwiseLevels]) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`residual level counts must be positive integers, got ${n}`);
  }
  const parts: ModelParts = {
    conv: (spec, x) => convWithActivation(spec, o, x),
    head: binaryHead(o),
    names: { conv: 'BinaryConv2D', prefix: 'BinaryLightweight_', blockConv: 'BinarySeparableConv2D' },
  };
  return buildTopology({ baseFilters: o.baseFilters, levels: o.levels, seed: o.seed, modelName: 'blu_net' }, parts);
}
