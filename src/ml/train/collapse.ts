/**
 * Collapse detection: a trained segmentation model that never predicts foreground, or whose output
 * does not depend on its input, must not pass as a result. Pure functions over what validation and
 * evaluation already measure.
 */
import type { EpochRecord } from './events.js';

/** IoU at or below this counts as "never left 0" (one foreground pixel right in a 256² crop is more). */
export const COLLAPSE_IOU = 1e-3;
/** Probabilities spanning less than this over a whole split are a constant output. */
export const CONSTANT_OUTPUT_SPREAD = 0.01;

/** Why the probabilities look constant, or null when they vary. */
export function constantOutput(range: readonly [number, number] | undefined, where: string): string | null {
  if (range === undefined || !Number.isFinite(range[0]) || !Number.isFinite(range[1])) return null;
  const [low, high] = range;
  if (high - low >= CONSTANT_OUTPUT_SPREAD) return null;
  return `constant output: every ${where} probability in [${low.toPrecision(3)}, ${high.toPrecision(3)}]`;
}

/**
 * Why a supervised phase collapsed, or null. Collapsed: validation IoU never rose above COLLAPSE_IOU
 * nor above the all-foreground mask's IoU at any validation (a model that learned nothing scores
 * that much by marking everything), or the kept weights (best epoch, else the last) give a constant
 * output on the validation images. Phases without IoU (hint learning) are never judged.
 */
export function detectCollapse(history: readonly EpochRecord[], bestEpoch: number): string | null {
  const ious = history.map((h) => h.val.iou).filter((v): v is number => v !== undefined && !Number.isNaN(v));
  if (ious.length === 0) return null;
  const maxIou = Math.max(...ious);
  const trivial = Math.max(0, ...history.map((h) => h.val.allForegroundIou ?? 0).filter((v) => !Number.isNaN(v)));
  if (maxIou <= COLLAPSE_IOU) return `val IoU never left 0 (max ${maxIou.toPrecision(2)} over ${ious.length} validations)`;
  if (maxIou <= trivial)
    return `val IoU never beat the all-foreground mask (max ${maxIou.toPrecision(2)} ≤ ${trivial.toPrecision(2)} over ${ious.length} validations)`;
  const kept = history.find((h) => h.epoch === bestEpoch) ?? history[history.length - 1];
  return constantOutput(kept?.val.outputRange, 'validation');
}
