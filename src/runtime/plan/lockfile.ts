/**
 * Lock files: what produced a pipeline's results, one file per pipeline, beside it
 * (`pipelines/blu-net.yaml` → `pipelines/blu-net.lock`), with one section per experiment (the
 * overlay set, e.g. `experiments/cpu.yaml`; `default` without overlays). Staleness reasons compare
 * only against the same pipeline and experiment; `--set` overrides stay in their experiment's
 * section, so they show up as "param changed".
 */
import { readFileSync, renameSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { acquireLock } from '../../artifacts/lock.js';
import { readJsonFile, writeFileAtomic } from '../../artifacts/atomic.js';
import type { KeyComponents, Sha256, StepKey, StoredOutput } from '../../artifacts/types.js';
import { stepFileName } from '../layout.js';
import type { Diagnostic } from '../load/diagnostics.js';
import { err, ok, type Result } from '../../base/result.js';

/** What a lock records per step instance: enough to explain staleness and to reproduce. */
export interface LockEntry {
  readonly key: StepKey;
  readonly components: KeyComponents;
  readonly outputs: readonly StoredOutput[];
  /** Digests of the upstream outputs the step read (see consumed.ts). */
  readonly consumed?: Readonly<Record<string, Sha256>>;
  readonly metrics?: Readonly<Record<string, number>>;
  readonly runId: string;
}

/** The steps of one pipeline and experiment. */
export interface LockSection {
  readonly steps: Readonly<Record<string, LockEntry>>;
}

/** The whole file (schema 2). */
interface LockFileContent {
  readonly schema: 2;
  readonly pipeline: string;
  readonly experiments: Readonly<Record<string, LockSection>>;
}

/** Where one pipeline+experiment is recorded. */
export interface LockRef {
  readonly file: string; // absolute
  readonly section: string;
  /** The pipeline file, project-relative (POSIX), as recorded in the file. */
  readonly pipeline: string;
  /** Cross-process guard so concurrent runs merge their updates. */
  readonly guard: string;
}

/** The root lock file of blu-pipe before lock files moved beside their pipelines (schema 1). */
export const LEGACY_LOCK_FILE_NAME = 'blu.lock';
export const DEFAULT_SECTION = 'default';
const NOTE = 'Written by blu-pipe after every step, one section per experiment. Commit it: it records what produced your results.';
const SKIP_DIRS = new Set(['node_modules', 'mlruns']);

/** The lock file beside a pipeline file (`p.yaml` → `p.lock`); works on absolute and display paths alike. */
export function lockFileFor(pipelineFile: string): string {
  return `${pipelineFile.replace(/\.ya?ml$/, '')}.lock`;
}

export function lockRefFor(pipeline: {
  readonly file: string;
  readonly projectDir: string;
  readonly overlayFiles: readonly string[];
}): LockRef {
  const file = lockFileFor(pipeline.file);
  const rel = (p: string): string => path.relative(pipeline.projectDir, p).split(path.sep).join('/');
  const section = pipeline.overlayFiles.map(rel).join(' + ') || DEFAULT_SECTION;
  return {
    file,
    section,
    pipeline: rel(pipeline.file),
    guard: path.join(pipeline.projectDir, '.blu', 'locks', `${stepFileName(rel(file))}.writer.lock`),
  };
}

/** An existing lock file's parsed JSON, or why it is not JSON (both absent: no file). */
interface LockRead {
  readonly parsed?: unknown;
  readonly problem?: Diagnostic;
}

/**
 * Reads and parses a lock file once. A lock is committed, so the usual cause of a problem is an
 * unresolved merge conflict; a run must not write over such a file, which would drop every other
 * section. `display` names the file in the message.
 */
function readLockFile(file: string, display: string): LockRead {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {}; // absent (or unreadable, which the writer reports when it gets there)
  }
  const lines = text.split('\n');
  const marker = lines.findIndex((l) => /^(<{7}|={7}|>{7})( |$)/.test(l));
  if (marker >= 0)
    return {
      problem: {
        code: 'BLU_LOCK_CONFLICT',
        message: `${display} has an unresolved merge conflict (marker '${lines[marker]?.slice(0, 7)}'): resolve it, or take one side (git checkout --ours/--theirs ${display}), then run again. Nothing ran and the file is unchanged`,
        file: display,
        line: marker + 1,
        col: 1,
      },
    };
  try {
    return { parsed: JSON.parse(text) as unknown };
  } catch (error) {
    const at = /position (\d+)/.exec(error instanceof Error ? error.message : '');
    const before = text.slice(0, at ? Number(at[1]) : 0).split('\n');
    return {
      problem: {
        code: 'BLU_LOCK_UNREADABLE',
        message: `${display} is not valid JSON (${error instanceof Error ? error.message : String(error)}): fix it or restore it from git (delete it to start a new one), then run again. Nothing ran and the file is unchanged`,
        file: display,
        line: at ? before.length : 1,
        col: at ? (before.at(-1)?.length ?? 0) + 1 : 1,
      },
    };
  }
}

/** The section, or (for the plan, before anything runs) why the lock file is not JSON. */
export function readCheckedLockSection(ref: LockRef, display: string): Result<LockSection, Diagnostic> {
  const read = readLockFile(ref.file, display);
  if (read.problem !== undefined) return err(read.problem);
  return ok(lockContentOf(read.parsed)?.experiments[ref.section] ?? { steps: {} });
}

/** Missing or unreadable lock → empty (a damaged lock only costs explanations, never correctness). */
export async function readLockSection(ref: LockRef): Promise<LockSection> {
  return (await readLockContent(ref.file))?.experiments[ref.section] ?? { steps: {} };
}

/**
 * Re-reads the lock and merges `updates` into the section, so concurrent runs lose nothing. With
 * `keep` (the ids of every instance the pipeline has), entries of other instances (a removed step
 * or matrix value) are dropped from the section; returns their ids.
 *
 * With `inWorkspace`, an update whose outputs the workspace no longer holds is dropped, checked
 * under the file's guard: another run has rewritten them since (concurrent runs with different
 * `--set`), and that run records its own result after its write, so the last writer of the bytes
 * is also the last to record them and the lock describes the workspace.
 */
export async function updateLockFile(
  ref: LockRef,
  updates: Readonly<Record<string, LockEntry>>,
  keep: ReadonlySet<string> | null = null,
  inWorkspace?: (entry: LockEntry) => Promise<boolean>,
): Promise<string[]> {
  const me = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), runId: 'lock-file', stepId: 'lock-file' };
  const held = await acquireLock(ref.guard, me, { pollMs: 20 });
  try {
    if (inWorkspace !== undefined) updates = await onlyInWorkspace(updates, inWorkspace);
    const read = readLockFile(ref.file, ref.file);
    // Damaged since the run began (the plan refuses a damaged lock): keep its bytes beside it.
    if (read.problem !== undefined) renameSync(ref.file, `${ref.file}.unreadable-${Date.now()}`);
    const current = lockContentOf(read.parsed);
    const experiments = { ...(current?.experiments ?? {}) };
    const { steps, pruned } = pruneSteps({ ...(experiments[ref.section]?.steps ?? {}), ...updates }, keep);
    experiments[ref.section] = { steps: sortedRecord(steps) };
    // JSON (one key per line) keeps diffs readable and stays fast for pipelines with thousands of steps.
    const content = { note: NOTE, schema: 2, pipeline: ref.pipeline, experiments: sortedRecord(experiments) };
    await writeFileAtomic(ref.file, `${JSON.stringify(content, null, 1)}\n`);
    return pruned;
  } finally {
    if (held.ok) await held.value.release();
  }
}

async function onlyInWorkspace(
  updates: Readonly<Record<string, LockEntry>>,
  inWorkspace: (entry: LockEntry) => Promise<boolean>,
): Promise<Record<string, LockEntry>> {
  const kept: Record<string, LockEntry> = {};
  for (const [id, entry] of Object.entries(updates)) if (await inWorkspace(entry)) kept[id] = entry;
  return kept;
}

/** The section's entries without those of instances not in `keep` (null: keep all), and the ids dropped. */
export function pruneSteps(
  steps: Readonly<Record<string, LockEntry>>,
  keep: ReadonlySet<string> | null,
): { steps: Record<string, LockEntry>; pruned: string[] } {
  if (keep === null) return { steps: { ...steps }, pruned: [] };
  const pruned = Object.keys(steps)
    .filter((id) => !keep.has(id))
    .sort();
  return { steps: Object.fromEntries(Object.entries(steps).filter(([id]) => keep.has(id))), pruned };
}

/** One line saying what pruning dropped: how many entries, which (the first few), from which section of which file. */
export function prunedMessage(ref: LockRef, pruned: readonly string[]): string {
  const shown = pruned.slice(0, 3).join(', ') + (pruned.length > 3 ? `, … (${pruned.length - 3} more)` : '');
  const file = lockFileFor(ref.pipeline);
  return `${file}: dropped ${pruned.length} ${pruned.length === 1 ? 'entry' : 'entries'} of section '${ref.section}' for instances the pipeline no longer has: ${shown}`;
}

/** Every step key and output hash recorded by the lock files in a project (gc keeps all of them). */
export async function lockedReferences(projectDir: string): Promise<{ keys: Set<StepKey>; hashes: Set<Sha256> }> {
  const keys = new Set<StepKey>();
  const hashes = new Set<Sha256>();
  for (const file of await findLockFiles(projectDir)) {
    for (const entry of await entriesOf(file)) {
      keys.add(entry.key);
      for (const out of entry.outputs) hashes.add(out.hash);
    }
  }
  return { keys, hashes };
}

/** `*.lock` files under the project (not in dot-directories or node_modules). */
export async function findLockFiles(projectDir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (e.isDirectory() && !e.name.startsWith('.') && !SKIP_DIRS.has(e.name)) await walk(path.join(dir, e.name));
      else if (e.isFile() && e.name.endsWith('.lock')) found.push(path.join(dir, e.name));
    }
  };
  await walk(projectDir);
  return found.sort();
}

/** Entries of a lock file of either schema (1: the legacy root blu.lock); [] for anything else. */
async function entriesOf(file: string): Promise<LockEntry[]> {
  const content = await readLockContent(file);
  if (content !== undefined) return Object.values(content.experiments).flatMap((s) => Object.values(s.steps));
  const legacy = await readJsonFile<unknown>(file);
  if (isRecord(legacy) && legacy.schema === 1 && isRecord(legacy.steps)) return Object.values(legacy.steps as Record<string, LockEntry>);
  return [];
}

async function readLockContent(file: string): Promise<LockFileContent | undefined> {
  return lockContentOf(await readJsonFile<unknown>(file));
}

function lockContentOf(parsed: unknown): LockFileContent | undefined {
  if (!isRecord(parsed) || parsed.schema !== 2 || !isRecord(parsed.experiments)) return undefined;
  const experiments = Object.fromEntries(Object.entries(parsed.experiments).filter(([, s]) => isRecord(s) && isRecord(s.steps))) as Record<
    string,
    LockSection
  >;
  return { schema: 2, pipeline: typeof parsed.pipeline === 'string' ? parsed.pipeline : '', experiments };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sortedRecord<T>(record: Readonly<Record<string, T>>): Record<string, T> {
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((k) => [k, record[k]!]),
  );
}
