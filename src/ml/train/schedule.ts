/**
 * Thesis lr schedule (Keras LearningRateScheduler with get_lr_scheduler(start)): constant while
 * epoch < start, then ×0.95 once per epoch, so lr(start) = base·0.95 and lr(399) = base·0.95^200
 * for start = 200. Epochs are 0-based.
 */
export function learningRateAt(epoch: number, baseLr: number, decayStartEpoch: number, factor = 0.95): number {
  if (epoch < decayStartEpoch) return baseLr;
  return baseLr * factor ** (epoch - decayStartEpoch + 1);
}
