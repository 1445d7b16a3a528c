import path from 'node:path';
import { StatCache } from '../../artifacts/stat-cache.js';
import type { Sha256 } from '../../artifacts/types.js';
import type { LockSection } from './lockfile.js';

/** A workspace output whose bytes are not those the lock records (`now` null: it is missing). */
export interface OutputMismatch {
  readonly stepId: string;
  readonly path: string;
  readonly recorded: Sha256;
  readonly now: string | null;
}

export interface WorkspaceVerdict {
  readonly checked: number;
  readonly mismatches: readonly OutputMismatch[];
}

/**
 * Rehashes every output the lock records for these steps, reading every byte: the stat cache's
 * stamps are not trusted here, so a change they missed (a restored mtime, a tool that keeps
 * stamps) still shows. Planning never does this; it is what `status --verify` is for.
 */
export async function verifyWorkspace(projectDir: string, lock: LockSection, stepIds: readonly string[]): Promise<WorkspaceVerdict> {
  const hasher = StatCache.ephemeral();
  const mismatches: OutputMismatch[] = [];
  let checked = 0;
  for (const stepId of stepIds) {
    for (const out of lock.steps[stepId]?.outputs ?? []) {
      checked++;
      const now = await hasher.hashPath(path.join(projectDir, out.path));
      const hash = now.type === 'missing' ? null : now.hash;
      if (hash !== out.hash) mismatches.push({ stepId, path: out.path, recorded: out.hash, now: hash });
    }
  }
  return { checked, mismatches };
}
