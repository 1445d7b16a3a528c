/** Full-precision U-Net (thesis §2.1) and lightweight U-Net "lw_unet" (thesis §2.2). */
import * as tf from '@tensorflow/tfjs';
import { kerasHeNormal } from './initializers.js';
import { buildTopology, type ConvSpec, type ModelParts } from './topology.js';

export interface UnetOptions {
  baseFilters?: number;
  levels?: number;
  /** L2 factor on the convs inside contracting/expanding blocks only (not level 0, not output). */
  l2?: number;
  seed?: number;
}

interface ResolvedUnetOptions {
  baseFilters: number;
  levels: number;
  l2: number;
  seed: number;
}

function resolve(opts: UnetOptions): ResolvedUnetOptions {
  const resolved = { baseFilters: opts.baseFilters ?? 64, levels: opts.levels ?? 5, l2: opts.l2 ?? 0, seed: opts.seed ?? 1 };
  checkShape(resolved.baseFilters, resolved.levels);
  return resolved;
}

/** Programming errors (not data errors): reject before tfjs produces an obscure failure. */
export function checkShape(baseFilters: number, levels: number): void {
  if (!Number.isInteger(baseFilters) || baseFilters < 1) throw new RangeError(`baseFilters must be a positive integer, got ${baseFilters}`);
  if (!Number.isInteger(levels) || levels < 1) throw new RangeError(`levels must be a positive integer, got ${levels}`);
}

function regularizerFor(spec: ConvSpec, l2: number) {
  return l2 > 0 && spec.role !== 'level0' ? tf.regularizers.l2({ l2 }) : undefined;
}

function plainConv(spec: ConvSpec, l2: number, x: tf.SymbolicTensor): tf.SymbolicTensor {
  return tf.layers
    .conv2d({
      name: spec.name,
      filters: spec.filters,
      kernelSize: spec.kernelSize,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: kerasHeNormal(spec.seed),
      kernelRegularizer: regularizerFor(spec, l2),
    })
    .apply(x) as tf.SymbolicTensor;
}

/** Depthwise k×k (multiplier 1) + pointwise 1×1 with bias, ReLU; L2 on both kernels. */
function separableConv(spec: ConvSpec, l2: number, x: tf.SymbolicTensor): tf.SymbolicTensor {
  const regularizer = regularizerFor(spec, l2);
  return tf.layers
    .separableConv2d({
      name: spec.name,
      filters: spec.filters,
      kernelSize: spec.kernelSize,
      padding: 'same',
      depthMultiplier: 1,
      useBias: true,
      activation: 'relu',
      depthwiseInitializer: kerasHeNormal(spec.seed),
      pointwiseInitializer: kerasHeNormal(pointwiseSeed(spec.seed)),
      depthwiseRegularizer: regularizer,
      pointwiseRegularizer: regularizer,
    })
    .apply(x) as tf.SymbolicTensor;
}

/** Separate stream for the pointwise kernel so it does not reuse the depthwise draw. */
const pointwiseSeed = (seed: number) => seed + 500_000;

function sigmoidHead(name: string) {
  return (x: tf.SymbolicTensor, seed: number): tf.SymbolicTensor =>
    tf.layers
      .conv2d({ name, filters: 1, kernelSize: 1, activation: 'sigmoid', kernelInitializer: kerasHeNormal(seed) })
      .apply(x) as tf.SymbolicTensor;
}

/** The thesis U-Net: 31,030,593 parameters at baseFilters 64, levels 5. */
export function buildUnet(opts: UnetOptions = {}): tf.LayersModel {
  const o = resolve(opts);
  const parts: ModelParts = {
    conv: (spec, x) => plainConv(spec, o.l2, x),
    head: sigmoidHead('output'),
    names: { conv: 'Conv2D', prefix: '', blockConv: 'Conv2D' },
  };
  return buildTopology({ ...o, modelName: 'unet' }, parts);
}

/** lw_unet: separable convs outside level 0; 3,933,633 parameters at width 64. */
export function buildLwUnet(opts: UnetOptions = {}): tf.LayersModel {
  const o = resolve(opts);
  const parts: ModelParts = {
    conv: (spec, x) => (spec.role === 'level0' ? plainConv(spec, o.l2, x) : separableConv(spec, o.l2, x)),
    head: sigmoidHead('logit_output'),
    names: { conv: 'Conv2D', prefix: 'Lightweight_', blockConv: 'SeparableConv2D' },
  };
  return buildTopology({ ...o, modelName: 'lw_unet' }, parts);
}
