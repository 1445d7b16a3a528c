/**
 * Garbage collection of the cache: drop action-cache entries the caller does not keep, then
 * blobs that no remaining entry (outputs, tree manifests and their files, logs) and no kept hash
 * references.
 *
 * Concurrency with a running step: a step puts its blobs before its AC entry exists, so blobs and
 * temp files younger than `graceMs` (1 hour by default) are never deleted, referenced or not.
 */
import { stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ActionCache } from './action-cache.js';
import { TEMP_MARKER } from './atomic.js';
import { ContentStore } from './content-store.js';
import { hasErrno } from './errors.js';
import { readdirOrEmpty } from './fsx.js';
import type { ActionCacheEntry, Sha256, StepKey } from './types.js';
import { isStored } from './types.js';

export const GC_GRACE_MS = 60 * 60 * 1000;
/** Kept hashes smaller than this are peeked at in case they are tree manifests. */
const MAX_MANIFEST_PEEK_BYTES = 64 * 1024 * 1024;

export interface GcKeep {
  keys: Set<StepKey>;
  hashes: Set<Sha256>;
}

export interface GcReport {
  removedEntries: number;
  removedBlobs: number;
  freedBytes: number;
  keptBlobs: number;
}

export async function collectGarbage(
  cacheDir: string,
  keep: GcKeep,
  options: { dryRun: boolean; graceMs?: number; now?: number },
): Promise<GcReport> {
  const ac = new ActionCache(cacheDir);
  const cas = new ContentStore(cacheDir);
  const cutoffMs = (options.now ?? Date.now()) - (options.graceMs ?? GC_GRACE_MS);
  const report: GcReport = { removedEntries: 0, removedBlobs: 0, freedBytes: 0, keptBlobs: 0 };
  const live = new Set<Sha256>();
  for await (const entry of ac.list()) {
    if (keep.keys.has(entry.key)) {
      await addEntryRefs(cas, entry, live);
      continue;
    }
    report.removedEntries++;
    if (!options.dryRun) await ac.remove(entry.key);
  }
  await addKeptHashes(cas, keep.hashes, live);
  await sweepBlobs(cas, live, cutoffMs, options.dryRun, report);
  report.freedBytes += await sweepTemps(cas.tempDir, () => true, cutoffMs, options.dryRun);
  for (const prefix of await readdirOrEmpty(join(cacheDir, 'ac'))) {
    const isTemp = (name: string): boolean => name.includes(TEMP_MARKER); // torn writeFileAtomic
    report.freedBytes += await sweepTemps(join(cacheDir, 'ac', prefix), isTemp, cutoffMs, options.dryRun);
  }
  return report;
}

async function addEntryRefs(cas: ContentStore, entry: ActionCacheEntry, live: Set<Sha256>): Promise<void> {
  if (entry.logHash !== undefined) live.add(entry.logHash);
  for (const out of entry.outputs.filter(isStored)) {
    live.add(out.hash);
    if (out.type === 'dir') await addTreeRefs(cas, out.hash, live);
  }
}

async function addTreeRefs(cas: ContentStore, hash: Sha256, live: Set<Sha256>): Promise<void> {
  try {
    for (const e of await cas.readTree(hash)) live.add(e.hash);
  } catch {
    // Missing or corrupt manifest: nothing further can be referenced through it.
  }
}

/** Kept hashes may be tree manifests (e.g. from a lock file): keep their files too. */
async function addKeptHashes(cas: ContentStore, hashes: Set<Sha256>, live: Set<Sha256>): Promise<void> {
  for (const hash of hashes) {
    live.add(hash);
    const size = await stat(cas.blobPath(hash)).then(
      (s) => s.size,
      () => undefined,
    );
    if (size !== undefined && size < MAX_MANIFEST_PEEK_BYTES) await addTreeRefs(cas, hash, live);
  }
}

async function sweepBlobs(cas: ContentStore, live: Set<Sha256>, cutoffMs: number, dryRun: boolean, report: GcReport): Promise<void> {
  for await (const blob of cas.listBlobs()) {
    if (live.has(blob.hash) || (await isYoungerThan(cas.blobPath(blob.hash), cutoffMs))) {
      report.keptBlobs++;
      continue;
    }
    report.removedBlobs++;
    report.freedBytes += dryRun ? blob.size : await cas.remove(blob.hash);
  }
}

/** Leftovers of interrupted writes; young ones may belong to a step that is running right now. */
async function sweepTemps(tempDir: string, isTemp: (name: string) => boolean, cutoffMs: number, dryRun: boolean): Promise<number> {
  let freed = 0;
  for (const name of (await readdirOrEmpty(tempDir)).filter(isTemp)) {
    const path = join(tempDir, name);
    const st = await stat(path).catch(() => undefined);
    if (st === undefined || !st.isFile() || st.mtimeMs >= cutoffMs) continue;
    if (!dryRun) {
      try {
        await unlink(path);
      } catch (error) {
        if (!hasErrno(error, 'ENOENT')) throw error;
        continue;
      }
    }
    freed += st.size;
  }
  return freed;
}

async function isYoungerThan(path: string, cutoffMs: number): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  return st !== undefined && st.mtimeMs >= cutoffMs;
}
