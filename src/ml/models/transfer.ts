/**
 * lw_unet → BLU-Net weight transfer (thesis §3): each BLU-Net conv takes the kernel(s) and bias of
 * the lw_unet layer whose name equals its own with "Binary" removed, e.g.
 * `Level2_BinaryLightweight_Expanding_BinarySeparableConv2D_3` ← `Level2_Lightweight_Expanding_SeparableConv2D_3`.
 * Gammas keep their initial values; the output layer ("logit_output") is not transferred unless
 * `transferOutput` is set (the thesis matched names containing "Conv", which skipped it).
 */
import * as tf from '@tensorflow/tfjs';
import { err, ok, type Result } from '../../base/result.js';
import { BinaryConv2D, BinarySeparableConv2D } from './binary-layers.js';

export interface TransferredLayer {
  from: string;
  to: string;
  /** Names of the BLU-Net weights that were overwritten, e.g. ["…/depthwise_kernel", …]. */
  weights: string[];
}

export const OUTPUT_LAYER_NAME = 'logit_output';

function isTransferTarget(layer: tf.layers.Layer, withOutput: boolean): boolean {
  const binaryConv = layer instanceof BinaryConv2D || layer instanceof BinarySeparableConv2D;
  return binaryConv && (withOutput || layer.name !== OUTPUT_LAYER_NAME);
}

/** Copies the leading weights (kernel(s), bias) of `source` into `target`; gammas stay. */
function copyLeadingWeights(source: tf.layers.Layer, target: tf.layers.Layer): Result<TransferredLayer, { message: string }> {
  const incoming = source.getWeights();
  const current = target.getWeights();
  for (const [i, value] of incoming.entries()) {
    const slot = current[i];
    if (slot === undefined || !tf.util.arraysEqual(slot.shape, value.shape)) {
      return err({
        message: `${source.name} → ${target.name}: weight ${i} shape ${JSON.stringify(value.shape)} does not fit ${JSON.stringify(slot?.shape)}`,
      });
    }
  }
  target.setWeights([...incoming, ...current.slice(incoming.length)]);
  const weights = target.weights.slice(0, incoming.length).map((w) => w.originalName);
  return ok({ from: source.name, to: target.name, weights });
}

/**
 * How the gammas of transferred layers start. `thesis`: [M..1]/sum whatever the weight scale (the
 * original). `weight-scale`: the greedy L1 fit of the residual encoding to the transferred kernel
 * (g_m = mean |r_m|, r_{m+1} = r_m − g_m·sign(r_m)), so the binarised kernel starts close to the
 * lw_unet's instead of several times larger (a deliberate difference; see docs/blu-net/differences.md).
 */
export type GammaInit = 'thesis' | 'weight-scale';

/** Greedy per-level scales of the residual sign encoding of `kernel`. */
export function fitResidualGammas(kernel: Float32Array | Int32Array | Uint8Array, levels: number): number[] {
  const r = Float32Array.from(kernel);
  const gammas: number[] = [];
  for (let m = 0; m < levels; m++) {
    let sum = 0;
    for (const v of r) sum += Math.abs(v);
    const g = r.length > 0 ? sum / r.length : 0;
    for (let i = 0; i < r.length; i++) r[i] = r[i]! - g * Math.sign(r[i]!);
    gammas.push(g);
  }
  return gammas;
}

// Each gamma vector is fitted to the kernel it scales (by weight name).
const GAMMA_OF: ReadonlyArray<readonly [string, string]> = [
  ['depthwise_gamma', 'depthwise_kernel'],
  ['pointwise_gamma', 'pointwise_kernel'],
  ['gamma', 'kernel'],
];

/**
 * Replaces a layer's weights by `update(name, value, byName)` (name without the layer prefix, e.g.
 * 'pointwise_gamma'); returning `value` itself keeps that weight. New tensors are disposed after use.
 */
export function updateLayerWeights(
  layer: tf.layers.Layer,
  update: (name: string, value: tf.Tensor, byName: ReadonlyMap<string, tf.Tensor>) => tf.Tensor,
): void {
  const names = layer.weights.map((w) => w.originalName.split('/').pop() ?? '');
  const values = layer.getWeights();
  const byName = new Map(names.map((n, i) => [n, values[i] as tf.Tensor] as const));
  const next = values.map((value, i) => update(names[i] ?? '', value, byName));
  layer.setWeights(next);
  next.forEach((t, i) => t !== values[i] && t.dispose());
}

/** Sets every kernel gamma vector of a binary conv layer to the greedy fit of its current kernel. */
export function fitKernelGammas(layer: tf.layers.Layer): void {
  updateLayerWeights(layer, (name, value, byName) => {
    const pair = GAMMA_OF.find(([gamma]) => name === gamma);
    const kernel = pair ? byName.get(pair[1]) : undefined;
    return kernel ? tf.tensor1d(fitResidualGammas(kernel.dataSync(), value.shape[0] ?? 0)) : value;
  });
}

/** Transfers all matching conv layers; fails (changing nothing further) on a missing or misfit layer. */
export interface TransferOptions {
  readonly gammaInit?: GammaInit;
  /** Also copy the 1×1 output conv (a deliberate difference; the thesis re-initialises it). */
  readonly transferOutput?: boolean;
}

export function transferLwUnetToBluNet(
  lw: tf.LayersModel,
  blu: tf.LayersModel,
  options: TransferOptions = {},
): Result<TransferredLayer[], { message: string }> {
  const byName = new Map(lw.layers.map((l) => [l.name, l] as const));
  const targets = blu.layers.filter((l) => isTransferTarget(l, options.transferOutput ?? false));
  const missing = targets.map((t) => t.name.replaceAll('Binary', '')).filter((n) => !byName.has(n));
  if (missing.length > 0) return err({ message: `lw_unet lacks layers: ${missing.join(', ')}` });
  const done: TransferredLayer[] = [];
  for (const target of targets) {
    const copied = copyLeadingWeights(byName.get(target.name.replaceAll('Binary', '')) as tf.layers.Layer, target);
    if (!copied.ok) return copied;
    if (options.gammaInit === 'weight-scale') fitKernelGammas(target);
    done.push(copied.value);
  }
  return ok(done);
}
