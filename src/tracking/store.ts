/** The operations blu-pipe needs from an MLflow tracking store, file-based or REST. */
import type { Result } from '../base/result.js';

export interface StoreError {
  readonly message: string;
  /** Connection errors, 429 and 5xx: worth retrying later. */
  readonly retryable: boolean;
  /** The request may have been applied although no answer came (timeout, connection cut). */
  readonly ambiguous?: boolean;
  readonly status?: number;
  readonly code?: string;
}

export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';
/** The integer enum MLflow keeps in a run's meta.yaml. */
export const STATUS_CODE: Readonly<Record<RunStatus, number>> = { RUNNING: 1, SCHEDULED: 2, FINISHED: 3, FAILED: 4, KILLED: 5 };

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

export interface MetricRecord {
  readonly key: string;
  readonly value: number;
  readonly timestamp: number; // ms
  readonly step: number;
}

export interface Batch {
  readonly metrics: readonly MetricRecord[];
  readonly params: readonly KeyValue[];
  readonly tags: readonly KeyValue[];
}

export interface CreatedRun {
  readonly runId: string;
  readonly artifactUri: string;
}

export interface CreateRunRequest {
  readonly experimentId: string;
  readonly runName: string;
  readonly startTime: number;
  readonly userId: string;
  readonly tags: readonly KeyValue[];
}

/** A run as read back, with the latest value of each metric (MLflow's max by step, time, value). */
export interface RunRecord {
  readonly runId: string;
  readonly experimentId: string;
  readonly runName: string;
  readonly artifactUri: string;
  readonly status: RunStatus;
  readonly startTime: number;
  readonly endTime: number | null;
  readonly params: Readonly<Record<string, string>>;
  readonly tags: Readonly<Record<string, string>>;
  readonly metrics: Readonly<Record<string, number>>;
}

export type StoreResult<T> = Promise<Result<T, StoreError>>;

export interface TrackingStore {
  /** Identity of the store, used to key acknowledgements and the run index. */
  readonly uri: string;
  ensureExperiment(name: string): StoreResult<string>;
  listExperimentIds(): StoreResult<string[]>;
  createRun(request: CreateRunRequest): StoreResult<CreatedRun>;
  logBatch(runId: string, batch: Batch): StoreResult<void>;
  updateRun(runId: string, status: RunStatus, endTime: number): StoreResult<void>;
  putArtifact(run: CreatedRun, relativePath: string, localFile: string): StoreResult<void>;
  /** Runs of the experiments whose tags equal every given tag. */
  searchRuns(experimentIds: readonly string[], tagEquals: Readonly<Record<string, string>>): StoreResult<RunRecord[]>;
  metricHistory(runId: string, key: string): StoreResult<MetricRecord[]>;
  /** A run's status; null when the store has no such run or it was deleted. */
  runStatus(runId: string): StoreResult<RunStatus | null>;
}

export function latestOf(points: readonly MetricRecord[]): number | undefined {
  let best: MetricRecord | undefined;
  for (const p of points) {
    if (best === undefined || compareLatest(p, best) > 0) best = p;
  }
  return best?.value;
}

/** MLflow's "latest": max by (step, timestamp, value); NaN sorts lowest here. */
function compareLatest(a: MetricRecord, b: MetricRecord): number {
  if (a.step !== b.step) return a.step - b.step;
  if (a.timestamp !== b.timestamp) return a.timestamp - b.timestamp;
  const av = Number.isNaN(a.value) ? -Infinity : a.value;
  const bv = Number.isNaN(b.value) ? -Infinity : b.value;
  return av === bv ? 0 : av > bv ? 1 : -1;
}

export function statusFromCode(code: unknown): RunStatus {
  const found = (Object.keys(STATUS_CODE) as RunStatus[]).find((s) => STATUS_CODE[s] === code || s === code);
  return found ?? 'RUNNING';
}
