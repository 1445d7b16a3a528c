/** Typed progress events of the training loops, delivered synchronously through `onEvent`. */

export interface ValidationMetrics {
  /** BCE for supervised training, summed hint MSE for hint learning. */
  readonly loss: number;
  /** Mean per-image IoU / F1 on centre crops; absent for hint learning. */
  readonly iou?: number;
  readonly f1?: number;
  /** Smallest and largest predicted probability over every validation pixel (supervised only). */
  readonly outputRange?: readonly [number, number];
  /** IoU of the all-foreground mask on the same crops: what a model that learned nothing can score. */
  readonly allForegroundIou?: number;
}

export type BestMetricName = 'val_iou' | 'val_loss';

export type TrainEvent =
  | { readonly type: 'epoch-start'; readonly epoch: number; readonly lr: number }
  | { readonly type: 'batch-end'; readonly epoch: number; readonly batch: number; readonly loss: number }
  | {
      readonly type: 'epoch-end';
      readonly epoch: number;
      /** Mean training loss over the epoch's batches. */
      readonly loss: number;
      readonly val: ValidationMetrics;
      readonly lr: number;
      readonly seconds: number;
      readonly step?: number;
      readonly smoothed?: number;
    }
  | { readonly type: 'best-updated'; readonly epoch: number; readonly metric: BestMetricName; readonly value: number }
  | { readonly type: 'early-stop'; readonly epoch: number; readonly bestEpoch: number }
  /** The plateau rule lowered the lr; `lr` holds from the next validation interval. */
  | { readonly type: 'lr-drop'; readonly epoch: number; readonly lr: number }
  | { readonly type: 'time-limit'; readonly epoch: number; readonly seconds: number };

export type TrainEventHandler = (event: TrainEvent) => void;

/** One row of the returned history (the epoch-end event without its tag). */
export interface EpochRecord {
  readonly epoch: number;
  readonly loss: number;
  readonly val: ValidationMetrics;
  readonly lr: number;
  readonly seconds: number;
  /** Optimizer steps done when this validation ran (known when the loop has a step budget). */
  readonly step?: number;
  /** Trailing mean of the metric (val IoU or val loss) when the loop smooths it: what picks the kept weights. */
  readonly smoothed?: number;
}
