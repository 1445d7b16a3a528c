/**
 * The threads a backend computes with: its own count, or for native TensorFlow (which reports 0:
 * it sizes its own pools) TF_NUM_INTRAOP_THREADS when that is a positive integer, else one per core.
 * Its own module, not backend/index.ts: every step kind imports that one, and a kind's cache key
 * hashes its modules.
 */
export function computeThreads(backendThreads: number, env: Readonly<Record<string, string | undefined>>, cores: number): number {
  if (backendThreads > 0) return backendThreads;
  const set = Number(env.TF_NUM_INTRAOP_THREADS);
  return Number.isInteger(set) && set > 0 ? set : cores;
}
