import type * as tf from '@tensorflow/tfjs';
import { disposeAll, snapshotWeights, type ScheduledAdam } from './optimizer.js';
import { COLLAPSE_IOU } from './collapse.js';
import { learningRateAt } from './schedule.js';
import type { BestMetricName, EpochRecord, TrainEventHandler, ValidationMetrics } from './events.js';

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
  readonly onEvent?: TrainEventHandler;
}

export interface TrainResult {
  /** -1 when no epoch was eligible (epochs <= ignoreEpochs); the final weights then stay. */
  readonly bestEpoch: number;
  readonly bestMetric: number;
  readonly metricName: BestMetricName;
  readonly history: EpochRecord[];
  /** Why training ended before `epochs`: early stopping or the wall-time cap. */
  readonly stoppedBy?: 'patience' | 'time';
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

/** Epoch loop: lr schedule, validation, best-weights snapshot, early stopping, wall-time cap, events. */
export async function runEpochLoop(options: EpochLoopOptions, hooks: LoopHooks): Promise<TrainResult> {
  const emit = options.onEvent ?? (() => undefined);
  const decayStart = options.lrDecayStartEpoch ?? Math.floor(options.epochs / 2);
  const history: EpochRecord[] = [];
  let best = { epoch: -1, value: Number.NaN, weights: [] as tf.Tensor[] };
  let stoppedBy: TrainResult['stoppedBy'];
  let stepsDone = 0;
  const loopStart = performance.now();
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const steps = stepsInEpoch(options, epoch);
    if (steps === 0) break;
    const lr = learningRateAt(epoch, options.learningRate, decayStart);
    hooks.optimizer.setLearningRate(lr);
    emit({ type: 'epoch-start', epoch, lr });
    const started = performance.now();
    const loss = await hooks.trainEpoch(epoch, steps);
    const val = await hooks.validate();
    stepsDone += steps ?? 0;
    const record = { epoch, loss, val, lr, seconds: (performance.now() - started) / 1000, ...(steps !== undefined ? { step: stepsDone } : {}) };
    history.push(record);
    emit({ type: 'epoch-end', ...record });
    const value = metricValue(hooks.metric, val);
    if (epoch >= (options.ignoreEpochs ?? 0) && !predictsNothing(val) && improves(hooks.metric, value, best.value)) {
      disposeAll(best.weights);
      best = { epoch, value, weights: snapshotWeights(hooks.model) };
      emit({ type: 'best-updated', epoch, metric: hooks.metric, value });
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
  return { bestEpoch: best.epoch, bestMetric: best.value, metricName: hooks.metric, history, ...(stoppedBy ? { stoppedBy } : {}) };
}
