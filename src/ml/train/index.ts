export type { TrainEvent, TrainEventHandler, EpochRecord, ValidationMetrics, BestMetricName } from './events.js';
export { learningRateAt } from './schedule.js';
export { binaryCrossEntropy, softDiceLoss, summedHintMse, type SupervisedLoss } from './losses.js';
export { ScheduledAdam, type RelativeLrFilter } from './optimizer.js';
export type { EpochLoopOptions, TrainResult } from './loop.js';
export {
  trainSupervised,
  validateSupervised,
  valueRange,
  type SupervisedOptions,
  type TrainingData,
  type TrainError,
} from './supervised.js';
export { trainHint, validateHint, type HintTaps, type HintOptions } from './hint.js';
export { detectCollapse, constantOutput, COLLAPSE_IOU, CONSTANT_OUTPUT_SPREAD } from './collapse.js';
