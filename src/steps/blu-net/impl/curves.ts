/** Learning curves of the trained models, from their train.json (pure: no I/O, no tfjs). */
import type { EpochRecord, LrDrop, TrainResult } from '../../../ml/train/index.js';

export interface CurvePoint {
  /** Optimizer steps of the model at this validation (earlier phases and start weights included). */
  readonly step: number;
  readonly iou: number;
  /** The trailing mean that picks the kept weights, when the phase smooths. */
  readonly smoothed?: number;
}

/** The validation curve of a model's last supervised phase and what ended it. */
export interface TrainingCurve {
  readonly points: readonly CurvePoint[];
  /** Step of the kept weights. */
  readonly bestStep?: number;
  /** Step of the last validation. */
  readonly stopStep: number;
  /** 'plateau' or 'budget' under the plateau rule; 'fixed budget' without one; 'time' at the wall-time cap. */
  readonly endedBy: string;
  readonly lrDrops: readonly { readonly step: number; readonly lr: number }[];
  /** Optimizer steps of this model and every model it came from. */
  readonly lineageSteps?: number;
}

/** A phase as train.json stores it (PhaseRecord). */
export interface StoredPhase extends Pick<TrainResult, 'history' | 'bestEpoch' | 'stoppedBy'> {
  readonly phase: string;
  readonly offset?: number;
  readonly lrDrops?: readonly LrDrop[];
}

const withIou = (h: EpochRecord): h is EpochRecord & { val: { iou: number } } => typeof h.val.iou === 'number';

/** The curve of the last phase that validated IoU (hint learning phases do not), or undefined. */
export function curveOf(phases: readonly StoredPhase[], lineageSteps: number | undefined): TrainingCurve | undefined {
  const phase = [...phases].reverse().find((p) => p.history.some(withIou));
  if (phase === undefined) return undefined;
  const offset = phase.offset ?? 0;
  const at = (h: EpochRecord) => offset + (h.step ?? h.epoch + 1);
  const points = phase.history
    .filter(withIou)
    .map((h) => ({ step: at(h), iou: h.val.iou, ...(h.smoothed !== undefined ? { smoothed: h.smoothed } : {}) }));
  const best = phase.history.find((h) => h.epoch === phase.bestEpoch);
  const last = phase.history[phase.history.length - 1];
  const drops = (phase.lrDrops ?? []).map((d) => ({ step: offset + (d.step ?? d.epoch + 1), lr: d.lr }));
  return {
    points,
    ...(best !== undefined ? { bestStep: at(best) } : {}),
    stopStep: last !== undefined ? at(last) : offset,
    endedBy: phase.stoppedBy ?? 'fixed budget',
    lrDrops: drops,
    ...(lineageSteps !== undefined ? { lineageSteps } : {}),
  };
}
