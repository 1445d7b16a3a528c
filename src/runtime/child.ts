import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

export interface ChildOptions {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  readonly timeoutMs?: number | null | undefined;
  /** SIGTERM first; SIGKILL after this grace if the child is still alive. */
  readonly killGraceMs: number;
  /** stdout and stderr chunks, in arrival order. */
  readonly onOutput: (chunk: string) => void;
}

/** How a child ended: exactly one of exitCode / signal / spawnError is set. */
export interface ChildOutcome {
  readonly exitCode?: number;
  readonly signal?: string;
  readonly spawnError?: { readonly code?: string; readonly message: string };
  readonly timedOut: boolean;
  readonly cancelled: boolean;
}

/** Children still running; killed if this process exits, so none outlive an interrupted run. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/**
 * Spawns argv directly (no shell) and resolves when it has exited and its output is drained. The
 * hot path of every `run:` step, so it is plain child_process: one spawn, two pipes, no extras.
 */
export function runChild(file: string, args: readonly string[], options: ChildOptions): Promise<ChildOutcome> {
  installExitHook();
  return new Promise((resolve) => {
    let timedOut = false;
    let cancelled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    const stop = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), options.killGraceMs);
      killTimer.unref();
    };
    const onAbort = (): void => {
      cancelled = true;
      stop();
    };
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener('abort', onAbort, { once: true });
    const timeout = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          stop();
        }, options.timeoutMs)
      : undefined;
    child.stdout.setEncoding('utf8').on('data', options.onOutput);
    child.stderr.setEncoding('utf8').on('data', options.onOutput);
    const finish = (outcome: Omit<ChildOutcome, 'timedOut' | 'cancelled'>): void => {
      live.delete(child);
      clearTimeout(timeout);
      clearTimeout(killTimer);
      options.signal.removeEventListener('abort', onAbort);
      resolve({ ...outcome, timedOut, cancelled });
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      // 'error' without a pid means the spawn itself failed (ENOENT, EACCES); 'close' may not follow.
      if (child.pid === undefined) finish({ spawnError: { ...(error.code ? { code: error.code } : {}), message: error.message } });
    });
    child.once('close', (code, signal) => {
      if (child.pid === undefined) return;
      finish(signal !== null ? { signal } : { exitCode: code ?? 1 });
    });
  });
}
