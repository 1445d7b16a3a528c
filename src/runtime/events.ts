import type { StepKey } from '../artifacts/types.js';
import type { StaleReason } from './plan/reasons.js';

/** Live progress reported by a step (e.g. epoch 3/20, loss 0.31). */
export interface StepProgress {
  readonly label?: string; // e.g. "epoch"
  readonly current?: number;
  readonly total?: number;
  readonly metrics?: Readonly<Record<string, number>>;
  readonly message?: string;
}

export type StepOutcome = 'ran' | 'restored' | 'fresh' | 'failed' | 'skipped' | 'cancelled';

export type FailureReason =
  | 'exit-non-zero'
  | 'signal'
  | 'timeout'
  | 'spawn-failed'
  | 'output-missing'
  | 'output-outside-project'
  | 'cancelled'
  | 'out-of-memory'
  | 'node-fail'
  | 'no-space' // the disk (or quota) holding the cache or the workspace is full
  | 'internal';

export interface StepFailure {
  readonly reason: FailureReason;
  readonly message: string;
  readonly exitCode?: number;
  readonly logPath?: string;
  readonly logTail?: string;
  readonly jobId?: string;
}

/** One stream of typed events; reporters (TTY, plain, JSON, trackers) render it. */
export type RunEvent =
  | {
      readonly type: 'run-start';
      readonly runId: string;
      readonly pipelineFile: string;
      readonly pipelineName: string;
      readonly steps: readonly { readonly id: string; readonly action: 'run' | 'restore' | 'fresh' | 'skip' }[];
      readonly time: number;
    }
  | {
      readonly type: 'step-queued';
      readonly stepId: string;
      readonly kind: string;
      readonly key: StepKey;
      readonly params: Readonly<Record<string, unknown>>;
      /** fresh: outputs already in place, nothing to do (trackers still record it, like a restore). */
      readonly action: 'run' | 'restore' | 'fresh';
      readonly reasons: readonly StaleReason[];
      readonly time: number;
    }
  | {
      readonly type: 'step-start';
      readonly stepId: string;
      readonly kind: string;
      readonly key: StepKey;
      readonly params: Readonly<Record<string, unknown>>;
      readonly logPath: string;
      readonly attempt: number;
      readonly time: number;
    }
  | { readonly type: 'step-progress'; readonly stepId: string; readonly progress: StepProgress; readonly time: number }
  | {
      readonly type: 'step-metric';
      readonly stepId: string;
      readonly name: string;
      readonly value: number;
      readonly step: number;
      readonly time: number;
    }
  | {
      readonly type: 'step-waiting';
      readonly stepId: string;
      readonly holder: string; // "pid 123 on host x since …"
      readonly time: number;
    }
  | {
      readonly type: 'step-end';
      readonly stepId: string;
      readonly outcome: StepOutcome;
      readonly key: StepKey | null;
      readonly durationMs: number;
      readonly metrics: Readonly<Record<string, number>>;
      /** Names of `metrics` the step logged as a series of several points (training curves, not results). */
      readonly curves?: readonly string[];
      /** Tags the step reported (`::blu::{"tag":…}`), from its cache entry. */
      readonly tags?: Readonly<Record<string, string>>;
      /** For restored steps: the blu run and step that produced the outputs. */
      readonly source?: { readonly runId: string; readonly stepId: string; readonly finishedAt: string };
      /** Absolute paths of outputs declared `track: true` plus the log, for artifact logging. */
      readonly artifacts: readonly string[];
      readonly logPath?: string;
      readonly failure?: StepFailure;
      readonly jobId?: string;
      readonly time: number;
    }
  | { readonly type: 'warning'; readonly message: string; readonly time: number }
  | {
      readonly type: 'run-end';
      readonly runId: string;
      readonly status: 'succeeded' | 'failed' | 'cancelled';
      readonly counts: Readonly<Record<StepOutcome, number>>;
      readonly durationMs: number;
      readonly time: number;
    };

/** A reporter consumes the event stream. `close` flushes (e.g. a tracker's pending writes). */
export interface Reporter {
  onEvent(event: RunEvent): void;
  close?(): Promise<void>;
}
