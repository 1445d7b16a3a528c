import type { Reporter } from '../runtime/events.js';

/** Where and how a pipeline run is tracked; built by the CLI from the pipeline file and the environment. */
export interface TrackingSettings {
  /** `MLFLOW_TRACKING_URI` wins over the pipeline's `mlflow.tracking_uri`; default `file:./mlruns`. */
  readonly trackingUri: string | null;
  readonly experimentName: string;
  /** `false` disables tracking (`--no-track`). */
  readonly enabled: boolean;
}

/** Facts about the pipeline run recorded as tags of the parent MLflow run. */
export interface PipelineRunInfo {
  readonly runId: string; // blu run id, e.g. 20261128-001500-ab12
  readonly projectDir: string;
  readonly pipelineFile: string; // project-relative
  readonly pipelineName: string;
  readonly commandLine: readonly string[];
  readonly experimentOverlays: readonly string[];
  readonly gitCommit: string | null;
  readonly gitDirty: boolean | null;
  readonly bluPipeVersion: string;
  readonly executor: string; // local | slurm
  readonly backend: string | null; // tensor backend when known
  readonly host: string;
  readonly params: Readonly<Record<string, unknown>>; // pipeline-level params, resolved
}

/** A tracker is a reporter of the run's event stream, with an async start. */
export interface Tracker extends Reporter {
  /** Says once, as text for the user, where the run can be seen (or why tracking is degraded). */
  readonly describe: () => string;
  /** Problems worth telling the user once the run ends (skipped artifacts, an unreachable server). */
  readonly warnings?: () => readonly string[];
}

export type CreateTracker = (
  settings: TrackingSettings,
  info: PipelineRunInfo,
  env: Readonly<Record<string, string | undefined>>,
) => Promise<Tracker>;
