import { describeEmptyStep } from './load/matrix.js';
import { mkdir } from 'node:fs/promises';
import { ActionCache } from '../artifacts/action-cache.js';
import { DeferredDirSync } from '../artifacts/atomic.js';
import { ContentStore } from '../artifacts/content-store.js';
import { StatCache } from '../artifacts/stat-cache.js';
import { CodeHasher, kindCodeHashes } from './kinds/code-hash.js';
import type { StepKindRegistry } from './kinds/kind.js';
import type { Diagnostic } from './load/diagnostics.js';
import type { Stores } from './plan/gather.js';
import { gatherFacts } from './plan/gather.js';
import { selectSteps, topologicalOrder } from './graph.js';
import type { ProjectLayout } from './layout.js';
import { projectLayout } from './layout.js';
import { loadPipeline } from './load/load.js';
import type { Pipeline } from './pipeline.js';
import type { Plan, PlanFacts } from './plan/plan.js';
import { planRun } from './plan/plan.js';
import type { Result } from '../base/result.js';
import { err, ok } from '../base/result.js';

export interface SessionOptions {
  readonly file: string;
  readonly cwd: string;
  readonly overlays: readonly string[];
  readonly sets: readonly string[];
  readonly targets: readonly string[];
  readonly downstream: boolean;
  readonly force: boolean;
  readonly noCache: boolean;
  readonly cacheDir: string | null;
  readonly projectDir: string | null;
  readonly registry: StepKindRegistry;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface Session {
  readonly pipeline: Pipeline;
  readonly layout: ProjectLayout;
  readonly stores: Stores;
  readonly facts: PlanFacts;
  readonly plan: Plan;
  readonly roots: ReadonlySet<string>;
}

/** Load → select → gather → plan: everything `run`, `status` and `--dry-run` share. */
export async function openSession(options: SessionOptions): Promise<Result<Session, Diagnostic[]>> {
  const { projectDir, ...rest } = options;
  const loaded = await loadPipeline({ ...rest, ...(projectDir ? { projectDir } : {}) });
  if (!loaded.ok) return loaded;
  const pipeline = loaded.value;
  const selection = selectSteps(pipeline.steps, options.targets, { downstream: options.downstream });
  if (selection.errors.length > 0) {
    const names = pipeline.steps.map((s) => s.id);
    const empty = new Map((pipeline.emptySteps ?? []).map((e) => [e.name, describeEmptyStep(e)]));
    return err(
      selection.errors.map((e) => ({
        code: 'BLU_UNKNOWN_TARGET',
        message: empty.has(e.target) ? `step ${empty.get(e.target)!}` : `${e.message}; steps are: ${names.join(', ')}`,
        file: pipeline.displayFile,
        line: 0,
        col: 0,
      })),
    );
  }
  const layout = projectLayout(pipeline.projectDir, options.cacheDir ?? options.env.BLU_CACHE_DIR ?? null);
  await mkdir(layout.stateDir, { recursive: true });
  const dirSync = new DeferredDirSync();
  const stores: Stores = {
    cas: new ContentStore(layout.cacheDir, { dirSync }),
    ac: new ActionCache(layout.cacheDir, { dirSync }),
    stat: await StatCache.open(layout.statCacheFile),
    dirSync,
  };
  const hasher = await CodeHasher.open(layout.codeImportsFile, async (file) => {
    const state = await stores.stat.hashPath(file);
    return state.type === 'file' ? state.hash : null;
  });
  const codeHashes = await kindCodeHashes(
    options.registry,
    pipeline.steps.map((s) => s.kind),
    hasher,
  );
  await hasher.save();
  const facts = await gatherFacts(pipeline, layout, stores, codeHashes);
  if (!facts.ok) return facts;
  await stores.stat.save();
  const byId = new Map(pipeline.steps.map((s) => [s.id, s]));
  const order = topologicalOrder(pipeline.steps).map((id) => byId.get(id)!);
  // --force applies to the targets (and with --downstream to what follows), never to their upstream.
  const forced = options.force
    ? options.targets.length > 0 || options.downstream
      ? selection.roots
      : selection.selected
    : new Set<string>();
  const plan = planRun(order, facts.value, { selected: selection.selected, forced, noCache: options.noCache });
  return ok({ pipeline, layout, stores, facts: facts.value, plan, roots: selection.roots });
}
