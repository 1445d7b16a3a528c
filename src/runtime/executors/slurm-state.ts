/** Reading Slurm's job states (squeue, `scontrol show job -o`) and mapping them to step failures. */
import type { FailureReason, StepFailure } from '../events.js';

/** States in which a job is still queued or running: keep polling. */
const ACTIVE_STATES = new Set([
  'PENDING',
  'CONFIGURING',
  'RUNNING',
  'COMPLETING',
  'SUSPENDED',
  'REQUEUED',
  'REQUEUE_HOLD',
  'REQUEUE_FED',
  'RESIZING',
  'SIGNALING',
  'STAGE_OUT',
  'STOPPED',
  'RESV_DEL_HOLD',
]);

export function isActiveState(state: string): boolean {
  return ACTIVE_STATES.has(state);
}

export interface JobRecord {
  readonly state: string;
  readonly reason: string;
  readonly exitCode: number | null;
  readonly signal: number | null;
}

function field(line: string, name: string): string | null {
  const match = new RegExp(`(?:^|\\s)${name}=(\\S*)`).exec(line);
  return match?.[1] ?? null;
}

/** Parses the one-line `scontrol show job -o <id>` output; null when it has no JobState. */
export function parseScontrolJob(line: string): JobRecord | null {
  const state = field(line, 'JobState');
  if (state === null || state === '') return null;
  const exit = /^(\d+):(\d+)$/.exec(field(line, 'ExitCode') ?? '');
  return {
    state,
    reason: field(line, 'Reason') ?? 'None',
    exitCode: exit ? Number(exit[1]) : null,
    signal: exit ? Number(exit[2]) : null,
  };
}

/** Parses `squeue -h -o '%i|%T'` output into job id → state. */
export function parseQueueStates(stdout: string): Map<string, string> {
  const states = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const [id, state] = line.trim().split('|');
    if (id && state) states.set(id, state);
  }
  return states;
}

interface Classified {
  readonly reason: FailureReason;
  readonly message: string;
}

function describeExit(record: JobRecord): string {
  return `ExitCode=${record.exitCode ?? '?'}:${record.signal ?? '?'}, Reason=${record.reason}`;
}

/** Failure class for a terminal state other than COMPLETED (`cancelledByUs`: our own scancel). */
function classify(record: JobRecord, jobId: string, cancelledByUs: boolean): Classified {
  const where = `Slurm job ${jobId}`;
  switch (record.state) {
    case 'FAILED':
      // A job killed by a signal ends FAILED with ExitCode 0:<signal>.
      if (record.exitCode === 0 && (record.signal ?? 0) > 0) {
        return { reason: 'signal', message: `${where} was killed by signal ${record.signal} (${describeExit(record)})` };
      }
      return { reason: 'exit-non-zero', message: `${where} exited with code ${record.exitCode ?? '?'} (${describeExit(record)})` };
    case 'CANCELLED':
      // Only our own scancel means "cancelled"; someone else's is a failure of the step, so that
      // the run does not end "succeeded" with a step that never finished.
      if (cancelledByUs) return { reason: 'cancelled', message: `${where} was cancelled` };
      return { reason: 'signal', message: `${where} was cancelled outside blu-pipe (scancel or an administrator)` };
    case 'TIMEOUT':
    case 'DEADLINE':
      return { reason: 'timeout', message: `${where} hit its time limit (${record.state}, ${describeExit(record)})` };
    case 'OUT_OF_MEMORY':
      return { reason: 'out-of-memory', message: `${where} ran out of memory; raise resources.mem` };
    case 'NODE_FAIL':
    case 'BOOT_FAIL':
      return { reason: 'node-fail', message: `${where} was lost to a node failure (${record.state}, Reason=${record.reason})` };
    case 'PREEMPTED':
      return {
        reason: 'signal',
        message: `${where} was preempted by a higher-priority job and killed; re-run it, or choose a partition without preemption`,
      };
    default:
      return { reason: 'internal', message: `${where} ended in an unexpected state ${record.state} (${describeExit(record)})` };
  }
}

/** Maps a terminal job record to a step failure, or null for COMPLETED. */
export function failureFromRecord(
  record: JobRecord,
  jobId: string,
  cancelledByUs: boolean,
): Omit<StepFailure, 'logPath' | 'logTail'> | null {
  if (record.state === 'COMPLETED') return null;
  const { reason, message } = classify(record, jobId, cancelledByUs);
  const exitCode = reason === 'exit-non-zero' && record.exitCode !== null ? { exitCode: record.exitCode } : {};
  return { reason, message, jobId, ...exitCode };
}
