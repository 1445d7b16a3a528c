import os from 'node:os';
import path from 'node:path';
import { ArtifactError, isErrnoException } from '../../artifacts/errors.js';
import type { ArtifactErrorCode } from '../../artifacts/errors.js';
import { acquireLock, lockPathFor } from '../../artifacts/lock.js';
import { describeNoSpace, isNoSpace } from '../../artifacts/no-space.js';
import type { ActionCacheEntry, Sha256 } from '../../artifacts/types.js';
import { isStored } from '../../artifacts/types.js';
import { consumedChanges, consumedRecord, NONDETERMINISTIC_TAG, type OutputDigests } from '../plan/consumed.js';
import type { Stores } from '../plan/gather.js';
import type { RunEvent, StepFailure, StepOutcome } from '../events.js';
import type { Executor, StepReport } from '../executor.js';
import { ExclusiveGate } from './exclusive.js';
import { OutputLeases } from './leases.js';
import type { ProjectLayout } from '../layout.js';
import { stepFileName } from '../layout.js';
import type { LockSection } from '../plan/lockfile.js';
import { schedulingPriorities } from '../graph.js';
import { pGraphLib } from '../lazy-deps.js';
import { lockRefFor } from '../plan/lockfile.js';
import { LockWriter, workspaceHolds } from './lock-writer.js';
import type { Pipeline, StepInstance } from '../pipeline.js';
import { isNoopPlan, type Plan, type PlannedStep } from '../plan/plan.js';
import type { StaleReason } from '../plan/reasons.js';
import type { ResourcePool } from './resources.js';
import type { StepSpec, UpstreamOutputs } from '../step-spec.js';

/**
 * Graph slots beyond --jobs, for steps whose commands have finished and which are committing: a
 * commit waits for fsyncs (several ms each) while a trivial command takes a few ms.
 */
const COMMIT_OVERLAP = 16;

export type FailurePolicy = 'no-new' | 'keep-going';

/** Restore failures that mean the entry itself is broken: recomputing the step is the repair. */
const UNRESTORABLE: ReadonlySet<ArtifactErrorCode> = new Set(['corrupt-blob', 'corrupt-manifest', 'missing-blob']);

/** What an action under a step lock asks for when other runs still read the outputs it would rewrite. */
const WAIT_FOR_READERS = Symbol('wait for readers');
type LockedOutcome = PlannedStep | void | typeof WAIT_FOR_READERS;

/** A planned step the run acts on (steps outside the selection are 'skip' and never scheduled). */
type ActiveStep = PlannedStep & { readonly action: Exclude<PlannedStep['action'], 'skip'> };

function isActive(step: PlannedStep): step is ActiveStep {
  return step.action !== 'skip';
}

export interface SchedulerContext {
  readonly pipeline: Pipeline;
  readonly plan: Plan;
  readonly layout: ProjectLayout;
  readonly stores: Stores;
  readonly executor: Executor;
  readonly pool: ResourcePool;
  readonly emit: (event: RunEvent) => void;
  readonly runId: string;
  readonly policy: FailurePolicy;
  readonly signal: AbortSignal;
  readonly previousLock: LockSection;
  /** false with --no-cache: never take a result from the cache, even one another run just stored. */
  readonly reuseCache: boolean;
  /** Drop the section's entries of instances the pipeline no longer has (a removed step or matrix value) at the first lock write; off with --set, whose pipeline is not the one the section records. */
  readonly pruneLock?: boolean;
}

interface StepResult {
  readonly outcome: StepOutcome;
  readonly entry: ActionCacheEntry | null;
}

/** Runs a plan through p-graph: dependency order, bounded parallelism, resource budgets. */
export class Scheduler {
  readonly #results = new Map<string, StepResult>();
  readonly #byId: ReadonlyMap<string, StepInstance>;
  readonly #planned: ReadonlyMap<string, PlannedStep>;
  readonly #priorities: ReadonlyMap<string, number>;
  readonly #lockFile: LockWriter;
  #stopNew = false;
  readonly #leases: OutputLeases;
  /** Per step: how many steps of this run that will execute still have to read its outputs. */
  readonly #readersLeft: Map<string, number>;
  /** Steps that read their needs' outputs in this run, or may (see readingSteps). */
  readonly #readers: ReadonlySet<string>;
  /** Holds exclusive steps back until they delay no more urgent work (exclusive.ts). */
  readonly #exclusive: ExclusiveGate;
  /** Output path → the step declaring it. */
  readonly #producerOf: ReadonlyMap<string, string>;
  /** Steps whose output leases were given up to an older waiting run; readers settle them again first. */
  readonly #yielded = new Set<string>();
  /** Output paths steps of this run are reading now (their leases are never given up). */
  readonly #inUse = new Map<string, number>();

  constructor(readonly ctx: SchedulerContext) {
    this.#byId = new Map(ctx.pipeline.steps.map((s) => [s.id, s]));
    this.#producerOf = new Map(ctx.pipeline.steps.flatMap((s) => s.outs.map((o) => [o.path, s.id] as const)));
    this.#planned = new Map(ctx.plan.steps.map((p) => [p.id, p]));
    this.#priorities = schedulingPriorities(ctx.pipeline.steps);
    this.#lockFile = new LockWriter({
      ref: lockRefFor(ctx.pipeline),
      previous: ctx.previousLock,
      pruneTo: ctx.pruneLock === true ? new Set(this.#byId.keys()) : null,
      flushDirs: async () => ctx.stores.dirSync?.flush(),
      inWorkspace: (entry) => this.#inWorkspace(entry.outputs),
      emit: ctx.emit,
    });
    this.#leases = new OutputLeases(path.join(ctx.layout.stateDir, 'leases'), ctx.runId);
    this.#readers = readingSteps(ctx.plan.steps, this.#byId);
    this.#readersLeft = readersPerStep(this.#readers, this.#byId);
    const gated = ctx.plan.steps.filter(isActive).map((p) => this.#byId.get(p.id)!);
    this.#exclusive = new ExclusiveGate(
      gated.map((s) => ({ id: s.id, needs: s.needs, exclusive: s.resources.cpus === 'all' })),
      this.#priorities,
    );
  }

  async run(): Promise<ReadonlyMap<string, StepResult>> {
    const active = this.ctx.plan.steps.filter(isActive);
    const nodes = new Map(
      active.map((p) => [p.id, { run: () => this.#exclusive.track(() => this.#runOne(p)), priority: this.#priorities.get(p.id) ?? 0 }]),
    );
    const edges: [string, string][] = [];
    for (const p of active) for (const need of this.#byId.get(p.id)!.needs) if (nodes.has(need)) edges.push([need, p.id]);
    // The resource pool bounds running commands; the extra graph slots let finished steps commit
    // (hash, store, fsync) while the next commands run.
    const parallel = Math.max(1, this.ctx.executor.maxParallel);
    try {
      // A no-op only re-checks outputs, in plan (topological) order: no graph library to load.
      if (isNoopPlan(this.ctx.plan)) for (const p of active) await this.#runOne(p);
      else await new (pGraphLib().PGraph)(nodes, edges).run({ concurrency: parallel + COMMIT_OVERLAP });
    } finally {
      this.#leases.releaseAll();
    }
    await this.#lockFile.finish();
    await this.ctx.stores.dirSync?.flush();
    return this.#results;
  }

  /** Anything thrown while acting on a step (a full disk, most likely) fails that step, not the run. */
  async #runOne(planned: ActiveStep): Promise<void> {
    try {
      return await this.#act(planned);
    } catch (error) {
      const where = (isErrnoException(error) ? error.path : undefined) ?? this.ctx.layout.bluDir;
      const failure: StepFailure = isNoSpace(error)
        ? { reason: 'no-space', message: `step '${planned.id}': ${await describeNoSpace('writing its run state', where, null)}` }
        : { reason: 'internal', message: `step '${planned.id}': ${error instanceof Error ? error.message : String(error)}` };
      return this.#finish(planned, 'failed', null, 0, { failure });
    }
  }

  async #act(plannedAtStart: ActiveStep): Promise<void> {
    let planned = plannedAtStart;
    const step = this.#byId.get(planned.id)!;
    const blocked = step.needs.find((n) => {
      const r = this.#results.get(n);
      return r !== undefined && r.outcome !== 'ran' && r.outcome !== 'restored' && r.outcome !== 'fresh';
    });
    if (blocked !== undefined || this.#stopNew || this.ctx.signal.aborted) {
      const outcome: StepOutcome = this.ctx.signal.aborted ? 'cancelled' : 'skipped';
      const message =
        blocked !== undefined ? `not run: it needs '${blocked}', which did not succeed` : 'not run: the run is stopping after a failure';
      return this.#finish(planned, outcome, null, 0, { failure: { reason: 'cancelled', message } });
    }
    planned = await this.#recheckConsumed(planned, step);
    this.#announceQueued(planned, step);
    if (planned.action === 'fresh' && (this.#readersLeft.get(planned.id) ?? 0) === 0)
      return this.#finish(planned, 'fresh', planned.entry, 0, {});
    if (planned.action === 'fresh' && planned.entry)
      return this.#computeIfRequeued(step, await this.#underStepLock(step, () => this.#settleFresh(planned, step, planned.entry!)));
    if (planned.action === 'restore' && planned.entry)
      return this.#computeIfRequeued(step, await this.#underStepLock(step, () => this.#restoreForWriting(planned, step, planned.entry!)));
    return this.#compute(planned, step);
  }

  /**
   * A step planned fresh or restore whose upstream has just rerun (forced, always_run, a corrupt
   * entry, cache: false) runs instead if the upstream's bytes are no longer those it consumed.
   */
  async #recheckConsumed(planned: ActiveStep, step: StepInstance): Promise<ActiveStep> {
    // A 'run' with an entry waited for an upstream that was not fresh (plan.ts, notFreshUpstream).
    if (planned.entry === null || !this.#readers.has(planned.id)) return planned;
    const changes = consumedChanges(
      planned.entry.consumed,
      await this.#upstreamDigests(step, new Set(Object.keys(planned.entry.consumed ?? {}))),
    );
    if (changes.length === 0) return planned;
    const reasons = planned.action === 'run' ? [...changes, ...notUpstream(planned.reasons)] : changes;
    return { ...planned, action: 'run', reasons, entry: null };
  }

  /**
   * What the step's needs hold now: their committed entries' outputs, and (hashed through the stat
   * cache) outputs kept out of the cache. `only`: just these paths.
   */
  async #upstreamDigests(step: StepInstance, only?: ReadonlySet<string>): Promise<OutputDigests> {
    const digests = new Map<string, { step: string; hash: string }>();
    for (const need of step.needs) {
      for (const out of this.#results.get(need)?.entry?.outputs ?? []) digests.set(out.path, { step: need, hash: out.hash });
      const upstream = this.#byId.get(need)!;
      for (const out of upstream.outs.filter((o) => !(o.cache && upstream.cache) && (only === undefined || only.has(o.path)))) {
        const now = await this.ctx.stores.stat.hashPath(path.join(this.ctx.pipeline.projectDir, out.path));
        if (now.type !== 'missing') digests.set(out.path, { step: need, hash: now.hash });
      }
    }
    return digests;
  }

  /** A restore that found its entry corrupt hands back the step to compute, after its lock is released. */
  async #computeIfRequeued(step: StepInstance, requeued: PlannedStep | void): Promise<void> {
    if (requeued) await this.#compute(requeued, step, false);
  }

  /**
   * A fresh step whose outputs this run will read: under its lock, check they are still what the
   * plan saw (another run may have rewritten them since), restoring ours if not; #finish leases them.
   */
  async #settleFresh(planned: PlannedStep, step: StepInstance, entry: ActionCacheEntry): Promise<LockedOutcome> {
    const { projectDir } = this.ctx.pipeline;
    const states = await Promise.all(entry.outputs.map((o) => this.ctx.stores.stat.hashPath(path.join(projectDir, o.path))));
    const unchanged = entry.outputs.every((o, i) => states[i]!.type === o.type && 'hash' in states[i]! && states[i]!.hash === o.hash);
    if (unchanged) return this.#finish(planned, 'fresh', entry, 0, {});
    return this.#restoreForWriting(planned, step, entry);
  }

  #inWorkspace(outputs: readonly { readonly path: string; readonly hash: string }[]): Promise<boolean> {
    return workspaceHolds(this.ctx.stores.stat, this.ctx.pipeline.projectDir, outputs);
  }

  /**
   * Under the step's lock: restore its outputs, unless other runs still read them (then the lock is
   * let go and the wait happens without it, see #underStepLock) or a `cache: false` output the
   * entry cannot bring back is not in place (then the step runs).
   */
  async #restoreForWriting(planned: PlannedStep, step: StepInstance, entry: ActionCacheEntry): Promise<LockedOutcome> {
    if (this.#leases.foreignHolder(step.outs.map((o) => o.path)) !== undefined) return WAIT_FOR_READERS;
    const missing = await this.#uncachedNotInPlace(step, entry);
    if (missing.length > 0) {
      const requeued: ActiveStep = { ...planned, action: 'run', reasons: missing, entry: null };
      this.#announceQueued(requeued, step);
      return requeued;
    }
    return this.#restore(planned, entry, step);
  }

  /** `cache: false` outputs the entry cannot restore, missing or not the bytes it recorded (as reasons). */
  async #uncachedNotInPlace(step: StepInstance, entry: ActionCacheEntry): Promise<StaleReason[]> {
    const recorded = new Map(entry.outputs.map((o) => [o.path, o.hash]));
    const reasons: StaleReason[] = [];
    for (const out of step.outs.filter((o) => !o.cache)) {
      const now = await this.ctx.stores.stat.hashPath(path.join(this.ctx.pipeline.projectDir, out.path));
      const want = recorded.get(out.path);
      if (now.type === 'missing') reasons.push({ kind: 'output-missing', path: out.path });
      else if (want !== undefined && now.hash !== want) reasons.push({ kind: 'output-modified', path: out.path });
    }
    return reasons;
  }

  /** Other runs still reading this step's outputs keep them: wait (saying for whom) before rewriting them. */
  #waitForReaders(step: StepInstance): Promise<boolean> {
    return this.#leases.waitUntilFree(
      step.outs.map((o) => o.path),
      this.ctx.signal,
      (h) =>
        this.ctx.emit({
          type: 'step-waiting',
          stepId: step.id,
          holder: `run ${h.runId} (pid ${h.pid} on ${h.host}), which still reads ${h.path}`,
          time: Date.now(),
        }),
      {
        yieldable: (p) => !this.#inUse.has(p),
        onYield: (paths) => {
          for (const p of paths) {
            const producer = this.#producerOf.get(p);
            if (producer !== undefined) this.#yielded.add(producer);
          }
        },
      },
    );
  }

  /**
   * Needs of this step whose outputs this run does not lease are settled again before it reads
   * them: leases given up to an older waiting run (leases.ts), or never taken because the step was
   * not planned to read (a restore that found its entry corrupt or a `cache: false` output gone).
   * Under the need's lock, its outputs are put back from its entry where another run rewrote them,
   * and leased. (`cache: false` outputs cannot be put back: the reader's consumed digests hash what
   * they hold, so its record stays true.)
   */
  async #resettle(step: StepInstance): Promise<boolean> {
    for (const need of step.needs.filter((n) => this.#unsettled(n))) {
      const upstream = this.#byId.get(need)!;
      const me = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), runId: this.ctx.runId, stepId: need };
      for (;;) {
        const lock = await acquireLock(this.#stepLockPath(upstream), me, {
          signal: this.ctx.signal,
          onWait: (h) => this.#announceWait(step, h),
        });
        if (!lock.ok) return false;
        let free: boolean;
        try {
          free = this.#leases.foreignHolder(upstream.outs.map((o) => o.path)) === undefined;
          if (free) {
            const entry = this.#results.get(need)?.entry;
            let wrote = false;
            for (const out of entry ? entry.outputs.filter(isStored) : []) {
              if (await this.#inWorkspace([out])) continue;
              await this.ctx.stores.cas.restore(this.ctx.pipeline.projectDir, out);
              wrote = true;
            }
            // The last writer of the bytes records them (lock-writer.ts).
            if (entry && wrote) this.#lockFile.record(need, entry, true);
            this.#leases.hold(upstream.outs.map((o) => o.path));
            this.#yielded.delete(need);
          }
        } finally {
          await lock.value.release();
        }
        if (free) break;
        if (!(await this.#waitForReaders(upstream))) return false;
      }
    }
    return true;
  }

  /**
   * Runs `action` under the step's lock. An action that finds other runs reading the outputs it
   * would rewrite asks to wait: the lock is released first and taken again after, so a run never
   * waits for a lease while holding a step lock (two runs doing that can wait for each other forever).
   */
  async #underStepLock(step: StepInstance, action: () => Promise<LockedOutcome>): Promise<PlannedStep | void> {
    const me = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), runId: this.ctx.runId, stepId: step.id };
    for (;;) {
      const lock = await acquireLock(this.#stepLockPath(step), me, { signal: this.ctx.signal, onWait: (h) => this.#announceWait(step, h) });
      if (!lock.ok)
        return this.#finish(this.#planned.get(step.id)!, 'cancelled', null, 0, {
          failure: { reason: 'cancelled', message: 'cancelled while waiting for a lock' },
        });
      let outcome: LockedOutcome;
      try {
        outcome = await action();
      } finally {
        await lock.value.release();
      }
      if (outcome !== WAIT_FOR_READERS) return outcome;
      if (!(await this.#waitForReaders(step)))
        return this.#finish(this.#planned.get(step.id)!, 'cancelled', null, 0, {
          failure: { reason: 'cancelled', message: 'cancelled while other runs read its outputs' },
        });
    }
  }

  /** Restores the outputs; a corrupt entry is evicted and the step handed back, to be computed. */
  async #restore(planned: PlannedStep, entry: ActionCacheEntry, step: StepInstance): Promise<PlannedStep | void> {
    const started = Date.now();
    try {
      for (const out of entry.outputs.filter(isStored)) await this.ctx.stores.cas.restore(this.ctx.pipeline.projectDir, out);
      await this.ctx.stores.ac.touch(entry.key);
      return this.#finish(planned, 'restored', entry, Date.now() - started, {});
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      if (error instanceof ArtifactError && UNRESTORABLE.has(error.code) && step.cache) {
        return this.#evictAndRequeue(planned, step, entry, why);
      }
      if (isNoSpace(error)) {
        const needed = entry.outputs.reduce((sum, o) => sum + o.size, 0);
        const message = `step '${planned.id}': ${await describeNoSpace('restoring its outputs from the cache', this.ctx.pipeline.projectDir, needed)}`;
        return this.#finish(planned, 'failed', null, Date.now() - started, { failure: { reason: 'no-space', message } });
      }
      const message = `could not restore '${planned.id}' from the cache: ${why}`;
      return this.#finish(planned, 'failed', null, Date.now() - started, { failure: { reason: 'internal', message } });
    }
  }

  /** The entry can never be restored again: drop it and run the step, saying why. */
  async #evictAndRequeue(planned: PlannedStep, step: StepInstance, entry: ActionCacheEntry, detail: string): Promise<PlannedStep> {
    await this.ctx.stores.ac.remove(entry.key);
    const requeued: ActiveStep = { ...planned, action: 'run', reasons: [{ kind: 'cache-corrupt', detail }], entry: null };
    this.#announceQueued(requeued, step);
    return requeued;
  }

  /** What the step will do and why (a requeued step announces itself again). */
  #announceQueued(planned: ActiveStep, step: StepInstance): void {
    const { id: stepId, key, action, reasons } = planned;
    this.ctx.emit({
      type: 'step-queued',
      stepId,
      kind: step.kind,
      key,
      params: step.trackedParams ?? step.params,
      action,
      reasons,
      time: Date.now(),
    });
  }

  async #compute(planned: PlannedStep, step: StepInstance, reuseCache = this.ctx.reuseCache): Promise<void> {
    const slot = new CpuSlot(this.ctx.pool, resourceNeed(step), this.#priorities.get(step.id) ?? 0);
    await this.#exclusive.wait(step.id);
    await slot.take();
    const locks = await this.#lockWithoutReaders(planned, step, slot);
    try {
      if (locks === 'cancelled')
        return this.#finish(planned, 'cancelled', null, 0, {
          failure: { reason: 'cancelled', message: 'cancelled while waiting for a lock or for other runs reading its outputs' },
        });
      // Another run may have computed this very key while we waited: then it is a cache hit, unless
      // a `cache: false` output (which no cache entry brings back) is not in place.
      const forced = planned.reasons.some((r) => r.kind === 'forced');
      const cached = forced || !reuseCache || !this.ctx.stores.ac.has(planned.key) ? undefined : await this.ctx.stores.ac.get(planned.key);
      if (
        cached &&
        step.cache &&
        !step.alwaysRun &&
        consumedChanges(cached.consumed, await this.#upstreamDigests(step)).length === 0 &&
        (await this.#uncachedNotInPlace(step, cached)).length === 0
      ) {
        // Its outputs may be in place already (it was stale only until its upstream was settled).
        if (await this.#inWorkspace(cached.outputs)) return this.#finish(planned, 'fresh', cached, 0, {});
        const requeued = await this.#restore(planned, cached, step);
        return requeued ? await this.#attempts(requeued, step, slot) : undefined;
      }
      await this.#attempts(planned, step, slot);
    } finally {
      if (locks !== 'cancelled') await locks.release();
      slot.free();
    }
  }

  /**
   * The step's locks, taken when no other run reads its outputs. Waiting for readers happens with
   * neither the locks nor the CPU slot held (the slot is taken again after, at this step's priority):
   * a run waiting for a lease while holding a step lock can deadlock with the run holding the lease.
   */
  async #lockWithoutReaders(planned: PlannedStep, step: StepInstance, slot: CpuSlot): Promise<{ release(): Promise<void> } | 'cancelled'> {
    const outs = step.outs.map((o) => o.path);
    for (;;) {
      if (!(await this.#resettle(step))) return 'cancelled';
      const locks = await this.#lock(planned, step);
      if (!locks) return 'cancelled';
      // Synchronously from the check on: no lease this step reads can be given up until it has finished.
      if (this.#leases.foreignHolder(outs) === undefined && !step.needs.some((n) => this.#unsettled(n))) return this.#using(step, locks);
      await locks.release();
      slot.free();
      if (!(await this.#waitForReaders(step))) return 'cancelled';
      await slot.take();
    }
  }

  /**
   * The step's lock guards its workspace outputs. The cache key's lock only saves work: it stops runs
   * of other projects that share this cache from computing the same key at once (cache writes are
   * atomic either way). A project-private cache is only reached through this project's step locks,
   * so it is skipped there: two more file creates per step.
   */
  async #lock(planned: PlannedStep, step: StepInstance): Promise<{ release(): Promise<void> } | null> {
    const me = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), runId: this.ctx.runId, stepId: step.id };
    const onWait = (h: { pid: number; host: string; startedAt: string; runId: string }): void => this.#announceWait(step, h);
    const stepLock = await acquireLock(this.#stepLockPath(step), me, { signal: this.ctx.signal, onWait });
    if (!stepLock.ok) return null;
    if (!this.ctx.layout.cacheShared) return stepLock.value;
    const keyLock = await acquireLock(lockPathFor(this.ctx.layout.cacheDir, planned.key), me, { signal: this.ctx.signal, onWait });
    if (!keyLock.ok) {
      await stepLock.value.release();
      return null;
    }
    return { release: async () => (await keyLock.value.release(), await stepLock.value.release()) };
  }

  /** A need whose outputs this run does not lease now (so another run may have rewritten them). */
  #unsettled(need: string): boolean {
    return this.#yielded.has(need) || !this.#leases.holdsAll(this.#byId.get(need)!.outs.map((o) => o.path));
  }

  /** Marks the outputs of the step's needs as being read until `locks` are released. */
  #using(step: StepInstance, locks: { release(): Promise<void> }): { release(): Promise<void> } {
    const paths = step.needs.flatMap((n) => this.#byId.get(n)!.outs.map((o) => o.path));
    for (const p of paths) this.#inUse.set(p, (this.#inUse.get(p) ?? 0) + 1);
    return {
      release: async () => {
        for (const p of paths) {
          const left = (this.#inUse.get(p) ?? 1) - 1;
          if (left > 0) this.#inUse.set(p, left);
          else this.#inUse.delete(p);
        }
        await locks.release();
      },
    };
  }

  #stepLockPath(step: StepInstance): string {
    return path.join(this.ctx.layout.stepLocksDir, `${stepFileName(step.id)}.lock`);
  }

  #announceWait(step: StepInstance, h: { pid: number; host: string; startedAt: string; runId: string }): void {
    this.ctx.emit({
      type: 'step-waiting',
      stepId: step.id,
      holder: `run ${h.runId} (pid ${h.pid} on ${h.host}, since ${h.startedAt})`,
      time: Date.now(),
    });
  }

  async #attempts(planned: PlannedStep, step: StepInstance, slot: CpuSlot): Promise<void> {
    const spec = this.#spec(planned, step, consumedRecord(await this.#upstreamDigests(step)));
    const started = Date.now();
    let failure: StepFailure | undefined;
    for (let attempt = 1; attempt <= step.retries + 1; attempt++) {
      await slot.take();
      this.ctx.emit({
        type: 'step-start',
        stepId: step.id,
        kind: step.kind,
        key: planned.key,
        params: step.trackedParams ?? step.params,
        logPath: spec.logPath,
        attempt,
        time: Date.now(),
      });
      const result = await this.ctx.executor.execute(spec, {
        signal: this.ctx.signal,
        report: this.#reporter(step.id),
        commandDone: () => slot.free(),
      });
      if (result.ok) {
        return this.#finish(planned, 'ran', result.value.entry, Date.now() - started, {
          logPath: spec.logPath,
          ...(result.value.jobId ? { jobId: result.value.jobId } : {}),
        });
      }
      failure = { ...result.error, logPath: spec.logPath };
      if (this.ctx.signal.aborted || result.error.reason === 'cancelled') break;
      if (attempt <= step.retries)
        this.ctx.emit({
          type: 'warning',
          message: `${step.id}: attempt ${attempt} failed (${result.error.message}); retrying`,
          time: Date.now(),
        });
    }
    const outcome: StepOutcome = this.ctx.signal.aborted || failure?.reason === 'cancelled' ? 'cancelled' : 'failed';
    return this.#finish(planned, outcome, null, Date.now() - started, { failure: failure!, logPath: spec.logPath });
  }

  #reporter(stepId: string): StepReport {
    return {
      progress: (progress) => this.ctx.emit({ type: 'step-progress', stepId, progress, time: Date.now() }),
      metric: (name, value, step, time) => this.ctx.emit({ type: 'step-metric', stepId, name, value, step, time }),
      // Tags reach trackers with the committed entry (step-end), so restored steps carry them too.
      tag: () => undefined,
    };
  }

  #spec(planned: PlannedStep, step: StepInstance, consumed: Readonly<Record<string, Sha256>>): StepSpec {
    const upstream: Record<string, UpstreamOutputs> = {};
    for (const need of step.needs) {
      const r = this.#results.get(need);
      const p = this.#planned.get(need)!;
      upstream[need] = { stepId: need, key: p.key, outputs: r?.entry?.outputs ?? [], metrics: r?.entry?.metrics ?? {} };
    }
    return {
      specSchema: 1,
      id: step.id,
      name: step.name,
      kind: step.kind,
      kindVersion: step.kindVersion,
      projectDir: this.ctx.pipeline.projectDir,
      cacheDir: this.ctx.layout.cacheDir,
      runId: this.ctx.runId,
      logPath: path.join(this.ctx.layout.runsDir, this.ctx.runId, `${stepFileName(step.id)}.log`),
      command: step.command,
      with: step.with,
      params: step.params,
      deps: step.deps,
      outs: step.outs,
      env: step.env,
      upstream,
      resources: step.resources,
      timeoutMs: step.timeoutMs,
      cache: step.cache,
      key: planned.key,
      components: planned.components,
      consumed,
    };
  }

  #finish(
    planned: PlannedStep,
    outcome: StepOutcome,
    entry: ActionCacheEntry | null,
    durationMs: number,
    extra: { failure?: StepFailure; logPath?: string; jobId?: string },
  ): void {
    this.#results.set(planned.id, { outcome, entry });
    this.#exclusive.finished(planned.id);
    if (outcome === 'failed' && this.ctx.policy === 'no-new') this.#stopNew = true;
    const step = this.#byId.get(planned.id)!;
    this.#updateLeases(step, planned, outcome);
    const source =
      entry && outcome !== 'ran'
        ? { runId: entry.producer.runId, stepId: entry.producer.stepId, finishedAt: entry.producer.finishedAt }
        : undefined;
    const artifacts = entry ? step.outs.filter((o) => o.track).map((o) => path.join(this.ctx.pipeline.projectDir, o.path)) : [];
    this.ctx.emit({
      type: 'step-end',
      stepId: planned.id,
      outcome,
      key: planned.key,
      durationMs,
      metrics: entry?.metrics ?? {},
      ...(entry ? { curves: curveNames(entry) } : {}),
      ...(entry?.tags ? { tags: entry.tags } : {}),
      ...(source ? { source } : {}),
      artifacts,
      ...extra,
      time: Date.now(),
    });
    if (entry && (outcome === 'ran' || outcome === 'restored' || outcome === 'fresh'))
      this.#lockFile.record(planned.id, entry, outcome !== 'fresh');
    // A step's `blu.warning` tag is shown on every run that uses its result, not only the one that made it.
    const warning = entry?.tags?.['blu.warning'];
    if (warning !== undefined) this.ctx.emit({ type: 'warning', message: `${planned.id}: ${warning}`, time: Date.now() });
    const nondeterministic = outcome === 'ran' ? entry?.tags?.[NONDETERMINISTIC_TAG] : undefined;
    if (nondeterministic !== undefined)
      this.ctx.emit({
        type: 'warning',
        message: `${planned.id} is not reproducible: ${nondeterministic} (tagged ${NONDETERMINISTIC_TAG})`,
        time: Date.now(),
      });
  }

  /**
   * Settled outputs that steps of this run will still read are leased (callers hold the step's
   * lock here); a step that executes releases, as the last reader, the leases of what it read.
   */
  #updateLeases(step: StepInstance, _planned: PlannedStep, outcome: StepOutcome): void {
    const current = outcome === 'ran' || outcome === 'restored' || outcome === 'fresh';
    if (current && (this.#readersLeft.get(step.id) ?? 0) > 0) this.#leases.hold(step.outs.map((o) => o.path));
    if (!this.#readers.has(step.id)) return;
    for (const need of step.needs) {
      const left = (this.#readersLeft.get(need) ?? 0) - 1;
      this.#readersLeft.set(need, left);
      if (left === 0) this.#leases.release(this.#byId.get(need)!.outs.map((o) => o.path));
    }
  }
}

/**
 * A step's share of the resource pool. Freed as soon as its command has exited, so its commit
 * (hashing, fsyncs) overlaps the next step's command instead of holding a CPU slot; a retry takes
 * it again. take/free are idempotent.
 */
class CpuSlot {
  #release: (() => void) | null = null;

  constructor(
    private readonly pool: ResourcePool,
    private readonly need: Readonly<Record<string, number>>,
    private readonly priority: number,
  ) {}

  async take(): Promise<void> {
    this.#release ??= await this.pool.acquire(this.need, this.priority);
  }

  free(): void {
    this.#release?.();
    this.#release = null;
  }
}

/**
 * Steps planned to execute read their needs' outputs. So may a fresh or restored step whose need
 * runs or restores (a corrupt entry reruns): if that changes the bytes, it runs too (#recheckConsumed).
 * Fresh steps of a no-op read nothing, so a no-op stays without locks and leases.
 */
function readingSteps(plan: readonly PlannedStep[], byId: ReadonlyMap<string, StepInstance>): Set<string> {
  const readers = new Set<string>();
  // Outputs that may change in this run: of steps that run or restore, and (transitively) of steps
  // that read those, since the recheck may make them run. The plan is in topological order.
  const changing = new Set<string>();
  for (const p of plan) {
    if (p.action === 'skip') continue;
    const readsChanging = byId.get(p.id)!.needs.some((n) => changing.has(n));
    if (p.action === 'run' || readsChanging) readers.add(p.id);
    if (p.action === 'run' || p.action === 'restore' || readsChanging) changing.add(p.id);
  }
  return readers;
}

function readersPerStep(readers: ReadonlySet<string>, byId: ReadonlyMap<string, StepInstance>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of readers) for (const need of byId.get(id)!.needs) counts.set(need, (counts.get(need) ?? 0) + 1);
  return counts;
}

/** Reasons other than an upstream that was not fresh when planned (a recheck replaces those). */
function notUpstream(reasons: readonly StaleReason[]): StaleReason[] {
  return reasons.filter((r) => r.kind !== 'upstream-not-fresh' && r.kind !== 'upstream-output-changed');
}

function resourceNeed(step: StepInstance): Record<string, number> {
  const cpus = step.resources.cpus === 'all' ? Number.MAX_SAFE_INTEGER : (step.resources.cpus ?? 1);
  return { cpus, ...(step.resources.gpus ? { gpus: step.resources.gpus } : {}), ...(step.resources.custom ?? {}) };
}

/** Metrics with more than one point in the entry's series. */
function curveNames(entry: ActionCacheEntry): string[] {
  const points = new Map<string, number>();
  for (const p of entry.series) points.set(p.name, (points.get(p.name) ?? 0) + 1);
  return [...points].filter(([, n]) => n > 1).map(([name]) => name);
}
