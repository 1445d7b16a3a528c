import * as tf from '@tensorflow/tfjs';
import { err, ok, type Result } from '../../base/result.js';
import type { AugmentOptions } from '../data/augment.js';
import type { CropOptions } from '../data/crop.js';
import type { Sample } from '../data/types.js';
import { createRng, type Rng } from '../random.js';
import { batchCount, disposeBatch, epochSchedule, evalBatches, makeTrainBatch } from './batching.js';
import type { ValidationMetrics } from './events.js';
import { summedHintMse } from './losses.js';
import { runEpochLoop, type EpochLoopOptions, type TrainResult } from './loop.js';
import { applyTraining, predictAll, ScheduledAdam, trainableVariables } from './optimizer.js';
import type { TrainError, TrainingData } from './supervised.js';

/**
 * Which layers are paired: teacherIndices[i] guides studentIndices[i] (thesis: the same index in
 * both nets). The tap models given to trainHint must output exactly these layers, in this order.
 */
export interface HintTaps {
  readonly teacherIndices: readonly number[];
  readonly studentIndices: readonly number[];
}

export interface HintOptions extends EpochLoopOptions {
  readonly batchSize: number;
  readonly cropSize: number;
  readonly valCropSize?: number;
  readonly seed: number;
  readonly augment?: AugmentOptions | false;
  readonly crop?: CropOptions;
}

function checkTaps(teacher: tf.LayersModel, student: tf.LayersModel, taps: HintTaps): Result<true, TrainError> {
  const pairs = taps.teacherIndices.length;
  if (pairs === 0 || pairs !== taps.studentIndices.length) {
    return err({ message: `hint taps need equal, non-empty index lists (got ${pairs} and ${taps.studentIndices.length})` });
  }
  if (teacher.outputs.length !== pairs || student.outputs.length !== pairs) {
    return err({
      message: `tap models must have ${pairs} outputs; teacher has ${teacher.outputs.length}, student ${student.outputs.length}`,
    });
  }
  const mismatch = teacher.outputs.findIndex((t, i) => t.shape.join() !== student.outputs[i]?.shape.join());
  if (mismatch >= 0) {
    return err({ message: `hint pair ${mismatch} has different shapes (no adapter layers, as in the thesis)` });
  }
  return ok(true);
}

async function hintStep(
  models: { teacher: tf.LayersModel; student: tf.LayersModel },
  optimizer: ScheduledAdam,
  variables: tf.Variable[],
  samples: readonly Sample[],
  rng: Rng,
  options: HintOptions,
): Promise<number> {
  const batch = makeTrainBatch(samples, rng, options);
  if (!batch) return Number.NaN;
  let cost: tf.Scalar | null;
  try {
    // The teacher is frozen: inference mode, outside the gradient function.
    const targets = predictAll(models.teacher, batch.x);
    try {
      cost = optimizer.minimize(() => summedHintMse(targets, applyTraining(models.student, batch.x)), true, variables);
    } finally {
      tf.dispose(targets);
    }
  } finally {
    disposeBatch(batch);
  }
  const value = cost ? ((await cost.data())[0] ?? Number.NaN) : Number.NaN;
  cost?.dispose();
  return value;
}

/** Summed hint MSE over the validation centre crops (mean over images). */
export async function validateHint(
  teacher: tf.LayersModel,
  student: tf.LayersModel,
  samples: readonly Sample[],
  cropSize: number,
  batchSize: number,
): Promise<ValidationMetrics> {
  let lossSum = 0;
  for (const batch of evalBatches(samples, cropSize, batchSize)) {
    const loss = tf.tidy(() => summedHintMse(predictAll(teacher, batch.x), predictAll(student, batch.x)));
    lossSum += ((await loss.data())[0] ?? Number.NaN) * batchCount(batch.x);
    loss.dispose();
    disposeBatch(batch);
  }
  return { loss: lossSum / samples.length };
}

/**
 * Thesis §4 hint learning. `teacherTaps` / `studentTaps` are multi-output tap models (built by
 * the caller, e.g. with tapModel from src/ml/models) whose outputs are the layers listed in
 * `taps`; the student tap model shares its variables with the student, so training it trains the
 * student. Loss: Σ per-layer MSE; best epoch by val hint loss; best weights left in the student.
 */
export async function trainHint(
  teacherTaps: tf.LayersModel,
  studentTaps: tf.LayersModel,
  taps: HintTaps,
  data: TrainingData,
  options: HintOptions,
): Promise<Result<TrainResult, TrainError>> {
  const checked = checkTaps(teacherTaps, studentTaps, taps);
  if (!checked.ok) return checked;
  if (data.train.length === 0 || data.validation.length === 0) {
    return err({ message: 'hint learning needs training and validation samples' });
  }
  const rng = createRng(options.seed);
  const optimizer = new ScheduledAdam(options.learningRate);
  const variables = trainableVariables(studentTaps);
  const emit = options.onEvent ?? (() => undefined);
  const models = { teacher: teacherTaps, student: studentTaps };
  try {
    const result = await runEpochLoop(options, {
      model: studentTaps,
      optimizer,
      metric: 'val_loss',
      trainEpoch: async (epoch, steps) => {
        const schedule = epochSchedule(data.train, options.batchSize, steps, rng);
        let total = 0;
        for (const [batch, samples] of schedule.entries()) {
          const loss = await hintStep(models, optimizer, variables, samples, rng, options);
          total += loss;
          emit({ type: 'batch-end', epoch, batch, loss });
        }
        return total / schedule.length;
      },
      validate: () => validateHint(teacherTaps, studentTaps, data.validation, options.valCropSize ?? options.cropSize, options.batchSize),
    });
    return ok(result);
  } catch (cause) {
    return err({ message: cause instanceof Error ? cause.message : String(cause) });
  } finally {
    optimizer.dispose();
  }
}
