/** Runs the ml/train loops for a step: settings mapping, progress/metric reporting, cancellation. */
import type * as tf from '@tensorflow/tfjs';
import type { DatasetSplit } from '../../../ml/data/index.js';
import { HINT_DECODER_INDICES, HINT_ENCODER_INDICES, tapModel } from '../../../ml/models/index.js';
import {
  trainHint,
  trainSupervised,
  type HintOptions,
  type PlateauRule,
  type RelativeLrFilter,
  type SupervisedOptions,
  type TrainEventHandler,
  type TrainResult,
} from '../../../ml/train/index.js';
import { ok } from '../../../base/result.js';
import type { StepRunContext } from '../../../runtime/kinds/kind.js';
import type { PlateauSettings, TrainSettings } from '../common.js';
import { failure, metric, throwIfAborted, type StepResult } from './context.js';

/** One training phase of a step; several phases share one step counter in the progress display. */
export interface Phase {
  /** Metric name prefix, e.g. 'hint_encoder_' ('' for the main phase). */
  readonly prefix: string;
  /** Optimizer steps done by earlier phases of the same step. */
  readonly offset: number;
  /** Optimizer steps of all phases of the step. */
  readonly total: number;
}

export interface PhaseRecord extends TrainResult {
  readonly phase: string;
  readonly seconds: number;
  /** Optimizer steps done before this phase (earlier phases, or the weights it continued). */
  readonly offset: number;
}

function handler(ctx: StepRunContext, phase: Phase): TrainEventHandler {
  return (event) => {
    if (event.type === 'batch-end') throwIfAborted(ctx);
    if (event.type === 'lr-drop') ctx.log(`${phase.prefix || 'train'}: val IoU plateaued; lr → ${event.lr.toExponential(2)}`);
    if (event.type === 'early-stop') ctx.log(`${phase.prefix || 'train'}: val IoU plateaued after validation ${event.epoch + 1}; stopping`);
    if (event.type === 'time-limit')
      ctx.log(
        `${phase.prefix || 'train'}: wall-time cap reached after ${event.seconds.toFixed(0)} s (validation ${event.epoch + 1}); stopping`,
      );
    if (event.type !== 'epoch-end') return;
    const step = phase.offset + (event.step ?? event.epoch + 1);
    const shown: Record<string, number> = { loss: event.loss, val_loss: event.val.loss };
    if (event.val.iou !== undefined) shown.val_iou = event.val.iou;
    if (event.val.f1 !== undefined) shown.val_f1 = event.val.f1;
    if (event.smoothed !== undefined) shown.val_smoothed = event.smoothed;
    ctx.report.progress({ label: 'step', current: step, total: phase.total, metrics: shown });
    for (const [name, value] of Object.entries({ ...shown, lr: event.lr, interval_seconds: event.seconds })) {
      metric(ctx, `${phase.prefix}${name}`, value, step);
    }
  };
}

/**
 * Step budget → the epoch loop: one "epoch" is one validation interval of `val_every` steps (the
 * last one cut to the budget); ignore_steps and lr_decay_start become whole intervals.
 */
export function loopOptions(s: TrainSettings) {
  return {
    epochs: Math.ceil(s.steps / s.val_every),
    stepsPerEpoch: s.val_every,
    totalSteps: s.steps,
    learningRate: s.lr,
    batchSize: s.batch,
    cropSize: s.crop,
    seed: s.seed,
    augment: s.augment ? {} : (false as const),
    crop: { sampler: s.sampler, ...(s.foreground_probability !== undefined ? { foregroundProbability: s.foreground_probability } : {}) },
    ...(s.val_crop !== undefined ? { valCropSize: s.val_crop } : {}),
    ...(s.ignore_steps !== undefined ? { ignoreEpochs: Math.floor(s.ignore_steps / s.val_every) } : {}),
    ...(s.lr_decay_start !== undefined ? { lrDecayStartEpoch: Math.floor(s.lr_decay_start / s.val_every) } : {}),
    ...(s.max_minutes !== undefined ? { maxSeconds: s.max_minutes * 60 } : {}),
    ...(s.smooth !== undefined ? { smoothing: { window: s.smooth } } : {}),
    ...(s.plateau !== undefined ? { plateau: plateauRule(s.plateau, s.val_every) } : {}),
  };
}

/** The plateau rule in validations: patience rounded up to whole intervals, min_steps rounded down. */
export function plateauRule(p: PlateauSettings, valEvery: number): PlateauRule {
  return {
    patience: Math.max(1, Math.ceil(p.patience / valEvery)),
    minDelta: p.min_delta,
    lrDrops: p.lr_drops,
    lrFactor: p.lr_factor,
    minValidations: Math.floor((p.min_steps ?? 0) / valEvery),
  };
}

/** The step of the kept validation ('none' when no validation was eligible). */
function stepOf(result: TrainResult): string {
  return String(result.history.find((h) => h.epoch === result.bestEpoch)?.step ?? 'none');
}

/** Optimizer steps a phase ran (its last validation's step). */
export function phaseSteps(result: Pick<TrainResult, 'history'>): number {
  return result.history[result.history.length - 1]?.step ?? 0;
}

function record(phase: string, started: number, result: TrainResult, offset: number): PhaseRecord {
  return { ...result, phase, seconds: (performance.now() - started) / 1000, offset };
}

/** BCE training of `model` in place (best weights kept); reports every epoch. */
export async function supervisedPhase(
  ctx: StepRunContext,
  model: tf.LayersModel,
  data: DatasetSplit,
  settings: TrainSettings,
  phase: Phase,
  relativeLr?: RelativeLrFilter,
): Promise<StepResult<PhaseRecord>> {
  const options: SupervisedOptions = {
    ...loopOptions(settings),
    bestMetric: settings.best,
    ...(settings.loss ? { loss: settings.loss } : {}),
    ...(relativeLr ? { relativeLr } : {}),
    onEvent: handler(ctx, phase),
  };
  const started = performance.now();
  const result = await trainSupervised(model, data, options);
  if (!result.ok) return failure(ctx.signal.aborted ? 'cancelled' : result.error.message);
  const stop = result.value.stoppedBy !== undefined ? `; ended by ${result.value.stoppedBy} after ${phaseSteps(result.value)} steps` : '';
  ctx.log(
    `${phase.prefix || 'train'}: best ${result.value.metricName} ${result.value.bestMetric.toFixed(4)} at step ${stepOf(result.value)}${stop}`,
  );
  return ok(record(phase.prefix || 'supervised', started, result.value, phase.offset));
}

/** One hint-learning step (encoder or decoder taps) from `teacher` into `student`, in place. */
export async function hintPhase(
  ctx: StepRunContext,
  models: { readonly teacher: tf.LayersModel; readonly student: tf.LayersModel },
  which: 'encoder' | 'decoder',
  data: DatasetSplit,
  settings: TrainSettings,
  phase: Phase,
): Promise<StepResult<PhaseRecord>> {
  const indices = which === 'encoder' ? HINT_ENCODER_INDICES : HINT_DECODER_INDICES;
  // The tap models share layers (and weights) with the full models: never dispose them.
  const teacherTaps = tapModel(models.teacher, indices);
  const studentTaps = tapModel(models.student, indices);
  const options: HintOptions = { ...loopOptions(settings), onEvent: handler(ctx, phase) };
  const started = performance.now();
  const result = await trainHint(teacherTaps, studentTaps, { teacherIndices: indices, studentIndices: indices }, data, options);
  if (!result.ok) return failure(ctx.signal.aborted ? 'cancelled' : result.error.message);
  ctx.log(`hint ${which}: best val hint loss ${result.value.bestMetric.toFixed(4)} at step ${stepOf(result.value)}`);
  return ok(record(`hint_${which}`, started, result.value, phase.offset));
}
