export type { TrainEvent, TrainEventHandler, EpochRecord, ValidationMetrics, BestMetricName } from './events.js';
export { learningRateAt } from './schedule.js';
export { binaryCrossEntropy, binaryCrossEntropyFromLogits, softDiceLoss, summedHintMse, type SupervisedLoss } from './losses.js';
export { ScheduledAdam, type RelativeLrFilter } from './optimizer.js';
export type { EpochLoopOptions, TrainResult, LrDrop } from './loop.js';
export {
  plateauStep,
  trailingMean,
  PLATEAU_START,
  type PlateauRule,
  type PlateauState,
  type PlateauAction,
  type Smoothing,
} from './plateau.js';
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
