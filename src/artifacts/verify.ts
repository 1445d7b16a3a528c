/**
 * Full integrity check of a cache (`blu-pipe cache verify`): every blob is rehashed against its
 * name, every tree manifest is parsed, and every action-cache entry is checked for blobs it needs
 * that are gone or damaged. With `repair`, damaged blobs and the entries that can no longer be
 * restored are removed; everything removed is recomputable, so the next run reruns those steps.
 */
import { readFile } from 'node:fs/promises';
import { ActionCache } from './action-cache.js';
import { ContentStore } from './content-store.js';
import { hashFileContent, mapLimit, parseManifest } from './tree.js';
import type { ActionCacheEntry, Sha256 } from './types.js';
import { isStored } from './types.js';

const HASH_CONCURRENCY = 4;

export interface VerifyProblem {
  readonly kind: 'corrupt-blob' | 'broken-entry';
  /** Blob hash or entry key. */
  readonly id: string;
  readonly detail: string;
}

export interface VerifyReport {
  readonly checkedBlobs: number;
  readonly checkedBytes: number;
  readonly checkedEntries: number;
  readonly problems: readonly VerifyProblem[];
  /** True when the problems were removed from the store (`repair`). */
  readonly repaired: boolean;
}

export async function verifyCache(cacheDir: string, options: { repair: boolean }): Promise<VerifyReport> {
  const cas = new ContentStore(cacheDir);
  const ac = new ActionCache(cacheDir);
  const problems: VerifyProblem[] = [];
  const blobs: { hash: Sha256; size: number }[] = [];
  for await (const blob of cas.listBlobs()) blobs.push(blob);
  const corrupt = new Set<Sha256>();
  await mapLimit(blobs, HASH_CONCURRENCY, async (blob) => {
    const actual = await hashFileContent(cas.blobPath(blob.hash), blob.size).catch(() => undefined);
    if (actual === undefined || actual.hash === blob.hash) return; // vanished meanwhile (gc): not corruption
    corrupt.add(blob.hash);
    problems.push({ kind: 'corrupt-blob', id: blob.hash, detail: `its ${actual.size} bytes hash to ${actual.hash}` });
  });
  const present = new Set(blobs.map((b) => b.hash));
  const usable = (hash: Sha256): boolean => present.has(hash) && !corrupt.has(hash);
  const broken: ActionCacheEntry[] = [];
  let checkedEntries = 0;
  for await (const entry of ac.list()) {
    checkedEntries++;
    const why = await entryProblem(cas, entry, usable);
    if (why === undefined) continue;
    broken.push(entry);
    problems.push({ kind: 'broken-entry', id: entry.key, detail: `step ${entry.stepId}: ${why}` });
  }
  if (options.repair) {
    for (const hash of corrupt) await cas.remove(hash);
    for (const entry of broken) await ac.remove(entry.key);
  }
  problems.sort((a, b) => (a.kind === b.kind ? (a.id < b.id ? -1 : 1) : a.kind === 'corrupt-blob' ? -1 : 1));
  const checkedBytes = blobs.reduce((sum, b) => sum + b.size, 0);
  return { checkedBlobs: blobs.length, checkedBytes, checkedEntries, problems, repaired: options.repair };
}

/** Why an entry cannot be restored, or undefined when every blob it needs is present and sound. */
async function entryProblem(cas: ContentStore, entry: ActionCacheEntry, usable: (hash: Sha256) => boolean): Promise<string | undefined> {
  for (const out of entry.outputs.filter(isStored)) {
    if (!usable(out.hash)) return `the ${out.type === 'dir' ? 'manifest' : 'blob'} of ${out.path} is missing or corrupt`;
    if (out.type === 'file') continue;
    const entries = parseManifest(await readFile(cas.blobPath(out.hash), 'utf8').catch(() => ''));
    if (entries === undefined) return `the manifest of ${out.path} is not a valid manifest`;
    const bad = entries.find((e) => !usable(e.hash));
    if (bad !== undefined) return `the blob of ${out.path}/${bad.path} is missing or corrupt`;
  }
  return undefined;
}
