/**
 * Action cache: step key → ActionCacheEntry, one JSON file per key under
 * <cacheDir>/ac/ab/<key>.json. Writing an entry is the commit point of a step, so it is atomic;
 * reading treats anything malformed as "not cached" so a torn or hand-edited file can only cost a
 * rerun, never a crash or a wrong restore.
 */
import { existsSync } from 'node:fs';
import { stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeferredDirSync } from './atomic.js';
import { readJsonFile, writeFileAtomic } from './atomic.js';
import { hasErrno } from './errors.js';
import { isSha256 } from './tree.js';
import { readdirOrEmpty } from './fsx.js';
import type { ActionCacheEntry, StepKey, StoredOutput } from './types.js';

export class ActionCache {
  readonly #root: string;
  readonly #dirSync: DeferredDirSync | undefined;

  /** With `dirSync`, entries are committed (file fsynced, renamed) now and their directories synced in its batch. */
  constructor(cacheDir: string, options: { dirSync?: DeferredDirSync } = {}) {
    this.#root = join(cacheDir, 'ac');
    this.#dirSync = options.dirSync;
  }

  entryPath(key: StepKey): string {
    return join(this.#root, key.slice(0, 2), `${key}.json`);
  }

  async get(key: StepKey): Promise<ActionCacheEntry | undefined> {
    if (!isSha256(key)) return undefined;
    const value = await readJsonFile<unknown>(this.entryPath(key));
    return isActionCacheEntry(value) && value.key === key ? value : undefined;
  }

  /** Synchronous presence check: one stat, with no wait behind the thread pool's fsyncs. */
  has(key: StepKey): boolean {
    return isSha256(key) && existsSync(this.entryPath(key));
  }

  async put(entry: ActionCacheEntry): Promise<void> {
    const candidate: unknown = entry;
    if (!isActionCacheEntry(candidate)) throw new TypeError(`ActionCache.put: malformed entry for step ${entry.stepId}`);
    await writeFileAtomic(this.entryPath(entry.key), JSON.stringify(entry), { dirSync: this.#dirSync });
  }

  /** Marks an entry as used now; gc's LRU order reads this mtime. Missing entries are ignored. */
  async touch(key: StepKey): Promise<void> {
    const now = new Date();
    await utimes(this.entryPath(key), now, now).catch((error: unknown) => {
      if (!hasErrno(error, 'ENOENT')) throw error;
    });
  }

  /** Last access time (touch or put) of an entry, if it exists. */
  async accessedAt(key: StepKey): Promise<Date | undefined> {
    return stat(this.entryPath(key)).then(
      (s) => s.mtime,
      () => undefined,
    );
  }

  async *list(): AsyncIterable<ActionCacheEntry> {
    for (const prefix of await readdirOrEmpty(this.#root)) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const name of await readdirOrEmpty(join(this.#root, prefix))) {
        if (!name.endsWith('.json')) continue; // skips in-flight temp files
        const entry = await this.get(name.slice(0, -'.json'.length) as StepKey);
        if (entry !== undefined) yield entry;
      }
    }
  }

  async remove(key: StepKey): Promise<void> {
    await unlink(this.entryPath(key)).catch((error: unknown) => {
      if (!hasErrno(error, 'ENOENT')) throw error;
    });
  }
}

/** Structural check of everything the runtime relies on when restoring from an entry. */
export function isActionCacheEntry(value: unknown): value is ActionCacheEntry {
  if (!isRecord(value)) return false;
  return (
    value.schema === 1 &&
    isSha256(value.key) &&
    typeof value.stepId === 'string' &&
    isRecord(value.components) &&
    value.components.keySchema === 1 &&
    Array.isArray(value.outputs) &&
    value.outputs.every(isStoredOutput) &&
    isRecord(value.metrics) &&
    Object.values(value.metrics).every((v) => typeof v === 'number') &&
    Array.isArray(value.series) &&
    (value.tags === undefined || (isRecord(value.tags) && Object.values(value.tags).every((v) => typeof v === 'string'))) &&
    (value.consumed === undefined || (isRecord(value.consumed) && Object.values(value.consumed).every(isSha256))) &&
    (value.logHash === undefined || isSha256(value.logHash)) &&
    typeof value.durationMs === 'number' &&
    isProducer(value.producer)
  );
}

function isStoredOutput(value: unknown): value is StoredOutput {
  return (
    isRecord(value) &&
    typeof value.path === 'string' &&
    value.path !== '' &&
    (value.type === 'file' || value.type === 'dir') &&
    isSha256(value.hash) &&
    typeof value.size === 'number' &&
    (value.executable === undefined || typeof value.executable === 'boolean') &&
    (value.uncached === undefined || value.uncached === true)
  );
}

function isProducer(value: unknown): boolean {
  return (
    isRecord(value) &&
    typeof value.runId === 'string' &&
    typeof value.stepId === 'string' &&
    typeof value.host === 'string' &&
    typeof value.pid === 'number' &&
    typeof value.startedAt === 'string' &&
    typeof value.finishedAt === 'string'
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
