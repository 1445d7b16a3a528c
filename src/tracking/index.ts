/** MLflow tracking for blu-pipe: the tracker, journal replay, and the `runs`/`compare`/`ui`/`sync` commands. */
import type { CreateTracker } from './tracker.js';
import { createMlflowTracker } from './mlflow-tracker.js';

export const createTracker: CreateTracker = (settings, info, env) => createMlflowTracker(settings, info, env);

export { createMlflowTracker, type MlflowTracker, type TrackerOptions } from './mlflow-tracker.js';
export { syncJournal, type SyncOptions, type SyncReport } from './sync.js';
export { listPipelineRuns, loadRunDetail, type PipelineRunSummary, type RunDetail } from './reader.js';
export { resolveTarget, type Target } from './target.js';
