export type { Sample, DatasetSplit, DataError, DataErrorCode } from './types.js';
export { loadDataset, type LoadDatasetOptions, type DatasetLayout } from './dataset.js';
export { decodePair, clearSampleCache } from './decode.js';
export { thesisSplit, chunk, type ThesisSplitOptions } from './split.js';
export { clearOutside, cropSample, extractWindow, type InsideRect, type Patch, type CropMode, type CropOptions } from './crop.js';
export {
  augmentPatch,
  histogramVoodoo,
  elasticDeform,
  gaussianNoise,
  flipLeftRight,
  flipUpDown,
  rot90,
  type AugmentOptions,
} from './augment.js';
export { createPchip } from './pchip.js';
export { trainPatch, evalPatch, patchesToBatch, type Batch, type TrainPatchOptions } from './batches.js';
