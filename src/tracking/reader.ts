/** Reads blu-pipe runs back from any store, for `runs` and `compare`. */
import { type Result, ok } from '../runtime/result.js';
import type { MetricRecord, RunRecord, RunStatus, StoreError, TrackingStore } from './store.js';

export interface PipelineRunSummary {
  readonly bluRunId: string;
  readonly mlflowRunId: string;
  readonly experimentId: string;
  readonly startTime: number;
  readonly endTime: number | null;
  readonly status: RunStatus;
  readonly pipeline: string;
  readonly overlays: readonly string[];
  readonly durationS: number | null;
}

export interface StepDetail {
  readonly stepId: string;
  readonly mlflowRunId: string;
  readonly status: RunStatus;
  readonly cache: string;
  readonly params: Readonly<Record<string, string>>;
  readonly metrics: Readonly<Record<string, number>>;
}

export interface RunDetail {
  readonly run: PipelineRunSummary;
  readonly params: Readonly<Record<string, string>>;
  readonly steps: readonly StepDetail[];
}

function summarize(run: RunRecord): PipelineRunSummary {
  const overlays = run.tags['blu.overlays'] ?? '';
  return {
    bluRunId: run.tags['blu.run_id'] ?? run.runId, mlflowRunId: run.runId, experimentId: run.experimentId,
    startTime: run.startTime, endTime: run.endTime, status: run.status, pipeline: run.tags['blu.pipeline'] ?? run.runName,
    overlays: overlays === '' ? [] : overlays.split(','), durationS: run.endTime === null ? null : (run.endTime - run.startTime) / 1000,
  };
}

/** Pipeline (parent) runs of every experiment, newest first. */
export async function listPipelineRuns(store: TrackingStore): Promise<Result<PipelineRunSummary[], StoreError>> {
  const experiments = await store.listExperimentIds();
  if (!experiments.ok) return experiments;
  if (experiments.value.length === 0) return ok([]);
  const runs = await store.searchRuns(experiments.value, { 'blu.role': 'pipeline' });
  if (!runs.ok) return runs;
  return ok(runs.value.map(summarize).sort((a, b) => b.startTime - a.startTime || b.bluRunId.localeCompare(a.bluRunId)));
}

/** A pipeline run with its params and each step's params and final metrics. */
export async function loadRunDetail(store: TrackingStore, run: PipelineRunSummary): Promise<Result<RunDetail, StoreError>> {
  const parents = await store.searchRuns([run.experimentId], { 'blu.role': 'pipeline', 'blu.run_id': run.bluRunId });
  if (!parents.ok) return parents;
  const children = await store.searchRuns([run.experimentId], { 'mlflow.parentRunId': run.mlflowRunId });
  if (!children.ok) return children;
  const steps = children.value
    .map((child): StepDetail => ({
      stepId: child.tags['blu.step'] ?? child.runName, mlflowRunId: child.runId, status: child.status,
      cache: child.tags['blu.cache'] ?? '', params: child.params, metrics: child.metrics,
    }))
    .sort((a, b) => a.stepId.localeCompare(b.stepId));
  return ok({ run, params: parents.value[0]?.params ?? {}, steps });
}

/** The full series of one metric, in logged order. */
export async function readMetricSeries(store: TrackingStore, mlflowRunId: string, key: string): Promise<Result<MetricRecord[], StoreError>> {
  return store.metricHistory(mlflowRunId, key);
}
