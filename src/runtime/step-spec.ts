import type { JsonValue } from '../base/result.js';
import type { KeyComponents, Sha256, StepKey, StoredOutput } from '../artifacts/types.js';

/** Declared resources of a step; the scheduler and executors map them (local semaphores, sbatch options). */
export interface StepResources {
  /** CPU cores the step needs; `'all'` means it must run alone (e.g. latency measurement). */
  readonly cpus?: number | 'all';
  readonly mem?: string; // e.g. "8G"
  readonly gpus?: number;
  readonly time?: string; // Slurm time limit, e.g. "01:00:00"
  readonly partition?: string;
  /** Extra sbatch options, passed verbatim as argv items (never through a shell). */
  readonly sbatch?: readonly string[];
  /** Named custom budgets, e.g. { gpu: 1 } checked against `--resources gpu=1`. */
  readonly custom?: Readonly<Record<string, number>>;
}

export interface OutputDecl {
  /** Project-relative POSIX path. */
  readonly path: string;
  /** false: not stored in the CAS (still must exist after the step). */
  readonly cache: boolean;
  /** true: never deleted before a run (checkpoints). */
  readonly persist: boolean;
  /** true: also log as an MLflow artifact (size-capped). */
  readonly track: boolean;
}

/** Outputs of an upstream step as committed, made available to the step that needs it. */
export interface UpstreamOutputs {
  readonly stepId: string;
  readonly key: StepKey;
  readonly outputs: readonly StoredOutput[];
  readonly metrics: Readonly<Record<string, number>>;
}

/**
 * A fully resolved step instance: everything a worker needs to run it and commit its outputs,
 * without re-reading the pipeline or rebuilding the graph. Serialised as JSON for `exec-step`.
 */
export interface StepSpec {
  readonly specSchema: 1;
  /** Instance id, e.g. `ablation@model=lw_unet`. */
  readonly id: string;
  /** Step name in the pipeline (without matrix suffix). */
  readonly name: string;
  readonly kind: string;
  readonly kindVersion: string;
  /** Absolute paths. */
  readonly projectDir: string;
  readonly cacheDir: string;
  readonly runId: string;
  /** Absolute path of this attempt's log file. */
  readonly logPath: string;
  /** argv for `run:` steps (never run through a shell). */
  readonly command: readonly string[] | null;
  /** Resolved `with:` for `uses:` steps. */
  readonly with: JsonValue;
  /** The params this step sees, resolved (overlays and --set applied). */
  readonly params: Readonly<Record<string, JsonValue>>;
  readonly deps: readonly string[];
  readonly outs: readonly OutputDecl[];
  readonly env: Readonly<Record<string, string>>;
  readonly upstream: Readonly<Record<string, UpstreamOutputs>>;
  readonly resources: StepResources;
  readonly timeoutMs: number | null;
  /** false: outputs are not stored and no action-cache entry is written (`cache: false`). */
  readonly cache: boolean;
  readonly key: StepKey;
  readonly components: KeyComponents;
  /** Digests of the needs' outputs as this step reads them (see runtime/plan/consumed.ts); kept in its cache entry. */
  readonly consumed?: Readonly<Record<string, Sha256>>;
}
