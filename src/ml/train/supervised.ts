import * as tf from '@tensorflow/tfjs';
import { err, ok, type Result } from '../../base/result.js';
import type { AugmentOptions } from '../data/augment.js';
import type { CropOptions } from '../data/crop.js';
import { clearOutside } from '../data/crop.js';
import type { Sample } from '../data/types.js';
import { scoreImages } from '../metrics.js';
import { createRng, type Rng } from '../random.js';
import { batchCount, disposeBatch, epochSchedule, evalBatches, makeTrainBatch } from './batching.js';
import type { BestMetricName, ValidationMetrics } from './events.js';
import { binaryCrossEntropy, supervisedLoss, type SupervisedLoss } from './losses.js';
import { runEpochLoop, type EpochLoopOptions, type TrainResult } from './loop.js';
import { applyTraining, predictAll, ScheduledAdam, trainableVariables, type RelativeLrFilter } from './optimizer.js';

export interface TrainingData {
  readonly train: readonly Sample[];
  readonly validation: readonly Sample[];
}

export interface SupervisedOptions extends EpochLoopOptions {
  readonly batchSize: number;
  readonly cropSize: number;
  /** Validation centre-crop size; defaults to cropSize. */
  readonly valCropSize?: number;
  /** Metric that picks the kept weights: 'val_iou' (max) or 'val_loss' (min). */
  readonly bestMetric?: BestMetricName;
  /** Training loss (validation loss stays BCE, so val_loss is comparable across settings). Default 'bce'. */
  readonly loss?: SupervisedLoss;
  readonly seed: number;
  readonly augment?: AugmentOptions | false;
  readonly crop?: CropOptions;
  /** Variables whose Adam step is relative to their magnitude (see ScheduledAdam). */
  readonly relativeLr?: RelativeLrFilter;
}

export interface TrainError {
  readonly message: string;
}

function checkData(model: tf.LayersModel, data: TrainingData, options: SupervisedOptions): Result<true, TrainError> {
  if (model.outputs.length !== 1) return err({ message: `supervised training needs one output, model has ${model.outputs.length}` });
  if (data.train.length === 0) return err({ message: 'no training samples' });
  if (data.validation.length === 0) return err({ message: 'no validation samples (needed to pick the best epoch)' });
  if (!(options.batchSize >= 1 && options.cropSize >= 1 && options.epochs >= 1)) {
    return err({ message: `batchSize, cropSize and epochs must be >= 1` });
  }
  return ok(true);
}

/** A training-mode forward pass: the probabilities, and the logits when the model exposes them. */
type TrainingForward = (x: tf.Tensor) => { probabilities: tf.Tensor; logits?: tf.Tensor };

/**
 * The forward pass that training differentiates. A model whose last layer is a separate sigmoid (the
 * BLU-Net) is run up to that layer's input, so the loss sees the logits; a sigmoid fused into the last
 * conv (U-Net, lw_unet) gives probabilities only. The logit model shares the layers: never dispose it.
 */
export function trainingForward(model: tf.LayersModel): TrainingForward {
  const last = model.layers[model.layers.length - 1];
  const isSigmoid = last?.getClassName() === 'Activation' && last.getConfig()['activation'] === 'sigmoid';
  if (!last || !isSigmoid) return (x) => ({ probabilities: applyTraining(model, x)[0] ?? x });
  const logitModel = tf.model({ inputs: model.inputs, outputs: last.input as tf.SymbolicTensor });
  return (x) => {
    const logits = applyTraining(logitModel, x)[0] ?? x;
    return { probabilities: tf.sigmoid(logits), logits };
  };
}

/** One optimiser step on the training loss (+ the model's own regularisation losses); returns the loss value. */
async function supervisedStep(
  model: tf.LayersModel,
  forward: TrainingForward,
  optimizer: ScheduledAdam,
  variables: tf.Variable[],
  samples: readonly Sample[],
  rng: Rng,
  options: SupervisedOptions,
): Promise<number> {
  const batch = makeTrainBatch(samples, rng, options);
  if (!batch) return Number.NaN;
  let cost: tf.Scalar | null;
  try {
    cost = optimizer.minimize(
      () => {
        const { probabilities, logits } = forward(batch.x);
        const fit = supervisedLoss(options.loss ?? 'bce', batch.y, probabilities, logits);
        const regularisation = model.calculateLosses();
        return regularisation.length > 0 ? tf.add(fit, tf.addN(regularisation)).asScalar() : fit;
      },
      true,
      variables,
    );
  } finally {
    disposeBatch(batch);
  }
  const value = cost ? ((await cost.data())[0] ?? Number.NaN) : Number.NaN;
  cost?.dispose();
  return value;
}

/** Val BCE (mean over pixels and images) and mean per-image IoU/F1 on centre crops. */
export async function validateSupervised(
  model: tf.LayersModel,
  samples: readonly Sample[],
  cropSize: number,
  batchSize: number,
): Promise<ValidationMetrics> {
  let lossSum = 0;
  let [low, high] = [Infinity, -Infinity];
  const perImage: { iou: number; f1: number }[] = [];
  const trivial: number[] = [];
  for (const batch of evalBatches(samples, cropSize, batchSize)) {
    const [loss, probabilities] = tf.tidy(() => {
      const p = predictAll(model, batch.x)[0] ?? tf.zerosLike(batch.y);
      return [binaryCrossEntropy(batch.y, p), p];
    });
    const [lossValue, truth, predicted] = await Promise.all([loss.data(), batch.y.data(), probabilities.data()]);
    lossSum += (lossValue[0] ?? Number.NaN) * batchCount(batch.x);
    [low, high] = valueRange(predicted, low, high);
    const allForeground = new Float32Array(predicted.length).fill(1);
    batch.inside.forEach((inside, b) => {
      clearOutside(predicted as Float32Array, cropSize, inside, b * cropSize * cropSize);
      clearOutside(allForeground, cropSize, inside, b * cropSize * cropSize);
    });
    perImage.push(...scoreImages(truth, predicted, cropSize * cropSize).perImage);
    trivial.push(...scoreImages(truth, allForeground, cropSize * cropSize).perImage.map((s) => s.iou));
    tf.dispose([loss, probabilities]);
    disposeBatch(batch);
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const iou = mean(perImage.map((s) => s.iou));
  const f1 = mean(perImage.map((s) => s.f1));
  return { loss: lossSum / samples.length, iou, f1, outputRange: [low, high], allForegroundIou: mean(trivial) };
}

/** Running min/max over a typed array (no spread: validation sets have millions of pixels). */
export function valueRange(values: ArrayLike<number>, low = Infinity, high = -Infinity): [number, number] {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? Number.NaN;
    if (v < low) low = v;
    if (v > high) high = v;
  }
  return [low, high];
}

/**
 * Supervised BCE training with Adam and the thesis lr schedule. Keeps the best weights (by
 * `bestMetric`) in `model`. Reproducible for a seed on one backend: crops, augmentation and
 * shuffles all come from one seeded stream.
 */
export async function trainSupervised(
  model: tf.LayersModel,
  data: TrainingData,
  options: SupervisedOptions,
): Promise<Result<TrainResult, TrainError>> {
  const checked = checkData(model, data, options);
  if (!checked.ok) return checked;
  const rng = createRng(options.seed);
  const optimizer = new ScheduledAdam(options.learningRate, options.relativeLr);
  const variables = trainableVariables(model);
  // checkData guarantees exactly one output.
  const forward = trainingForward(model);
  const emit = options.onEvent ?? (() => undefined);
  try {
    const result = await runEpochLoop(options, {
      model,
      optimizer,
      metric: options.bestMetric ?? 'val_iou',
      trainEpoch: async (epoch, steps) => {
        const schedule = epochSchedule(data.train, options.batchSize, steps, rng);
        let total = 0;
        for (const [batch, samples] of schedule.entries()) {
          const loss = await supervisedStep(model, forward, optimizer, variables, samples, rng, options);
          total += loss;
          emit({ type: 'batch-end', epoch, batch, loss });
        }
        return total / schedule.length;
      },
      validate: () => validateSupervised(model, data.validation, options.valCropSize ?? options.cropSize, options.batchSize),
    });
    return ok(result);
  } catch (cause) {
    // tfjs reports kernel and memory failures by throwing; turn them into a typed result here.
    return err({ message: cause instanceof Error ? cause.message : String(cause) });
  } finally {
    optimizer.dispose();
  }
}
