import { ForkServer, launchDirect, type ChildEnd, type LaunchHandlers, type Launched, type LaunchTarget } from './launchers.js';

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

/** Direct launches before the fork server starts: below that its start-up (≈ 40 ms of CPU) costs more than it saves. */
const FORK_SERVER_AFTER = 16;
let directLaunches = 0;
let forkServer: ForkServer | undefined;

/** Directly at first; through the fork server once this process has many children to start (BLU_FORK_SERVER=0: never). */
function launch(target: LaunchTarget, handlers: LaunchHandlers): Launched {
  if (forkServer?.usable === true) return forkServer.launch(target, handlers);
  if (++directLaunches === FORK_SERVER_AFTER && process.env.BLU_FORK_SERVER !== '0') forkServer = new ForkServer();
  return launchDirect(target, handlers);
}

/**
 * Spawns argv directly (no shell) and resolves when it has exited and its output is drained. The
 * hot path of every `run:` step: one spawn, two pipes, no extras.
 */
export function runChild(file: string, args: readonly string[], options: ChildOptions): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    let timedOut = false;
    let cancelled = false;
    let ended = false;
    let killTimer: NodeJS.Timeout | undefined;
    let timeout: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      cancelled = true;
      stop();
    };
    const finish = (end: ChildEnd): void => {
      ended = true;
      clearTimeout(timeout);
      clearTimeout(killTimer);
      options.signal.removeEventListener('abort', onAbort);
      resolve({ ...end, timedOut, cancelled });
    };
    const child = launch({ file, args, cwd: options.cwd, env: options.env }, { onOutput: options.onOutput, onEnd: finish });
    function stop(): void {
      if (ended) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), options.killGraceMs);
      killTimer.unref();
    }
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener('abort', onAbort, { once: true });
    if (options.timeoutMs) {
      timeout = setTimeout(() => {
        timedOut = true;
        stop();
      }, options.timeoutMs);
    }
  });
}
