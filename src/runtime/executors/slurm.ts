/**
 * Slurm executor: runs each step instance as one batch job (`sbatch` → `blu-pipe exec-step
 * <spec.json>` on a node), follows its log for protocol lines, and reads the outcome back from
 * squeue/scontrol and the action cache. The worker commits outputs itself (shared filesystem).
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { StepFailure } from '../events.js';
import type { AttemptSuccess, ExecuteOptions, Executor, StepReport } from '../executor.js';
import { err, ok, type Result } from '../../base/result.js';
import type { StepSpec } from '../step-spec.js';
import { buildSbatchArgv, renderBatchScript, safeFileStem } from './slurm-argv.js';
import { readCommittedEntry } from './slurm-cache.js';
import { cancelJobs, queueStates, showJob, submitJob, type SlurmCommandOptions } from './slurm-cli.js';
import { LogFollower, readLogTail } from './slurm-log.js';
import { AbortablePauses } from './slurm-pause.js';
import { QueuePoller } from './slurm-poller.js';
import { failureFromRecord, isActiveState, type JobRecord } from './slurm-state.js';

export interface SlurmExecutorOptions {
  /** Absolute `.blu/runs/<run-id>` directory (on the shared filesystem): specs and batch scripts go here. */
  readonly runDir: string;
  /** The blu-pipe CLI entry the nodes run, e.g. `<install>/dist/src/cli/main.js`. */
  readonly cliEntry: string;
  /** Executor-wide sbatch options (`--slurm-opt`), appended after each step's own. */
  readonly extraSbatchArgs: readonly string[];
  readonly pollMs?: number;
  /** Extra environment for the Slurm commands; sbatch exports it into the jobs. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Node binary on the nodes (default `node` from the job's PATH). */
  readonly nodeBin?: string;
  readonly maxParallel?: number;
}

const DEFAULT_POLL_MS = 1000;
// How long slurmctld may be unreachable (e.g. a restart) before a step is failed.
const CONTROLLER_GRACE_MS = 120_000;
// scancel → gone takes KillWait (default 30 s) at most, plus the controller's own delay.
const CANCEL_WAIT_MS = 90_000;
const WORKER_PREFIX = 'blu-pipe: ';

type WatchOutcome =
  | { readonly kind: 'ended'; readonly record: JobRecord | null }
  | { readonly kind: 'aborted' }
  | { readonly kind: 'unreachable'; readonly detail: string };
type PollResult = { readonly kind: 'active'; readonly state: string } | { readonly kind: 'ended'; readonly record: JobRecord | null };

export function createSlurmExecutor(options: SlurmExecutorOptions): Executor {
  return new SlurmExecutor(options);
}

class SlurmExecutor implements Executor {
  readonly name = 'slurm';
  readonly maxParallel: number;
  readonly enforcesLocalResources = false;
  private readonly pollMs: number;
  private readonly commandOptions: SlurmCommandOptions;
  /** Jobs this executor submitted that have not been seen ending: the only ones it ever cancels. */
  private readonly tracked = new Set<string>();
  private readonly cancelRequested = new Set<string>();
  private readonly poller: QueuePoller;
  private shuttingDown = false;
  private readonly pauses = new AbortablePauses();

  constructor(private readonly options: SlurmExecutorOptions) {
    this.maxParallel = options.maxParallel ?? 64;
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.commandOptions = options.env ? { env: options.env } : {};
    this.poller = new QueuePoller(() => [...this.tracked], this.pollMs / 2, this.commandOptions);
  }

  async execute(spec: StepSpec, { signal, report }: ExecuteOptions): Promise<Result<AttemptSuccess, StepFailure>> {
    if (signal.aborted || this.shuttingDown) {
      return err({ reason: 'cancelled', message: `${spec.id} was cancelled before it was submitted` });
    }
    const submitted = await this.submit(spec);
    if (!submitted.ok) return submitted;
    const jobId = submitted.value;
    report.progress({ message: `submitted as Slurm job ${jobId}` });
    const follower = new LogFollower(spec.logPath, report);
    try {
      const outcome = await this.watch(jobId, follower, signal, report);
      await follower.finish().catch(() => undefined);
      return await this.conclude(spec, jobId, outcome);
    } finally {
      this.tracked.delete(jobId);
      this.cancelRequested.delete(jobId);
    }
  }

  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    await this.cancelAndWait([...this.tracked]);
  }

  /** Writes spec + batch script and submits; the job id is tracked from here on. */
  private async submit(spec: StepSpec): Promise<Result<string, StepFailure>> {
    const files = await this.writeJobFiles(spec);
    if (!files.ok) return files;
    const argv = buildSbatchArgv({ spec, scriptPath: files.value, extraSbatchArgs: this.options.extraSbatchArgs });
    const submitted = await submitJob(argv, this.commandOptions);
    if (!submitted.ok) {
      const hint = submitted.error.kind === 'spawn' ? ' (is this a Slurm submit host with sbatch on PATH?)' : '';
      return err({ reason: 'spawn-failed', message: `${spec.id}: ${submitted.error.message}${hint}`, logPath: spec.logPath });
    }
    this.tracked.add(submitted.value);
    return ok(submitted.value);
  }

  private async writeJobFiles(spec: StepSpec): Promise<Result<string, StepFailure>> {
    const specDir = path.join(path.resolve(this.options.runDir), 'specs');
    const stem = safeFileStem(spec.id);
    const specPath = path.join(specDir, `${stem}.json`);
    const scriptPath = path.join(specDir, `${stem}.sbatch`);
    try {
      await mkdir(specDir, { recursive: true });
      // sbatch does not create the directory of --output; a missing one loses the whole log.
      await mkdir(path.dirname(spec.logPath), { recursive: true });
      await writeFile(specPath, `${JSON.stringify(spec, null, 2)}\n`);
      await writeFile(scriptPath, renderBatchScript(this.options.nodeBin ?? 'node', this.options.cliEntry, specPath));
      await chmod(scriptPath, 0o755);
      return ok(scriptPath);
    } catch (error) {
      return err({ reason: 'spawn-failed', message: `${spec.id}: cannot write job files in ${specDir}: ${String(error)}` });
    }
  }

  /** Polls until the job ends (or vanished: record null), or the run is aborted. */
  private async watch(jobId: string, follower: LogFollower, signal: AbortSignal, report: StepReport): Promise<WatchOutcome> {
    let lastState = '';
    let unreachableSince: number | null = null;
    for (;;) {
      // shuttingDown too: a job whose sbatch was in flight when shutdown() ran is cancelled here.
      if (signal.aborted || this.shuttingDown) return { kind: 'aborted' };
      await follower.drain().catch(() => undefined); // a log not yet visible is retried next round
      const polled = await this.pollOnce(jobId);
      if (!polled.ok) {
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince > CONTROLLER_GRACE_MS) return { kind: 'unreachable', detail: polled.error };
      } else if (polled.value.kind === 'ended') {
        return polled.value;
      } else {
        unreachableSince = null;
        if (polled.value.state !== lastState) report.progress({ message: `Slurm job ${jobId} ${polled.value.state}` });
        lastState = polled.value.state;
      }
      await this.pauses.pause(this.pollMs, signal);
    }
  }

  /** One round: squeue for live jobs; scontrol once a job has left the queue. */
  private async pollOnce(jobId: string): Promise<Result<PollResult, string>> {
    const queued = await this.poller.stateOf(jobId);
    if (!queued.ok) return err(queued.error.message);
    if (queued.value !== null && isActiveState(queued.value)) return ok({ kind: 'active', state: queued.value });
    const shown = await showJob(jobId, this.commandOptions);
    if (!shown.ok) return err(shown.error.message);
    if (shown.value !== null && isActiveState(shown.value.state)) return ok({ kind: 'active', state: shown.value.state });
    return ok({ kind: 'ended', record: shown.value });
  }

  private async conclude(spec: StepSpec, jobId: string, outcome: WatchOutcome): Promise<Result<AttemptSuccess, StepFailure>> {
    if (outcome.kind === 'aborted') {
      await this.cancelAndWait([jobId]);
      return this.fail(spec, { reason: 'cancelled', message: `Slurm job ${jobId} was cancelled (run aborted)`, jobId });
    }
    if (outcome.kind === 'unreachable') {
      await cancelJobs([jobId], this.commandOptions); // best effort: do not leave an orphan behind
      const message = `lost contact with slurmctld for ${CONTROLLER_GRACE_MS / 1000} s while watching Slurm job ${jobId} (${outcome.detail}); cancellation was requested but the job may still run`;
      return this.fail(spec, { reason: 'internal', message, jobId });
    }
    if (outcome.record === null) return this.concludeVanished(spec, jobId);
    const failure = failureFromRecord(outcome.record, jobId, this.cancelRequested.has(jobId));
    if (failure !== null) return this.fail(spec, failure);
    if (!spec.cache) return ok({ entry: null, jobId });
    const entry = await readCommittedEntry(spec.cacheDir, spec.key);
    if (entry !== undefined) return ok({ entry, jobId });
    return this.fail(spec, {
      reason: 'internal',
      message: `Slurm job ${jobId} COMPLETED but no action-cache entry was committed for ${spec.key} (is blu-pipe on the node the same version, and ${spec.cacheDir} shared?)`,
      jobId,
    });
  }

  /** slurmctld forgot the job (MinJobAge): the committed action-cache entry is the only witness. */
  private async concludeVanished(spec: StepSpec, jobId: string): Promise<Result<AttemptSuccess, StepFailure>> {
    const entry = spec.cache ? await readCommittedEntry(spec.cacheDir, spec.key) : undefined;
    if (entry !== undefined) return ok({ entry, jobId });
    const why = spec.cache ? 'and no action-cache entry was committed' : 'and the step is not cached, so its outcome is unknown';
    return this.fail(spec, {
      reason: 'internal',
      message: `Slurm job ${jobId} left Slurm's records before its end state was seen, ${why}`,
      jobId,
    });
  }

  private async fail(spec: StepSpec, failure: StepFailure): Promise<Result<never, StepFailure>> {
    const logTail = await readLogTail(spec.logPath).catch(() => '');
    // The worker states why it failed on its last line ("blu-pipe: …"), as in local runs.
    const last = logTail.trimEnd().split('\n').at(-1) ?? '';
    const message = last.startsWith(WORKER_PREFIX) ? `${failure.message}: ${last.slice(WORKER_PREFIX.length)}` : failure.message;
    return err({ ...failure, message, logPath: spec.logPath, logTail });
  }

  /** scancel our own jobs and wait until none of them is still queued or running. */
  private async cancelAndWait(jobIds: readonly string[]): Promise<void> {
    if (jobIds.length === 0) return;
    for (const id of jobIds) this.cancelRequested.add(id);
    await cancelJobs(jobIds, this.commandOptions);
    const deadline = Date.now() + CANCEL_WAIT_MS;
    while (Date.now() < deadline) {
      const states = await queueStates(jobIds, this.commandOptions);
      if (states.ok && [...states.value.values()].every((state) => !isActiveState(state))) return;
      await this.pauses.pause(200);
    }
  }
}
