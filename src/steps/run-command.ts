import type { StepFailure } from '../runtime/events.js';
import type { StepReport } from '../runtime/executor.js';
import { OutputRouter } from '../runtime/output-router.js';
import type { Result } from '../runtime/result.js';
import { err, ok } from '../runtime/result.js';
import type { StepSpec } from '../runtime/step-spec.js';

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
  const { execa } = await import('execa');
  const child = execa(file, args, {
    cwd: spec.projectDir,
    env: { ...io.env, ...spec.env },
    extendEnv: false,
    stdin: 'ignore',
    reject: false,
    cancelSignal: io.signal,
    forceKillAfterDelay: KILL_GRACE_MS,
    ...(spec.timeoutMs ? { timeout: spec.timeoutMs } : {}),
    buffer: false,
    encoding: 'utf8',
  });
  child.stdout?.on('data', router.push);
  child.stderr?.on('data', router.push);
  const result = await child;
  router.flush();
  if (!result.failed) return ok(undefined);
  return err(describeFailure(spec, result, router.tail()));
}

interface ExecaOutcome {
  readonly exitCode?: number;
  readonly signal?: string;
  readonly timedOut: boolean;
  readonly isCanceled: boolean;
  readonly shortMessage?: string;
  readonly code?: string;
}

function describeFailure(spec: StepSpec, r: ExecaOutcome, logTail: string): StepFailure {
  const command = spec.command?.[0] ?? '';
  if (r.isCanceled) return { reason: 'cancelled', message: `step '${spec.id}' was cancelled`, logTail };
  if (r.timedOut) return { reason: 'timeout', message: `step '${spec.id}' timed out after ${Math.round((spec.timeoutMs ?? 0) / 1000)} s`, logTail };
  if (r.code === 'ENOENT' || (r.exitCode === undefined && !r.signal)) {
    return { reason: 'spawn-failed', message: `cannot start '${command}': ${r.code === 'ENOENT' ? 'command not found (is it installed and on PATH?)' : (r.shortMessage ?? 'unknown error')}`, logTail };
  }
  if (r.signal) return { reason: 'signal', message: `step '${spec.id}' was killed by ${r.signal}`, logTail };
  return { reason: 'exit-non-zero', message: `step '${spec.id}' failed: '${command}' exited with code ${r.exitCode}`, exitCode: r.exitCode ?? 1, logTail };
}
