/**
 * What the last successful tracked run of a pipeline left recorded in MLflow: the state of its
 * outputs (every selected step's key) and the parent run that holds their metrics.
 *
 * A no-op rerun whose state equals the recorded one adds nothing an MLflow user could compare, so
 * `blu-pipe run` then writes no run and names the one that already records these outputs.
 * Kept in `<projectDir>/.blu/tracking/recorded.json`, one entry per slot: store, experiment,
 * pipeline file and overlays. Concurrent runs: last writer wins, which at worst costs one
 * duplicate run later.
 *
 * A successful run whose operations did not all reach the store (it was down) has no MLflow run
 * yet: its state waits in `pending`, by blu run id, until `mlflow sync` replays the run to that
 * store and fills the slot with the replayed run's id (unless a later run recorded the slot since).
 */
import path from 'node:path';
import { createHash } from 'node:crypto';
import { readJsonFile, writeSmallFileAtomicSync } from '../artifacts/atomic.js';
import { type Result, ok, err } from '../base/result.js';
import { trackingDir } from './paths.js';

export interface RecordedState {
  /** Hash of the selected steps' ids and keys (see stateOf). */
  readonly state: string;
  readonly mlflowRunId: string;
  readonly bluRunId: string;
  readonly recordedAt: string;
}

export interface StateSlot {
  readonly storeUri: string;
  readonly experimentName: string;
  readonly pipelineFile: string;
  readonly overlays: readonly string[];
}

/** A recorded state whose MLflow run exists only once `mlflow sync` has replayed the run. */
export interface PendingState {
  readonly slot: StateSlot;
  readonly state: string;
  readonly recordedAt: string;
}

const FORMAT_VERSION = 1;
interface StateFile {
  readonly version: number;
  readonly slots: Readonly<Record<string, RecordedState>>;
  /** By blu run id; absent in files of earlier versions, which read the rest alike. */
  readonly pending?: Readonly<Record<string, PendingState>>;
}

const fileOf = (projectDir: string): string => path.join(trackingDir(projectDir), 'recorded.json');
const slotKey = (slot: StateSlot): string => JSON.stringify([slot.storeUri, slot.experimentName, slot.pipelineFile, slot.overlays]);

/** Order-free: the same steps with the same keys are the same outputs. */
export function stateOf(steps: readonly { readonly id: string; readonly key: string }[]): string {
  const lines = steps.map((s) => `${s.id}\t${s.key}`).sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

interface States {
  slots: Record<string, RecordedState>;
  pending: Record<string, PendingState>;
}

async function readStates(projectDir: string): Promise<States> {
  const data = await readJsonFile<StateFile>(fileOf(projectDir));
  if (data?.version !== FORMAT_VERSION || data.slots === null || typeof data.slots !== 'object') return { slots: {}, pending: {} };
  return { slots: { ...data.slots }, pending: data.pending !== null && typeof data.pending === 'object' ? { ...data.pending } : {} };
}

export async function recordedState(projectDir: string, slot: StateSlot): Promise<RecordedState | undefined> {
  return (await readStates(projectDir)).slots[slotKey(slot)];
}

/** Slots kept: the most recently recorded (a throw-away store, as a benchmark uses, leaves one behind). */
const MAX_SLOTS = 200;

export async function recordState(projectDir: string, slot: StateSlot, state: RecordedState): Promise<Result<void, string>> {
  const all = await readStates(projectDir);
  all.slots[slotKey(slot)] = state;
  return writeStates(projectDir, all);
}

/** A successful run the store did not get (yet): `completePending` records it once `mlflow sync` has replayed it. */
export async function recordPending(projectDir: string, bluRunId: string, pending: PendingState): Promise<Result<void, string>> {
  const all = await readStates(projectDir);
  all.pending[bluRunId] = pending;
  return writeStates(projectDir, all);
}

/**
 * After `mlflow sync` replayed blu run `bluRunId` into `storeUri` as MLflow run `mlflowRunId`: the
 * run's pending state for that store becomes its slot's record, unless a later run recorded the
 * slot since. True when it was recorded.
 */
export async function completePending(
  projectDir: string,
  bluRunId: string,
  storeUri: string,
  mlflowRunId: string,
): Promise<Result<boolean, string>> {
  const all = await readStates(projectDir);
  const pending = all.pending[bluRunId];
  if (pending === undefined || pending.slot.storeUri !== storeUri) return ok(false);
  delete all.pending[bluRunId];
  const key = slotKey(pending.slot);
  const current = all.slots[key];
  const newer = current !== undefined && String(current.recordedAt) > pending.recordedAt;
  if (!newer) all.slots[key] = { state: pending.state, mlflowRunId, bluRunId, recordedAt: pending.recordedAt };
  const written = await writeStates(projectDir, all);
  return written.ok ? ok(!newer) : written;
}

/** Writes the most recently recorded MAX_SLOTS slots and pending states. */
async function writeStates(projectDir: string, all: States): Promise<Result<void, string>> {
  const newest = <T extends { readonly recordedAt: string }>(record: Record<string, T>): Record<string, T> =>
    Object.fromEntries(
      Object.entries(record)
        .sort(([, a], [, b]) => String(b.recordedAt).localeCompare(String(a.recordedAt)))
        .slice(0, MAX_SLOTS),
    );
  const file: StateFile = {
    version: FORMAT_VERSION,
    slots: newest(all.slots),
    ...(Object.keys(all.pending).length > 0 ? { pending: newest(all.pending) } : {}),
  };
  try {
    writeSmallFileAtomicSync(fileOf(projectDir), JSON.stringify(file));
    return ok(undefined);
  } catch (cause) {
    return err(`cannot write ${fileOf(projectDir)}: ${String(cause)}`);
  }
}
