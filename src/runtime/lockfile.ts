import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { acquireLock } from '../artifacts/lock.js';
import { writeFileAtomic } from '../artifacts/atomic.js';
import type { KeyComponents, StepKey, StoredOutput } from '../artifacts/types.js';

/** What `blu.lock` records per step instance: enough to explain staleness and to reproduce. */
export interface LockEntry {
  readonly key: StepKey;
  readonly components: KeyComponents;
  readonly outputs: readonly StoredOutput[];
  readonly metrics?: Readonly<Record<string, number>>;
  readonly runId: string;
}

export interface LockFile {
  readonly schema: 1;
  readonly steps: Readonly<Record<string, LockEntry>>;
}

export const LOCK_FILE_NAME = 'blu.lock';
const NOTE = 'Written by blu-pipe after every step. Commit it: it records what produced your results.';

export function lockFilePath(projectDir: string): string {
  return path.join(projectDir, LOCK_FILE_NAME);
}

/** Missing or unreadable lock → empty (a damaged lock only costs explanations, never correctness). */
export async function readLockFile(projectDir: string): Promise<LockFile> {
  try {
    const parsed = JSON.parse(await readFile(lockFilePath(projectDir), 'utf8')) as Partial<LockFile> | null;
    if (parsed && parsed.schema === 1 && parsed.steps && typeof parsed.steps === 'object') return { schema: 1, steps: parsed.steps };
  } catch {
    // fall through
  }
  return { schema: 1, steps: {} };
}

/** Re-reads the lock and merges `updates` so concurrent runs on other steps are not lost. */
export async function updateLockFile(projectDir: string, updates: Readonly<Record<string, LockEntry>>): Promise<void> {
  // A short cross-process lock: concurrent runs each merge their steps instead of overwriting.
  const me = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), runId: 'blu.lock', stepId: 'blu.lock' };
  const held = await acquireLock(path.join(projectDir, '.blu', 'locks', 'blu.lock.lock'), me, { pollMs: 20 });
  try {
    await mergeInto(projectDir, updates);
  } finally {
    if (held.ok) await held.value.release();
  }
}

async function mergeInto(projectDir: string, updates: Readonly<Record<string, LockEntry>>): Promise<void> {
  const current = await readLockFile(projectDir);
  const steps = { ...current.steps, ...updates };
  const sorted = Object.fromEntries(Object.keys(steps).sort().map((k) => [k, steps[k]!]));
  // JSON (one key per line) keeps diffs readable and stays fast for pipelines with thousands of steps.
  await writeFileAtomic(lockFilePath(projectDir), `${JSON.stringify({ note: NOTE, schema: 1, steps: sorted }, null, 1)}\n`);
}
