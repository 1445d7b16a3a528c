/**
 * Tracked no-op reruns. When nothing would run or be restored and the last successful tracked run
 * of the same pipeline, overlays, experiment and store recorded exactly these outputs (the same
 * steps with the same keys), a new MLflow run would duplicate that one: `run` writes none and
 * names it. `--track-noop` records one anyway.
 */
import path from 'node:path';
import type { Session } from '../../runtime/session.js';
import type { MlflowTracker } from '../../tracking/mlflow-tracker.js';
import type { StateSlot } from '../../tracking/recorded-state.js';
import type { Target } from '../../tracking/target.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The run that already records a no-op's outputs, in words for the user. */
export interface UnchangedSince {
  readonly text: string;
}

function selectedState(session: Session): { id: string; key: string }[] {
  return session.plan.steps.filter((p) => p.action !== 'skip').map((p) => ({ id: p.id, key: p.key }));
}

async function slotOf(session: Session, env: Env): Promise<{ slot: StateSlot; target: Target; where: string } | null> {
  const { pipeline } = session;
  if (!pipeline.tracking.enabled) return null;
  const { describeTarget, resolveTarget } = await import('../../tracking/target.js');
  const target = resolveTarget(pipeline.tracking.trackingUri, env, pipeline.projectDir);
  if (!target.ok) return null;
  const slot = {
    storeUri: target.value.uri,
    experimentName: pipeline.tracking.experiment,
    pipelineFile: path.relative(pipeline.projectDir, pipeline.file),
    overlays: pipeline.overlays,
  };
  return { slot, target: target.value, where: describeTarget(target.value, pipeline.projectDir) };
}

/**
 * Null unless the recorded state equals this no-op's and its MLflow run still exists, finished
 * (a run deleted in the UI, or a store that cannot be asked, means: record a new one).
 */
export async function unchangedSince(session: Session, env: Env): Promise<UnchangedSince | null> {
  const found = await slotOf(session, env);
  if (found === null) return null;
  const [{ recordedState, stateOf }, { openStore }] = await Promise.all([
    import('../../tracking/recorded-state.js'),
    import('../../tracking/open-store.js'),
  ]);
  const recorded = await recordedState(session.pipeline.projectDir, found.slot);
  if (recorded === undefined || recorded.state !== stateOf(selectedState(session))) return null;
  const status = await (await openStore(found.target, { requestTimeoutMs: 5_000 })).runStatus(recorded.mlflowRunId);
  if (!status.ok || status.value !== 'FINISHED') return null;
  return {
    text:
      `MLflow: nothing ran or changed since run ${recorded.mlflowRunId} (blu run ${recorded.bluRunId}, ${recorded.recordedAt}) ` +
      `in experiment "${found.slot.experimentName}" at ${found.where}, which records these outputs; no new run (--track-noop records one)`,
  };
}

/**
 * After a successful tracked run: remember what its parent MLflow run records. A run the store did
 * not (all) get is remembered as pending, for `mlflow sync` to complete. Returns a warning or null.
 */
export async function rememberState(session: Session, tracker: MlflowTracker, bluRunId: string, env: Env): Promise<string | null> {
  const found = await slotOf(session, env);
  if (found === null) return null;
  const { recordPending, recordState, stateOf } = await import('../../tracking/recorded-state.js');
  const mlflowRunId = tracker.parentRunId();
  const state = stateOf(selectedState(session));
  const recordedAt = new Date().toISOString();
  const written =
    mlflowRunId === null
      ? await recordPending(session.pipeline.projectDir, bluRunId, { slot: found.slot, state, recordedAt })
      : await recordState(session.pipeline.projectDir, found.slot, { state, mlflowRunId, bluRunId, recordedAt });
  return written.ok ? null : `MLflow: ${written.error} (the next no-op rerun records a run again)`;
}
