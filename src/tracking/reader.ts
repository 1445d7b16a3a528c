/** Reads blu-pipe runs back from any store, for `runs` and `compare`. */
import { type Result, ok } from '../base/result.js';
import { FRESH_SOURCES_TAG } from './plan.js';
import type { MetricRecord, RunRecord, RunStatus, StoreError, TrackingStore } from './store.js';
import { sanitizeKey } from './values.js';

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
    bluRunId: run.tags['blu.run_id'] ?? run.runId,
    mlflowRunId: run.runId,
    experimentId: run.experimentId,
    startTime: run.startTime,
    endTime: run.endTime,
    status: run.status,
    pipeline: run.tags['blu.pipeline'] ?? run.runName,
    overlays: overlays === '' ? [] : overlays.split(','),
    durationS: run.endTime === null ? null : (run.endTime - run.startTime) / 1000,
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
  const own = children.value.map(
    (child): StepDetail => ({
      stepId: child.tags['blu.step'] ?? child.runName,
      mlflowRunId: child.runId,
      status: child.status,
      cache: child.tags['blu.cache'] ?? '',
      params: child.params,
      metrics: child.metrics,
    }),
  );
  const parent = parents.value[0];
  const fresh = parent === undefined ? ok([]) : await freshSteps(store, run.experimentId, parent);
  if (!fresh.ok) return fresh;
  const steps = [...own, ...fresh.value].sort((a, b) => a.stepId.localeCompare(b.stepId));
  return ok({ run, params: parent?.params ?? {}, steps });
}

/** Fresh steps have no child run: their params and metrics are those of the run that produced their outputs. */
async function freshSteps(store: TrackingStore, experimentId: string, parent: RunRecord): Promise<Result<StepDetail[], StoreError>> {
  const sources = new Map<string, [string, string | null] | null>();
  for (const [key, value] of Object.entries(parent.tags)) {
    if (key !== FRESH_SOURCES_TAG && !key.startsWith(`${FRESH_SOURCES_TAG}.`)) continue;
    try {
      for (const [step, source] of Object.entries(JSON.parse(value) as Record<string, [string, string | null] | null>))
        sources.set(step, source);
    } catch {
      // a hand-edited tag: those steps show without details
    }
  }
  const bySourceRun = new Map<string, Map<string, RunRecord>>();
  for (const bluRunId of new Set([...sources.values()].flatMap((s) => (s === null ? [] : [s[0]])))) {
    const found = await store.searchRuns([experimentId], { 'blu.run_id': bluRunId, 'blu.role': 'step' });
    if (!found.ok) return found;
    bySourceRun.set(bluRunId, new Map(found.value.map((r) => [r.tags['blu.step'] ?? r.runName, r])));
  }
  return ok(
    [...sources].map(([stepId, source]): StepDetail => {
      const producer = source === null ? undefined : bySourceRun.get(source[0])?.get(stepId);
      if (producer !== undefined)
        return {
          stepId,
          mlflowRunId: producer.runId,
          status: 'FINISHED',
          cache: 'fresh',
          params: producer.params,
          metrics: withoutDuration(producer.metrics),
        };
      return { stepId, mlflowRunId: '', status: 'FINISHED', cache: 'fresh', params: {}, metrics: headlineOf(parent.metrics, stepId) };
    }),
  );
}

/** The producer's run time is not this run's: a fresh step took none. */
function withoutDuration(metrics: Readonly<Record<string, number>>): Record<string, number> {
  const { duration_s: _ignored, ...rest } = metrics;
  return rest;
}

/** The parent's `<step>.<metric>` headline metrics of one step. */
function headlineOf(metrics: Readonly<Record<string, number>>, stepId: string): Record<string, number> {
  const prefix = `${sanitizeKey(stepId)}.`;
  return Object.fromEntries(
    Object.entries(metrics)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => [k.slice(prefix.length), v]),
  );
}

/** The full series of one metric, in logged order. */
export async function readMetricSeries(
  store: TrackingStore,
  mlflowRunId: string,
  key: string,
): Promise<Result<MetricRecord[], StoreError>> {
  return store.metricHistory(mlflowRunId, key);
}
