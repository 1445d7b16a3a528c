/**
 * One `squeue` call per poll interval for all jobs of this executor, instead of one per job:
 * with 64 steps in flight, per-job polling would hammer slurmctld for no gain.
 */
import type { Result } from '../../base/result.js';
import { ok } from '../../base/result.js';
import { queueStates, type CommandError, type SlurmCommandOptions } from './slurm-cli.js';

interface Snapshot {
  readonly ids: ReadonlySet<string>;
  readonly startedAt: number;
  readonly states: Promise<Result<Map<string, string>, CommandError>>;
}

export class QueuePoller {
  private latest: Snapshot | null = null;

  constructor(
    private readonly trackedIds: () => readonly string[],
    private readonly freshForMs: number,
    private readonly commandOptions: SlurmCommandOptions,
  ) {}

  /** The job's queue state, or null when it is no longer in the queue (finished or forgotten). */
  async stateOf(jobId: string): Promise<Result<string | null, CommandError>> {
    const snapshot = this.snapshotCovering(jobId);
    const states = await snapshot.states;
    return states.ok ? ok(states.value.get(jobId) ?? null) : states;
  }

  private snapshotCovering(jobId: string): Snapshot {
    const current = this.latest;
    if (current?.ids.has(jobId) && Date.now() - current.startedAt < this.freshForMs) return current;
    const ids = new Set([...this.trackedIds(), jobId]);
    const snapshot: Snapshot = { ids, startedAt: Date.now(), states: queueStates([...ids], this.commandOptions) };
    this.latest = snapshot;
    return snapshot;
  }
}
