/**
 * lw_unet → BLU-Net weight transfer (thesis §3): each BLU-Net conv takes the kernel(s) and bias of
 * the lw_unet layer whose name equals its own with "Binary" removed, e.g.
 * `Level2_BinaryLightweight_Expanding_BinarySeparableConv2D_3` ← `Level2_Lightweight_Expanding_SeparableConv2D_3`.
 * Gammas keep their initial values; the output layer ("logit_output") is not transferred.
 */
import * as tf from '@tensorflow/tfjs';
import { err, ok, type Result } from '../../runtime/result.js';
import { BinaryConv2D, BinarySeparableConv2D } from './binary-layers.js';

export interface TransferredLayer {
  from: string;
  to: string;
  /** Names of the BLU-Net weights that were overwritten, e.g. ["…/depthwise_kernel", …]. */
  weights: string[];
}

export const OUTPUT_LAYER_NAME = 'logit_output';

function isTransferTarget(layer: tf.layers.Layer): boolean {
  const binaryConv = layer instanceof BinaryConv2D || layer instanceof BinarySeparableConv2D;
  return binaryConv && layer.name !== OUTPUT_LAYER_NAME;
}

/** Copies the leading weights (kernel(s), bias) of `source` into `target`; gammas stay. */
function copyLeadingWeights(source: tf.layers.Layer, target: tf.layers.Layer): Result<TransferredLayer, { message: string }> {
  const incoming = source.getWeights();
  const current = target.getWeights();
  for (const [i, value] of incoming.entries()) {
    const slot = current[i];
    if (slot === undefined || !tf.util.arraysEqual(slot.shape, value.shape)) {
      return err({ message: `${source.name} → ${target.name}: weight ${i} shape ${JSON.stringify(value.shape)} does not fit ${JSON.stringify(slot?.shape)}` });
    }
  }
  target.setWeights([...incoming, ...current.slice(incoming.length)]);
  const weights = target.weights.slice(0, incoming.length).map((w) => w.originalName);
  return ok({ from: source.name, to: target.name, weights });
}

/** Transfers all matching conv layers; fails (changing nothing further) on a missing or misfit layer. */
export function transferLwUnetToBluNet(lw: tf.LayersModel, blu: tf.LayersModel): Result<TransferredLayer[], { message: string }> {
  const byName = new Map(lw.layers.map((l) => [l.name, l] as const));
  const targets = blu.layers.filter(isTransferTarget);
  const missing = targets.map((t) => t.name.replaceAll('Binary', '')).filter((n) => !byName.has(n));
  if (missing.length > 0) return err({ message: `lw_unet lacks layers: ${missing.join(', ')}` });
  const done: TransferredLayer[] = [];
  for (const target of targets) {
    const copied = copyLeadingWeights(byName.get(target.name.replaceAll('Binary', '')) as tf.layers.Layer, target);
    if (!copied.ok) return copied;
    done.push(copied.value);
  }
  return ok(done);
}
