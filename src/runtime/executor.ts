import type { ActionCacheEntry } from '../artifacts/types.js';
import type { StepFailure, StepProgress } from './events.js';
import type { Result } from '../base/result.js';
import type { StepSpec } from './step-spec.js';

/** What a step reports while it runs (parsed from `::blu::` lines of its output, see step-protocol.ts). */
export interface StepReport {
  progress(progress: StepProgress): void;
  metric(name: string, value: number, step: number, timestamp: number): void;
  /** A fact about the step's result (e.g. `blu.collapsed`); kept with its cache entry, logged as an MLflow tag. */
  tag(key: string, value: string): void;
}

export interface ExecuteOptions {
  readonly signal: AbortSignal;
  readonly report: StepReport;
  /** Called when the step's own work is done and only its commit remains (frees its CPU slot early). */
  readonly commandDone?: () => void;
}

/** A successful attempt: the committed action-cache entry (or null for `cache: false` steps). */
export interface AttemptSuccess {
  readonly entry: ActionCacheEntry | null;
  readonly jobId?: string;
}

/**
 * Runs one fully resolved step instance and reports its state. The scheduler stays one process:
 * it plans, caches and tracks; an executor never re-parses the pipeline or rebuilds the graph.
 * Implementations: local (this machine) and slurm (`sbatch` running `blu-pipe exec-step <spec>`).
 */
export interface Executor {
  readonly name: string;
  /** How many steps may run at once (local: --jobs; slurm: many). */
  readonly maxParallel: number;
  /** Whether declared `resources.cpus` are enforced by this process's semaphores (local) or by the cluster. */
  readonly enforcesLocalResources: boolean;
  execute(spec: StepSpec, options: ExecuteOptions): Promise<Result<AttemptSuccess, StepFailure>>;
  /** Called once when the run ends or is cancelled: release what the executor holds. */
  shutdown(): Promise<void>;
}
