/** Segmenting new images with any trained model (CLI `predict` and the `predict` step kind). */
export { openPredictor, type Predictor, type ModelSourceError } from './predictor.js';
export { checkTiling, listImages, predictImages, type PredictOptions, type PredictEvent, type PredictSummary } from './run.js';
export { readGreyImage, type ImageError } from './image.js';
export { planAxis } from './tiles.js';
