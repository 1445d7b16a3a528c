import type { StepFailure } from '../events.js';
import type { StepReport } from '../executor.js';
import { OutputRouter } from '../exec/output-router.js';
import type { ChildOutcome } from '../exec/child.js';
import { runChild } from '../exec/child.js';
import type { Result } from '../../base/result.js';
import { err, ok } from '../../base/result.js';
import type { StepSpec } from '../step-spec.js';

export interface CommandIO {
  readonly signal: AbortSignal;
  readonly report: StepReport;
  /** Receives the command's stdout and stderr as they come (the attempt's log). */
  readonly output: (text: string) => void;
  readonly env: Readonly<Record<string, string>>;
}

const KILL_GRACE_MS = 5000;

/** Runs a `run:` step's argv (never through a shell), streaming output and protocol lines. */
export async function runCommand(spec: StepSpec, io: CommandIO): Promise<Result<void, StepFailure>> {
  const [file, ...args] = spec.command ?? [];
  if (!file) return err({ reason: 'spawn-failed', message: `step '${spec.id}' has an empty command` });
  // Protocol lines go to the report only (an exec-step worker re-emits them); the rest is the log.
  const router = new OutputRouter(io.report, io.output);
  const outcome = await runChild(file, args, {
    cwd: spec.projectDir,
    env: { ...io.env, ...spec.env },
    signal: io.signal,
    timeoutMs: spec.timeoutMs,
    killGraceMs: KILL_GRACE_MS,
    onOutput: router.push,
  });
  router.flush();
  if (outcome.exitCode === 0 && !outcome.timedOut && !outcome.cancelled) return ok(undefined);
  return err(describeFailure(spec, outcome, router.tail()));
}

function describeFailure(spec: StepSpec, r: ChildOutcome, logTail: string): StepFailure {
  const command = spec.command?.[0] ?? '';
  if (r.cancelled) return { reason: 'cancelled', message: `step '${spec.id}' was cancelled`, logTail };
  if (r.timedOut)
    return { reason: 'timeout', message: `step '${spec.id}' timed out after ${Math.round((spec.timeoutMs ?? 0) / 1000)} s`, logTail };
  if (r.spawnError) {
    return {
      reason: 'spawn-failed',
      message: `cannot start '${command}': ${r.spawnError.code === 'ENOENT' ? 'command not found (is it installed and on PATH?)' : r.spawnError.message}`,
      logTail,
    };
  }
  if (r.signal) return { reason: 'signal', message: `step '${spec.id}' was killed by ${r.signal}`, logTail };
  return {
    reason: 'exit-non-zero',
    message: `step '${spec.id}' failed: '${command}' exited with code ${r.exitCode}`,
    exitCode: r.exitCode ?? 1,
    logTail,
  };
}
