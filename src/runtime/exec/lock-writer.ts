/**
 * Writes a run's results into the pipeline's lock file. Updates are coalesced: one write at a time
 * takes everything pending, at most once per interval and once at the end. The lock file only
 * explains; the cache entries are the commit points, so a crash between two writes loses
 * explanations, never results.
 */
import path from 'node:path';
import { describeNoSpace, isNoSpace } from '../../artifacts/no-space.js';
import type { StatCache } from '../../artifacts/stat-cache.js';
import type { ActionCacheEntry } from '../../artifacts/types.js';
import type { RunEvent } from '../events.js';
import type { StepKey } from '../../artifacts/types.js';
import { type LockEntry, type LockRef, type LockSection, prunedMessage, updateLockFile } from '../plan/lockfile.js';

/**
 * Whether the workspace holds exactly these outputs now, through the stat cache (one lstat per
 * unchanged file): what a lock entry must describe when it is written (see updateLockFile).
 */
export async function workspaceHolds(
  stat: StatCache,
  projectDir: string,
  outputs: readonly { readonly path: string; readonly hash: string }[],
): Promise<boolean> {
  for (const out of outputs) {
    const now = await stat.hashPath(path.join(projectDir, out.path));
    if (now.type === 'missing' || now.hash !== out.hash) return false;
  }
  return true;
}

/** How long lock-file updates gather before one write (a 1000-step run writes it a few times, not 1000). */
const LOCK_WRITE_INTERVAL_MS = 1000;

export interface LockWriterOptions {
  readonly ref: LockRef;
  /** The section as planned: a result it already records is not written again. */
  readonly previous: LockSection;
  /** Step ids of the pipeline, when the section's entries of other instances are to be dropped at the first write. */
  readonly pruneTo: ReadonlySet<string> | null;
  /** Makes the directory entries of committed cache entries durable (the lock never names one that is not). */
  readonly flushDirs: () => Promise<void>;
  /** Whether the workspace holds exactly these outputs now (see updateLockFile). */
  readonly inWorkspace: (entry: LockEntry) => Promise<boolean>;
  readonly emit: (event: RunEvent) => void;
}

export class LockWriter {
  readonly #pending = new Map<string, LockEntry>();
  #writer: Promise<void> | null = null;
  #prunePending: boolean;
  #finishing = false;
  /** Ends the wait between writes early (set while a write is pending). */
  #wake: (() => void) | null = null;

  constructor(readonly options: LockWriterOptions) {
    const keep = options.pruneTo;
    this.#prunePending = keep !== null && Object.keys(options.previous.steps).some((id) => !keep.has(id));
  }

  /**
   * Queues a committed result for the lock file. `wrote`: this run has just written the outputs (ran
   * or restored); then it is recorded even when the lock already recorded it at planning, since
   * another run may have recorded its own result (and written its bytes) in between.
   */
  record(stepId: string, entry: ActionCacheEntry, wrote: boolean): void {
    const previous = this.options.previous.steps[stepId];
    if (!wrote && previous && previous.key === entry.key && previous.runId === entry.producer.runId) return;
    const { key, components, outputs, consumed, metrics, producer } = entry;
    this.#pending.set(stepId, {
      key: key as StepKey,
      components,
      outputs,
      ...(consumed ? { consumed } : {}),
      metrics,
      runId: producer.runId,
    });
    this.#writer ??= this.#write();
  }

  /** Writes what is pending now (a run that records nothing still prunes) and waits for it. */
  async finish(): Promise<void> {
    this.#finishing = true;
    if (this.#prunePending) this.#writer ??= this.#write();
    this.#wake?.();
    await this.#writer;
  }

  async #write(): Promise<void> {
    while (this.#pending.size > 0 || this.#prunePending) {
      if (!this.#finishing) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, LOCK_WRITE_INTERVAL_MS);
          this.#wake = () => (clearTimeout(timer), resolve());
        });
      }
      this.#wake = null;
      const batch = Object.fromEntries(this.#pending);
      this.#pending.clear();
      await this.options.flushDirs();
      // Only the first write prunes (the section then matches the pipeline), so the run says so once.
      const keep = this.#prunePending ? this.options.pruneTo : null;
      this.#prunePending = false;
      const pruned = await updateLockFile(this.options.ref, batch, keep, this.options.inWorkspace).catch(
        async (error: unknown) => (await this.#failed(error), []),
      );
      if (pruned.length > 0) this.options.emit({ type: 'warning', message: prunedMessage(this.options.ref, pruned), time: Date.now() });
    }
    this.#writer = null;
  }

  /** The steps' results are committed in the cache; only the record of them could not be written. */
  async #failed(error: unknown): Promise<void> {
    const file = this.options.ref.file;
    const why = isNoSpace(error)
      ? await describeNoSpace('updating the lock file', file, null)
      : error instanceof Error
        ? error.message
        : String(error);
    this.options.emit({ type: 'warning', message: `could not update ${file}: ${why}`, time: Date.now() });
  }
}
