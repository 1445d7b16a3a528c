/**
 * Two ways to start a step's child process, with one interface.
 *
 * - `launchDirect`: child_process.spawn from this process.
 * - `ForkServer`: a small helper process spawns the children and relays their output. fork(2) costs
 *   in proportion to the forking process's resident memory (page tables to copy, pages to mark
 *   copy-on-write and fault back): measured here, +1 ms of the parent's CPU and +2.5 ms of wall per
 *   spawn per 100 MB. blu-pipe holds 140 MB while it runs a 1000-step pipeline; the helper about 50.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** How a child ended: exactly one field is set. */
export type ChildEnd =
  | { readonly exitCode: number }
  | { readonly signal: string }
  | { readonly spawnError: { readonly code?: string; readonly message: string } };

export interface LaunchHandlers {
  /** stdout and stderr chunks, in arrival order. */
  readonly onOutput: (chunk: string) => void;
  /** Once, after the output is drained. */
  readonly onEnd: (end: ChildEnd) => void;
}

export interface LaunchTarget {
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

export interface Launched {
  kill(signal: NodeJS.Signals): void;
}

/** Children started by launchDirect that still run; killed if this process exits. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export function launchDirect(target: LaunchTarget, handlers: LaunchHandlers): Launched {
  installExitHook();
  let child: ChildProcess;
  try {
    child = spawn(target.file, target.args, { cwd: target.cwd, env: target.env, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    // Arguments spawn refuses outright (a NUL byte in an argument).
    queueMicrotask(() => handlers.onEnd({ spawnError: describeSpawnError(error) }));
    return { kill: () => undefined };
  }
  live.add(child);
  child.stdout?.setEncoding('utf8').on('data', handlers.onOutput);
  child.stderr?.setEncoding('utf8').on('data', handlers.onOutput);
  child.once('error', (error) => {
    // 'error' without a pid means the spawn itself failed (ENOENT, EACCES); 'close' may not follow.
    if (child.pid !== undefined) return;
    live.delete(child);
    handlers.onEnd({ spawnError: describeSpawnError(error) });
  });
  child.once('close', (code, signal) => {
    if (child.pid === undefined) return;
    live.delete(child);
    handlers.onEnd(signal !== null ? { signal } : { exitCode: code ?? 1 });
  });
  return {
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

function describeSpawnError(error: unknown): { code?: string; message: string } {
  const e = error as NodeJS.ErrnoException;
  return { ...(typeof e.code === 'string' ? { code: e.code } : {}), message: e instanceof Error ? e.message : String(error) };
}

/** Messages between blu-pipe and the helper. */
type ToHelper =
  | ({ readonly t: 'spawn'; readonly id: number } & LaunchTarget)
  | { readonly t: 'kill'; readonly id: number; readonly signal: NodeJS.Signals };
type FromHelper =
  | { readonly t: 'ready' }
  | { readonly t: 'started'; readonly id: number; readonly pid: number }
  | { readonly t: 'output'; readonly id: number; readonly chunk: string }
  | { readonly t: 'end'; readonly id: number; readonly end: ChildEnd };

/**
 * The helper's program (CommonJS, passed with -e). It ignores SIGINT and SIGTERM: blu-pipe decides
 * how its children stop. When blu-pipe goes away (its IPC channel closes), it kills its children.
 */
const HELPER_SOURCE = `
const { spawn } = require('node:child_process');
const children = new Map();
const send = (m) => process.connected && process.send(m);
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.on('disconnect', () => {
  for (const child of children.values()) child.kill('SIGKILL');
  process.exit(0);
});
const fail = (id, e) => send({ t: 'end', id, end: { spawnError: { ...(e.code ? { code: e.code } : {}), message: e.message } } });
process.on('message', (m) => {
  if (m.t === 'kill') return void children.get(m.id)?.kill(m.signal);
  let child;
  try {
    child = spawn(m.file, m.args, { cwd: m.cwd, env: m.env, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    return fail(m.id, e);
  }
  child.once('error', (e) => { if (child.pid === undefined) fail(m.id, e); });
  if (child.pid === undefined) return;
  children.set(m.id, child);
  send({ t: 'started', id: m.id, pid: child.pid });
  const output = (chunk) => send({ t: 'output', id: m.id, chunk });
  child.stdout.setEncoding('utf8').on('data', output);
  child.stderr.setEncoding('utf8').on('data', output);
  child.once('close', (code, signal) => {
    children.delete(m.id);
    send({ t: 'end', id: m.id, end: signal !== null ? { signal } : { exitCode: code ?? 1 } });
  });
});
send({ t: 'ready' });
`;

/**
 * The helper process. Until it has said it is ready (≈ 40 ms), and if it ever fails, `usable` is
 * false and callers launch directly, so a short pipeline never waits for it.
 */
export class ForkServer {
  readonly #helper: ChildProcess;
  readonly #pending = new Map<number, LaunchHandlers>();
  readonly #pids = new Map<number, number>();
  #ready = false;
  #failed = false;
  #nextId = 1;

  constructor() {
    // A small young generation: the helper's own allocations then touch few pages between forks.
    this.#helper = spawn(process.execPath, ['--max-semi-space-size=1', '-e', HELPER_SOURCE], {
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    this.#helper.on('message', (m: FromHelper) => this.#receive(m));
    this.#helper.once('error', () => this.#fail('could not start'));
    this.#helper.once('exit', (code, signal) => this.#fail(`exited (${signal ?? `code ${code}`})`));
    process.once('exit', () => this.#killNow());
    this.#idle();
  }

  get usable(): boolean {
    return this.#ready && !this.#failed;
  }

  launch(target: LaunchTarget, handlers: LaunchHandlers): Launched {
    const id = this.#nextId++;
    this.#pending.set(id, handlers);
    this.#helper.ref();
    this.#helper.channel?.ref();
    this.#send({ t: 'spawn', id, file: target.file, args: target.args, cwd: target.cwd, env: target.env });
    return {
      kill: (signal) => {
        if (this.#pending.has(id)) this.#send({ t: 'kill', id, signal });
      },
    };
  }

  /** A channel that closed before the helper's exit was seen fails like the exit itself. */
  #send(message: ToHelper): void {
    if (this.#failed) return;
    try {
      this.#helper.send(message);
    } catch {
      this.#fail('lost its channel');
    }
  }

  #receive(m: FromHelper): void {
    if (m.t === 'ready') return void (this.#ready = true);
    const handlers = this.#pending.get(m.id);
    if (handlers === undefined) return;
    if (m.t === 'started') return void this.#pids.set(m.id, m.pid);
    if (m.t === 'output') return handlers.onOutput(m.chunk);
    this.#pending.delete(m.id);
    this.#pids.delete(m.id);
    if (this.#pending.size === 0) this.#idle();
    handlers.onEnd(m.end);
  }

  /**
   * When blu-pipe exits: its children and the helper go at once, so nothing outlives the command.
   * (If blu-pipe is killed outright, the helper sees its channel close and does the same.)
   */
  #killNow(): void {
    for (const pid of [...this.#pids.values(), ...(this.#helper.pid === undefined ? [] : [this.#helper.pid])]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Not waited for: see #killNow. */
  #idle(): void {
    this.#helper.unref();
    this.#helper.channel?.unref();
  }

  #fail(why: string): void {
    if (this.#failed) return;
    this.#failed = true;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const handlers of pending) handlers.onEnd({ spawnError: { message: `blu-pipe's process launcher ${why}` } });
  }
}
