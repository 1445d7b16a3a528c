/**
 * What the last successful tracked run of a pipeline left recorded in MLflow: the state of its
 * outputs (every selected step's key) and the parent run that holds their metrics.
 *
 * A no-op rerun whose state equals the recorded one adds nothing an MLflow user could compare, so
 * `blu-pipe run` then writes no run and names the one that already records these outputs.
 * Kept in `<projectDir>/.blu/tracking/recorded.json`, one entry per slot: store, experiment,
 * pipeline file and overlays. Concurrent runs: last writer wins, which at worst costs one
 * duplicate run later.
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

const FORMAT_VERSION = 1;
interface StateFile {
  readonly version: number;
  readonly slots: Readonly<Record<string, RecordedState>>;
}

const fileOf = (projectDir: string): string => path.join(trackingDir(projectDir), 'recorded.json');
const slotKey = (slot: StateSlot): string => JSON.stringify([slot.storeUri, slot.experimentName, slot.pipelineFile, slot.overlays]);

/** Order-free: the same steps with the same keys are the same outputs. */
export function stateOf(steps: readonly { readonly id: string; readonly key: string }[]): string {
  const lines = steps.map((s) => `${s.id}\t${s.key}`).sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

async function readStates(projectDir: string): Promise<Record<string, RecordedState>> {
  const data = await readJsonFile<StateFile>(fileOf(projectDir));
  return data?.version === FORMAT_VERSION && data.slots !== null && typeof data.slots === 'object' ? { ...data.slots } : {};
}

export async function recordedState(projectDir: string, slot: StateSlot): Promise<RecordedState | undefined> {
  return (await readStates(projectDir))[slotKey(slot)];
}

/** Slots kept: the most recently recorded (a throw-away store, as a benchmark uses, leaves one behind). */
const MAX_SLOTS = 200;

export async function recordState(projectDir: string, slot: StateSlot, state: RecordedState): Promise<Result<void, string>> {
  const all = await readStates(projectDir);
  all[slotKey(slot)] = state;
  const slots = Object.fromEntries(Object.entries(all).sort(([, a], [, b]) => String(b.recordedAt).localeCompare(String(a.recordedAt))).slice(0, MAX_SLOTS));
  try {
    writeSmallFileAtomicSync(fileOf(projectDir), JSON.stringify({ version: FORMAT_VERSION, slots } satisfies StateFile));
    return ok(undefined);
  } catch (cause) {
    return err(`cannot write ${fileOf(projectDir)}: ${String(cause)}`);
  }
}
