/**
 * Consumed digests: step keys name upstream results by provenance (the upstream's key), so a whole
 * pipeline's keys are known before anything runs. Provenance alone would trust a result computed
 * from bytes the upstream no longer holds (a forced or repaired rerun of a non-deterministic step
 * keeps its key but changes its outputs). So each result also records the digests of the upstream
 * outputs it read, and is current only while the upstream still holds those bytes.
 */
import type { Sha256 } from '../../artifacts/types.js';
import type { StaleReason } from './reasons.js';

/** The tag a step gets when a rerun with the same key and consumed bytes changed its outputs (also an MLflow run tag). */
export const NONDETERMINISTIC_TAG = 'blu.nondeterministic';

/** What the upstream outputs hold now (or will hold once settled): output path → producing step and digest. */
export type OutputDigests = ReadonlyMap<string, { readonly step: string; readonly hash: string }>;

/** Upstream outputs a result consumed whose bytes have changed since; paths whose state is not known yet are not judged. */
export function consumedChanges(consumed: Readonly<Record<string, string>> | undefined, now: OutputDigests): StaleReason[] {
  if (consumed === undefined) return []; // an entry from before consumed digests: provenance only
  const reasons: StaleReason[] = [];
  for (const [path, before] of Object.entries(consumed)) {
    const current = now.get(path);
    if (current !== undefined && current.hash !== before)
      reasons.push({ kind: 'upstream-output-changed', step: current.step, path, before, after: current.hash });
  }
  return reasons;
}

/** The consumed record of a step about to run: the digest of every output of its needs, by path. */
export function consumedRecord(now: OutputDigests): Record<string, Sha256> {
  return Object.fromEntries([...now.keys()].sort().map((path) => [path, now.get(path)!.hash as Sha256]));
}

/** Output paths whose bytes differ between two commits of the same key ([] when the same). */
export function changedOutputs(
  before: readonly { readonly path: string; readonly hash: string }[],
  after: readonly { readonly path: string; readonly hash: string }[],
): string[] {
  const old = new Map(before.map((o) => [o.path, o.hash]));
  return after.filter((o) => old.has(o.path) && old.get(o.path) !== o.hash).map((o) => o.path);
}

/** Whether two consumed records name the same bytes (both absent counts as unknown, not equal). */
export function sameConsumed(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
