import { staleHolders } from '../../artifacts/lock.js';

/**
 * Steps whose last attempt never finished (by step id → run id). A step's lock is held from before
 * its outputs are cleared until after its commit, so a lock left by a dead process (SIGKILL, power
 * loss) marks exactly such a step. Live locks belong to a concurrent run and are not reported.
 */
export function incompleteAttempts(stepLocksDir: string): Map<string, string> {
  return new Map(staleHolders(stepLocksDir).map((h) => [h.stepId, h.runId]));
}
