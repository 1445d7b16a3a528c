/**
 * The U-Net topology shared by all three models (thesis §2.1): level 0 = two 3×3 convs; levels
 * 1..L-1 = maxpool + two 3×3 convs; expanding levels L-2..0 = upsample ×2 (nearest) + 2×2 up-conv,
 * concat [skip, up], two 3×3 convs; then a 1×1 output. Layer creation order equals the thesis
 * index table, so `model.layers[i]` is the same role in U-Net and lw_unet.
 *
 * Naming scheme (used by weight transfer, which strips "Binary" from BLU-Net names):
 *   Level0_{Conv}_{1,2}
 *   Level{n}_{Prefix}Contracting_{BlockConv}_{1,2}
 *   Level{n}_{Prefix}Expanding_{BlockConv}_{1 = up-conv, 2, 3}
 *   Level{n}_Contracting_MaxPooling2D, Level{n}_Expanding_UpSampling2D, Level{n}_Expanding_Concatenate
 * with (Conv, Prefix, BlockConv) = (Conv2D, '', Conv2D) for U-Net,
 * (Conv2D, Lightweight_, SeparableConv2D) for lw_unet and
 * (BinaryConv2D, BinaryLightweight_, BinarySeparableConv2D) for BLU-Net.
 */
import * as tf from '@tensorflow/tfjs';

export type ConvRole = 'level0' | 'contracting' | 'up' | 'expanding';

export interface ConvSpec {
  name: string;
  filters: number;
  kernelSize: number;
  role: ConvRole;
  /** Deterministic per-layer seed so equal-shaped layers do not get identical kernels. */
  seed: number;
}

/** What differs between the models: how one conv (+ its activation) and the head are made. */
export interface ModelParts {
  conv(spec: ConvSpec, x: tf.SymbolicTensor): tf.SymbolicTensor;
  head(x: tf.SymbolicTensor, seed: number): tf.SymbolicTensor;
  names: { conv: string; prefix: string; blockConv: string };
}

export interface TopologyOptions {
  baseFilters: number;
  levels: number;
  seed: number;
  modelName: string;
}

/** Builds the full encoder/decoder graph through `parts`. */
export function buildTopology(opts: TopologyOptions, parts: ModelParts): tf.LayersModel {
  let convCount = 0;
  const conv = (name: string, filters: number, kernelSize: number, role: ConvRole, x: tf.SymbolicTensor) =>
    parts.conv({ name, filters, kernelSize, role, seed: opts.seed * 1009 + convCount++ }, x);
  const { prefix, blockConv } = parts.names;
  const filtersAt = (level: number) => opts.baseFilters * 2 ** level;

  const input = tf.input({ shape: [null, null, 1], name: 'input' });
  let x = conv(`Level0_${parts.names.conv}_1`, filtersAt(0), 3, 'level0', input);
  x = conv(`Level0_${parts.names.conv}_2`, filtersAt(0), 3, 'level0', x);
  const skips: tf.SymbolicTensor[] = [x];
  for (let n = 1; n < opts.levels; n++) {
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `Level${n}_Contracting_MaxPooling2D` }).apply(x) as tf.SymbolicTensor;
    x = conv(`Level${n}_${prefix}Contracting_${blockConv}_1`, filtersAt(n), 3, 'contracting', x);
    x = conv(`Level${n}_${prefix}Contracting_${blockConv}_2`, filtersAt(n), 3, 'contracting', x);
    skips.push(x);
  }
  for (let n = opts.levels - 2; n >= 0; n--) {
    const up = tf.layers
      .upSampling2d({ size: [2, 2], interpolation: 'nearest', name: `Level${n}_Expanding_UpSampling2D` })
      .apply(x) as tf.SymbolicTensor;
    const upConv = conv(`Level${n}_${prefix}Expanding_${blockConv}_1`, filtersAt(n), 2, 'up', up);
    const skip = skips[n] as tf.SymbolicTensor;
    x = tf.layers.concatenate({ axis: -1, name: `Level${n}_Expanding_Concatenate` }).apply([skip, upConv]) as tf.SymbolicTensor;
    x = conv(`Level${n}_${prefix}Expanding_${blockConv}_2`, filtersAt(n), 3, 'expanding', x);
    x = conv(`Level${n}_${prefix}Expanding_${blockConv}_3`, filtersAt(n), 3, 'expanding', x);
  }
  const output = parts.head(x, opts.seed * 1009 + convCount);
  return tf.model({ inputs: input, outputs: output, name: opts.modelName });
}
