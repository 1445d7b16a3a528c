import { execa } from 'execa';
import type { StepFailure } from '../runtime/events.js';
import type { StepReport } from '../runtime/executor.js';
import { LineSplitter, LogTail } from '../runtime/log-tail.js';
import type { Result } from '../runtime/result.js';
import { err, ok } from '../runtime/result.js';
import { parseProtocolLine } from '../runtime/step-protocol.js';
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
  const tail = new LogTail();
  // Protocol lines go to the report only (an exec-step worker re-emits them); the rest is the log.
  const lines = new LineSplitter((line) => {
    const message = parseProtocolLine(line);
    if (message?.type === 'progress') io.report.progress(message.progress);
    else if (message?.type === 'metric') io.report.metric(message.name, message.value, message.step, message.timestamp);
    else {
      io.output(`${line}\n`);
      tail.push(`${line}\n`);
    }
  });
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
  const sink = (chunk: Buffer | string): void => {
    lines.push(chunk.toString());
  };
  child.stdout?.on('data', sink);
  child.stderr?.on('data', sink);
  const result = await child;
  lines.flush();
  if (!result.failed) return ok(undefined);
  return err(describeFailure(spec, result, tail.text()));
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
