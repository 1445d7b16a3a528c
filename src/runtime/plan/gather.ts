import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { ActionCache } from '../../artifacts/action-cache.js';
import type { DeferredDirSync } from '../../artifacts/atomic.js';
import type { ContentStore } from '../../artifacts/content-store.js';
import type { StatCache } from '../../artifacts/stat-cache.js';
import type { ActionCacheEntry, StepKey } from '../../artifacts/types.js';
import { isStored } from '../../artifacts/types.js';
import type { Diagnostic } from '../load/diagnostics.js';
import { topologicalOrder } from '../graph.js';
import { incompleteAttempts } from './inflight.js';
import { externalDeps, keyComponents, stepKey } from './keys.js';
import type { ProjectLayout } from '../layout.js';
import { lockFileFor, lockRefFor, readCheckedLockSection } from './lockfile.js';
import type { Pipeline, StepInstance } from '../pipeline.js';
import { outputCurrent, type PlanFacts, type WorkspaceState } from './plan.js';
import type { Result } from '../../base/result.js';
import { err, ok } from '../../base/result.js';

export interface Stores {
  readonly cas: ContentStore;
  readonly ac: ActionCache;
  readonly stat: StatCache;
  /** The batch the stores' directory fsyncs join; flushed by the scheduler per lock-file write. */
  readonly dirSync?: DeferredDirSync;
}

/**
 * The IO half of planning: hashes inputs, computes keys, looks up the cache and the workspace.
 * `codeHashes`: kind name → hash of its implementation (see steps/code-hash.ts).
 */
export async function gatherFacts(
  pipeline: Pipeline,
  layout: ProjectLayout,
  stores: Stores,
  codeHashes: ReadonlyMap<string, string>,
): Promise<Result<PlanFacts, Diagnostic[]>> {
  const byId = new Map(pipeline.steps.map((s) => [s.id, s]));
  const outputsByStep = new Map(pipeline.steps.map((s) => [s.id, s.outs.map((o) => o.path)]));
  const keys = new Map<string, { key: StepKey; components: ReturnType<typeof keyComponents> }>();
  const missing: Diagnostic[] = [];
  for (const id of topologicalOrder(pipeline.steps)) {
    const step = byId.get(id)!;
    const hashes = await hashDeps(step, externalDeps(step, outputsByStep), pipeline, stores.stat, missing);
    const upstream = Object.fromEntries(step.needs.map((n) => [n, keys.get(n)!.key as string]).sort());
    const components = keyComponents(step, hashes, upstream, codeHashes.get(step.kind));
    keys.set(id, { key: stepKey(components), components });
  }
  if (missing.length > 0) return err(missing);
  const lock = readCheckedLockSection(lockRefFor(pipeline), lockFileFor(pipeline.displayFile));
  if (!lock.ok) return err([lock.error]);
  const entries = await lookupEntries(keys, stores);
  const incomplete = incompleteAttempts(layout.stepLocksDir);
  // Runs made here tell a cache entry this cache lost from one it never held (a fresh clone).
  const localRuns = new Set(await readdir(layout.runsDir).catch(() => [] as string[]));
  const storeComplete = new Map<string, boolean>();
  const workspace = new Map<string, WorkspaceState>();
  for (const entry of entries.values()) {
    for (const out of entry.outputs) workspace.set(out.path, await stores.stat.hashPath(path.join(pipeline.projectDir, out.path)));
  }
  // Only an entry that may be restored needs its blobs: one whose outputs differ from the workspace.
  await Promise.all(
    [...entries.values()]
      .filter((entry) => entry.outputs.some((o) => !outputCurrent(workspace.get(o.path), o.hash)))
      .map(async (entry) => {
        storeComplete.set(entry.key, (await Promise.all(entry.outputs.filter(isStored).map((o) => stores.cas.verify(o)))).every(Boolean));
      }),
  );
  for (const step of pipeline.steps) {
    for (const out of step.outs.filter((o) => !o.cache))
      workspace.set(out.path, await stores.stat.hashPath(path.join(pipeline.projectDir, out.path)));
  }
  // What a result consumed is judged against the workspace too (plan.ts, notFreshUpstream): the
  // outputs of needs without an entry (cache: false steps, lost entries) are hashed for that.
  for (const entry of entries.values()) {
    for (const consumed of Object.keys(entry.consumed ?? {}))
      if (!workspace.has(consumed)) workspace.set(consumed, await stores.stat.hashPath(path.join(pipeline.projectDir, consumed)));
  }
  return ok({ keys, entries, storeComplete, workspace, lock: lock.value, incomplete, localRuns });
}

async function hashDeps(
  step: StepInstance,
  deps: readonly string[],
  pipeline: Pipeline,
  stat: StatCache,
  missing: Diagnostic[],
): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for (const dep of deps) {
    const state = await stat.hashPath(path.resolve(pipeline.projectDir, dep));
    if (state.type === 'missing') {
      const pos = pipeline.source.position(['steps', step.name, 'deps', Math.max(0, step.deps.indexOf(dep))]);
      missing.push({
        code: 'BLU_MISSING_INPUT',
        message: `input '${dep}' of step '${step.id}' does not exist, and no step declares it as an output`,
        file: pipeline.displayFile,
        line: pos.line,
        col: pos.col,
      });
    } else hashes[dep] = state.hash;
  }
  return hashes;
}

async function lookupEntries(keys: ReadonlyMap<string, { key: StepKey }>, stores: Stores): Promise<Map<string, ActionCacheEntry>> {
  const entries = new Map<string, ActionCacheEntry>();
  await Promise.all(
    [...keys.values()].map(async ({ key }) => {
      const entry = await stores.ac.get(key);
      if (entry) entries.set(key, entry);
    }),
  );
  return entries;
}
