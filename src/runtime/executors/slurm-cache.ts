/** Reads the worker's committed action-cache entry from the submit host. */
import { setTimeout as delay } from 'node:timers/promises';
import { ActionCache } from '../../artifacts/action-cache.js';
import type { ActionCacheEntry, StepKey } from '../../artifacts/types.js';

// On NFS the submit host may see a file written on a compute node a moment late (attribute
// caching), so a missing entry right after COMPLETED is retried briefly before it counts.
const VISIBILITY_RETRIES = 10;
const VISIBILITY_DELAY_MS = 300;

async function readOnce(cache: ActionCache, key: StepKey): Promise<ActionCacheEntry | undefined> {
  try {
    return await cache.get(key);
  } catch {
    return undefined; // unreadable counts as absent: the caller reports the step as not committed
  }
}

/** The entry for `key`, or undefined when none was committed (after the visibility retries). */
export async function readCommittedEntry(
  cacheDir: string,
  key: StepKey,
  retries = VISIBILITY_RETRIES,
): Promise<ActionCacheEntry | undefined> {
  const cache = new ActionCache(cacheDir);
  for (let attempt = 0; ; attempt += 1) {
    const entry = await readOnce(cache, key);
    if (entry !== undefined || attempt >= retries) return entry;
    await delay(VISIBILITY_DELAY_MS);
  }
}
