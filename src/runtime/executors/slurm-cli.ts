/** Thin, typed wrappers over the Slurm client commands (argv only, never a shell). */
import { execa } from 'execa';
import { err, ok, type Result } from '../../base/result.js';
import { parseQueueStates, parseScontrolJob, type JobRecord } from './slurm-state.js';

export interface SlurmCommandOptions {
  /** Extra environment for the client commands; sbatch exports it into the job (`--export=ALL`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

interface CommandOutput {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A client command that could not be started (missing binary) or timed out. */
export interface CommandError {
  readonly kind: 'spawn' | 'exit';
  readonly message: string;
}

// Client calls talk to slurmctld; a hung controller must not hang the run forever.
const CLIENT_TIMEOUT_MS = 60_000;

async function runClient(
  command: string,
  args: readonly string[],
  options: SlurmCommandOptions,
): Promise<Result<CommandOutput, CommandError>> {
  const result = await execa(command, args, {
    reject: false,
    env: options.env ?? {},
    timeout: CLIENT_TIMEOUT_MS,
    stdin: 'ignore',
  });
  if (result.exitCode === undefined) {
    return err({ kind: 'spawn', message: `${command}: ${result.shortMessage}` });
  }
  return ok({ exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr });
}

/** `sbatch --parsable …` → job id. */
export async function submitJob(argv: readonly string[], options: SlurmCommandOptions): Promise<Result<string, CommandError>> {
  const run = await runClient('sbatch', argv, options);
  if (!run.ok) return run;
  const { exitCode, stdout, stderr } = run.value;
  // --parsable prints "<id>" or "<id>;<cluster>" on a federated/multi-cluster setup.
  const jobId = stdout.trim().split(';')[0] ?? '';
  if (exitCode !== 0 || !/^\d+$/.test(jobId)) {
    return err({ kind: 'exit', message: `sbatch failed (exit ${exitCode}): ${stderr.trim() || stdout.trim()}` });
  }
  return ok(jobId);
}

/** One `squeue` call for many jobs: id → state for those still in the queue. */
export async function queueStates(
  jobIds: readonly string[],
  options: SlurmCommandOptions,
): Promise<Result<Map<string, string>, CommandError>> {
  if (jobIds.length === 0) return ok(new Map());
  const run = await runClient('squeue', ['-h', '-o', '%i|%T', '-j', jobIds.join(',')], options);
  if (!run.ok) return run;
  const { exitCode, stdout, stderr } = run.value;
  // A single id that slurmctld already forgot is an error for squeue; for us it is "not queued".
  if (exitCode !== 0 && /Invalid job id/i.test(stderr)) return ok(new Map());
  if (exitCode !== 0) return err({ kind: 'exit', message: `squeue failed (exit ${exitCode}): ${stderr.trim()}` });
  return ok(parseQueueStates(stdout));
}

/** `scontrol show job -o <id>`; ok(null) when slurmctld no longer knows the job (MinJobAge expired). */
export async function showJob(jobId: string, options: SlurmCommandOptions): Promise<Result<JobRecord | null, CommandError>> {
  const run = await runClient('scontrol', ['show', 'job', '-o', jobId], options);
  if (!run.ok) return run;
  const { exitCode, stdout, stderr } = run.value;
  if (exitCode !== 0 && /Invalid job id/i.test(stderr)) return ok(null);
  if (exitCode !== 0) return err({ kind: 'exit', message: `scontrol failed (exit ${exitCode}): ${stderr.trim()}` });
  return ok(parseScontrolJob(stdout));
}

/** `scancel <ids…>`; ids that already ended are not an error for us. */
export async function cancelJobs(jobIds: readonly string[], options: SlurmCommandOptions): Promise<Result<void, CommandError>> {
  if (jobIds.length === 0) return ok(undefined);
  const run = await runClient('scancel', jobIds, options);
  if (!run.ok) return run;
  const { exitCode, stderr } = run.value;
  if (exitCode !== 0 && !/Invalid job id|already completing or completed/i.test(stderr)) {
    return err({ kind: 'exit', message: `scancel failed (exit ${exitCode}): ${stderr.trim()}` });
  }
  return ok(undefined);
}
