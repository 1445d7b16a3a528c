import type * as tf from '@tensorflow/tfjs';
import { disposeAll, snapshotWeights, type ScheduledAdam } from './optimizer.js';
import { COLLAPSE_IOU } from './collapse.js';
import { learningRateAt } from './schedule.js';
import type { BestMetricName, EpochRecord, TrainEventHandler, ValidationMetrics } from './events.js';
import {
  PLATEAU_START,
  plateauStep,
  trailingMean,
  type PlateauAction,
  type PlateauRule,
  type PlateauState,
  type Smoothing,
} from './plateau.js';

/** Settings shared by both training loops. */
export interface EpochLoopOptions {
  readonly epochs: number;
  readonly learningRate: number;
  /** First epoch (0-based) at which lr starts to shrink ×0.95 per epoch. Default: epochs/2 as in the thesis. */
  readonly lrDecayStartEpoch?: number;
  /** Epochs before this one never become "best" (thesis checkpoint `ignore`, e.g. 40). */
  readonly ignoreEpochs?: number;
  /** Stop after this many eligible epochs without improvement. Off when undefined. */
  readonly patience?: number;
  /** Optimizer steps per epoch (one validation interval). Default: one pass over the training images. */
  readonly stepsPerEpoch?: number;
  /** With stepsPerEpoch: the phase's whole budget; the last epoch is cut short so exactly this many steps run. */
  readonly totalSteps?: number;
  /** Wall-time cap: no new epoch starts once this many seconds have passed (the current one finishes and is validated). */
  readonly maxSeconds?: number;
  /** The kept weights are those of the best trailing mean of the metric instead of its best single value. */
  readonly smoothing?: Smoothing;
  /** Convergence rule on the (smoothed) metric; replaces the thesis lr decay with plateau drops. */
  readonly plateau?: PlateauRule;
  readonly onEvent?: TrainEventHandler;
}

/** An lr drop of the plateau rule. */
export interface LrDrop {
  readonly epoch: number;
  readonly step?: number;
  readonly lr: number;
}

export interface TrainResult {
  /** -1 when no epoch was eligible (epochs <= ignoreEpochs); the final weights then stay. */
  readonly bestEpoch: number;
  readonly bestMetric: number;
  readonly metricName: BestMetricName;
  readonly history: EpochRecord[];
  /**
   * Why training ended: early stopping, the wall-time cap, the plateau rule, or (with a plateau
   * rule) the step budget before the rule fired. Absent: the budget, without a plateau rule.
   */
  readonly stoppedBy?: 'patience' | 'time' | 'plateau' | 'budget';
  /** With a plateau rule: the lr drops it made. */
  readonly lrDrops?: readonly LrDrop[];
}

interface LoopHooks {
  readonly model: tf.LayersModel;
  readonly optimizer: ScheduledAdam;
  readonly metric: BestMetricName;
  /** Runs one epoch of `steps` optimizer steps (undefined: one pass) and returns the mean training loss. */
  readonly trainEpoch: (epoch: number, steps: number | undefined) => Promise<number>;
  readonly validate: () => Promise<ValidationMetrics>;
}

function metricValue(metric: BestMetricName, val: ValidationMetrics): number {
  return metric === 'val_iou' ? (val.iou ?? Number.NaN) : val.loss;
}

/**
 * A validation whose IoU is (near) 0 is never kept, whatever the metric: with `val_loss` an early
 * all-background model can have the lowest loss on sparse masks. If no validation qualifies the
 * final weights stay, and collapse detection reports them.
 */
function predictsNothing(val: ValidationMetrics): boolean {
  return val.iou !== undefined && val.iou <= COLLAPSE_IOU;
}

function improves(metric: BestMetricName, value: number, best: number): boolean {
  if (Number.isNaN(value)) return false;
  if (Number.isNaN(best)) return true;
  return metric === 'val_iou' ? value > best : value < best;
}

/** Steps of epoch `epoch`: stepsPerEpoch, the last one cut to what remains of totalSteps. */
export function stepsInEpoch(options: Pick<EpochLoopOptions, 'stepsPerEpoch' | 'totalSteps'>, epoch: number): number | undefined {
  const per = options.stepsPerEpoch;
  if (per === undefined || options.totalSteps === undefined) return per;
  return Math.max(0, Math.min(per, options.totalSteps - epoch * per));
}

/** The lr of an epoch: plateau drops when a plateau rule is set, else the thesis schedule. */
function epochLr(options: EpochLoopOptions, epoch: number, drops: number): number {
  if (options.plateau) return options.learningRate * options.plateau.lrFactor ** drops;
  return learningRateAt(epoch, options.learningRate, options.lrDecayStartEpoch ?? Math.floor(options.epochs / 2));
}

/** Higher is better for the plateau rule. */
const score = (metric: BestMetricName, value: number) => (metric === 'val_iou' ? value : -value);

interface Tracker {
  readonly values: number[];
  plateau: PlateauState;
  readonly drops: LrDrop[];
}

/** The smoothed metric after this validation and what the plateau rule does with it. */
function track(
  options: EpochLoopOptions,
  metric: BestMetricName,
  tracker: Tracker,
  value: number,
): { smoothed: number; action: PlateauAction } {
  tracker.values.push(value);
  const smoothed = trailingMean(tracker.values, options.smoothing?.window ?? 1);
  if (!options.plateau) return { smoothed, action: 'continue' };
  // With val IoU, a model still at the all-background solution has not started, so it cannot plateau.
  const rule = metric === 'val_iou' ? { ...options.plateau, floor: options.plateau.floor ?? COLLAPSE_IOU } : options.plateau;
  const decided = plateauStep(tracker.plateau, rule, score(metric, smoothed), tracker.values.length);
  tracker.plateau = decided.state;
  return { smoothed, action: decided.action };
}

/** Epoch loop: lr schedule, validation, best-weights snapshot, early stopping, plateau rule, wall-time cap, events. */
export async function runEpochLoop(options: EpochLoopOptions, hooks: LoopHooks): Promise<TrainResult> {
  const emit = options.onEvent ?? (() => undefined);
  const history: EpochRecord[] = [];
  const tracker: Tracker = { values: [], plateau: PLATEAU_START, drops: [] };
  let best = { epoch: -1, value: Number.NaN, weights: [] as tf.Tensor[] };
  let stoppedBy: TrainResult['stoppedBy'];
  let stepsDone = 0;
  const loopStart = performance.now();
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const steps = stepsInEpoch(options, epoch);
    if (steps === 0) break;
    const lr = epochLr(options, epoch, tracker.drops.length);
    hooks.optimizer.setLearningRate(lr);
    emit({ type: 'epoch-start', epoch, lr });
    const started = performance.now();
    const loss = await hooks.trainEpoch(epoch, steps);
    const val = await hooks.validate();
    stepsDone += steps ?? 0;
    const { smoothed, action } = track(options, hooks.metric, tracker, metricValue(hooks.metric, val));
    const stepField = steps !== undefined ? { step: stepsDone } : {};
    const record = {
      epoch,
      loss,
      val,
      lr,
      seconds: (performance.now() - started) / 1000,
      ...stepField,
      ...(options.smoothing ? { smoothed } : {}),
    };
    history.push(record);
    emit({ type: 'epoch-end', ...record });
    if (epoch >= (options.ignoreEpochs ?? 0) && !predictsNothing(val) && improves(hooks.metric, smoothed, best.value)) {
      disposeAll(best.weights);
      best = { epoch, value: smoothed, weights: snapshotWeights(hooks.model) };
      emit({ type: 'best-updated', epoch, metric: hooks.metric, value: smoothed });
    }
    if (action === 'drop-lr') {
      const lowered = epochLr(options, epoch + 1, tracker.drops.length + 1);
      tracker.drops.push({ epoch, ...stepField, lr: lowered });
      emit({ type: 'lr-drop', epoch, lr: lowered });
    }
    if (action === 'stop') {
      emit({ type: 'early-stop', epoch, bestEpoch: best.epoch });
      stoppedBy = 'plateau';
      break;
    }
    if (options.patience !== undefined && best.epoch >= 0 && epoch - best.epoch >= options.patience) {
      emit({ type: 'early-stop', epoch, bestEpoch: best.epoch });
      stoppedBy = 'patience';
      break;
    }
    const elapsed = (performance.now() - loopStart) / 1000;
    if (options.maxSeconds !== undefined && elapsed >= options.maxSeconds && epoch + 1 < options.epochs) {
      emit({ type: 'time-limit', epoch, seconds: elapsed });
      stoppedBy = 'time';
      break;
    }
  }
  if (best.epoch >= 0) hooks.model.setWeights(best.weights);
  disposeAll(best.weights);
  const plateau = options.plateau
    ? { stoppedBy: stoppedBy ?? ('budget' as const), lrDrops: tracker.drops }
    : stoppedBy
      ? { stoppedBy }
      : {};
  return { bestEpoch: best.epoch, bestMetric: best.value, metricName: hooks.metric, history, ...plateau };
}
