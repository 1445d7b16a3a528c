/**
 * Output leases: how concurrent runs of different configurations share one workspace.
 *
 * A run holds a lease on a step's outputs from the moment they are settled for it (ran, restored,
 * or checked fresh) until the last of its steps that will read them has finished. A run about to
 * write those outputs (run or restore a step) first waits until no other live run holds a lease on
 * them. Taking a lease and writing both happen under the step's lock, so a lease never covers a
 * file another run is rewriting.
 *
 * Leases are one append-only log per run, `<leasesDir>/<run id>.leases`: a first line naming the
 * holder (run, pid, host, since), then `+"path"` when the run takes a lease and `-"path"` when it
 * lets go. Taking or dropping a lease is one small append to a file the run keeps open; a file per
 * lease cost a create and an unlink, about 0.3 ms of a step's main-thread time here. A reader
 * replays a foreign log and counts complete lines only. A line still being appended is either a
 * release (read as still held: the reader waits one more poll) or a lease taken under a step lock
 * that the reader, which checks under the same lock, cannot be holding.
 *
 * Liveness follows step locks (src/base/liveness.ts): a run beats by touching its log's mtime
 * every staleAfterMs/3 while it holds leases, so a long step keeps them. A reader removes the log
 * of a holder that is gone: on its own host a dead pid, on any host a heartbeat older than
 * staleAfterMs (a run on another host that crashed or lost its connection to the shared disk). A
 * holder whose log was removed while it was alive (silent past staleAfterMs) writes it again at
 * its next beat.
 *
 * Waits are published too: `?[paths]` when the run starts waiting to write those paths, `?[]`
 * when it stops. Two runs can each hold a lease the other waits for (each still has a reader of
 * what the other wants to rewrite); then neither could move. The order of run ids (they start with
 * the start time) breaks such cycles: a waiting run gives up the leases an older waiting run wants,
 * unless a step of it is reading them right now (`inUse`, a finite wait), and its readers settle
 * those outputs again before they read (the scheduler's #resettle). The oldest run in a cycle
 * therefore never waits on a run that waits, and every run finishes.
 *
 * Directories in the leases directory are leases of older layouts (`<path hash>/<run id>.json`,
 * then `<run id>/<path hash>.json`), which this version neither writes nor reads: a reader
 * removes them.
 */
import { type Dirent, closeSync, fstatSync, futimesSync, readFileSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { openCreatingDir } from '../../base/files.js';
import { holderGone, liveness, startHeartbeat, type Liveness } from '../../base/liveness.js';

export interface LeaseHolder {
  readonly runId: string;
  readonly pid: number;
  readonly host: string;
  readonly path: string;
  readonly since: string;
}

type Holder = Omit<LeaseHolder, 'path'>;

const POLL_MS = 100;
const SUFFIX = '.leases';

export class OutputLeases {
  readonly #held = new Set<string>();
  readonly #file: string;
  readonly #runId: string;
  #fd: number | null = null;
  #stopBeating: (() => void) | null = null;
  /** What this run's steps wait for now, per wait (written again with the leases when the log is rewritten). */
  readonly #waits = new Map<symbol, readonly string[]>();

  /** `judge`: this host's id and the heartbeat timeout (injected by tests that play two hosts). */
  constructor(
    private readonly dir: string,
    runId: string,
    private readonly judge: Liveness = liveness(),
  ) {
    this.#runId = runId.replace(/[^A-Za-z0-9._-]/g, '_');
    this.#file = path.join(dir, `${this.#runId}${SUFFIX}`);
  }

  /** Records this run's lease on each path (idempotent). */
  hold(paths: readonly string[]): void {
    const taken = paths.filter((p) => !this.#held.has(p));
    if (taken.length === 0) return;
    this.#append(taken.map((p) => `+${JSON.stringify(p)}\n`).join(''));
    for (const p of taken) this.#held.add(p);
  }

  /** Whether this run holds a lease on every one of the paths. */
  holdsAll(paths: readonly string[]): boolean {
    return paths.every((p) => this.#held.has(p));
  }

  release(paths: readonly string[]): void {
    const dropped = paths.filter((p) => this.#held.delete(p));
    if (dropped.length > 0) this.#append(dropped.map((p) => `-${JSON.stringify(p)}\n`).join(''));
  }

  releaseAll(): void {
    this.#held.clear();
    this.#closeLog();
    rmSync(this.#file, { force: true });
  }

  /** The first live lease another run holds on any of the paths. Logs of runs that are gone are removed. */
  foreignHolder(paths: readonly string[]): LeaseHolder | undefined {
    for (const file of this.#foreignLogs()) {
      const log = readLog(file);
      if (log === undefined) continue;
      const held = paths.find((p) => log.held.has(p));
      if (held === undefined) continue;
      const beatMs = lastBeat(file);
      if (beatMs === undefined) continue; // just removed
      if (!holderGone(log.holder, beatMs, this.judge)) return { ...log.holder, path: held };
      rmSync(file, { force: true }); // one process held them all
    }
    return undefined;
  }

  /**
   * Waits until no other run leases any of the paths; false when aborted first. While it waits,
   * leases that an older waiting run wants are given up (see the file comment), except those
   * `yieldable` refuses (a step reading them now); `onYield` gets the paths given up.
   */
  async waitUntilFree(
    paths: readonly string[],
    signal: AbortSignal,
    onWait: (holder: LeaseHolder) => void,
    yielding?: { readonly yieldable: (path: string) => boolean; readonly onYield: (paths: readonly string[]) => void },
  ): Promise<boolean> {
    let announced = false;
    // Published only while this run holds leases: a run holding none can be in no cycle.
    const wait = Symbol('wait');
    try {
      for (;;) {
        if (signal.aborted) return false;
        const holder = this.foreignHolder(paths);
        if (holder === undefined) return true;
        if (!announced) onWait(holder);
        announced = true;
        if (!this.#waits.has(wait) && this.#held.size > 0) this.#publishWaits(wait, paths);
        if (yielding) this.#yieldToOlder(yielding.yieldable, yielding.onYield);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    } finally {
      if (this.#waits.has(wait)) this.#publishWaits(wait, null);
    }
  }

  /** Adds (or with null removes) one wait and writes what all of this run's steps wait for. */
  #publishWaits(wait: symbol, paths: readonly string[] | null): void {
    if (paths === null) this.#waits.delete(wait);
    else this.#waits.set(wait, paths);
    this.#append(`?${JSON.stringify(this.#waitedPaths())}\n`);
  }

  #waitedPaths(): string[] {
    return [...new Set([...this.#waits.values()].flat())];
  }

  /** Gives up the leases older waiting runs want (and this run may give up). */
  #yieldToOlder(yieldable: (path: string) => boolean, onYield: (paths: readonly string[]) => void): void {
    if (this.#held.size === 0) return;
    const wanted = new Set<string>();
    for (const file of this.#foreignLogs()) {
      const log = readLog(file);
      if (log === undefined || !(log.holder.runId < this.#runId)) continue;
      for (const p of log.waiting) if (this.#held.has(p) && yieldable(p)) wanted.add(p);
    }
    if (wanted.size === 0) return;
    this.release([...wanted]);
    onYield([...wanted]);
  }

  /** Opens the log on the first lease (its directory with it), writes the holder line first and starts beating. */
  #append(text: string): void {
    if (this.#fd === null) {
      const holder: Holder = { runId: this.#runId, pid: process.pid, host: this.judge.host, since: new Date().toISOString() };
      this.#fd = openCreatingDir(this.#file, 'a');
      writeSync(this.#fd, `${JSON.stringify(holder)}\n`);
      this.#stopBeating ??= startHeartbeat(() => this.#beat(), this.judge.staleAfterMs);
    }
    writeSync(this.#fd, text);
  }

  /** Touches the log; if a reader removed it (it judged us gone), writes it again with what we hold. */
  #beat(): void {
    if (this.#fd === null) return;
    try {
      const now = new Date();
      futimesSync(this.#fd, now, now);
      if (fstatSync(this.#fd).nlink > 0) return;
      closeSync(this.#fd);
      this.#fd = null;
      const waits = this.#waits.size > 0 ? `?${JSON.stringify(this.#waitedPaths())}\n` : '';
      if (this.#held.size > 0 || waits !== '') this.#append([...this.#held].map((p) => `+${JSON.stringify(p)}\n`).join('') + waits);
    } catch {
      // A missed beat is harmless unless they all fail, in which case the leases rightly expire.
    }
  }

  #closeLog(): void {
    this.#stopBeating?.();
    this.#stopBeating = null;
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  /** The other runs' logs; directories of older layouts are removed on the way. */
  #foreignLogs(): string[] {
    let entries: Dirent[];
    try {
      entries = readdirSync(this.dir, { withFileTypes: true });
    } catch {
      return [];
    }
    const logs: string[] = [];
    for (const entry of entries) {
      const file = path.join(this.dir, entry.name);
      if (entry.isDirectory()) rmSync(file, { recursive: true, force: true });
      else if (entry.name.endsWith(SUFFIX) && file !== this.#file) logs.push(file);
    }
    return logs;
  }
}

/** The holder, the paths it leases now and those it waits for; undefined while the holder line is incomplete. */
function readLog(file: string): { holder: Holder; held: Set<string>; waiting: string[] } | undefined {
  let lines: string[];
  try {
    lines = readFileSync(file, 'utf8').split('\n');
  } catch {
    return undefined; // just removed
  }
  lines.pop(); // the text after the last newline: empty, or a line still being written
  const holder = parseHolder(lines[0]);
  if (holder === undefined) return undefined;
  const held = new Set<string>();
  let waiting: string[] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith('?')) {
      waiting = parsePaths(line.slice(1));
      continue;
    }
    const p = parsePath(line.slice(1));
    if (p === undefined) continue;
    if (line.startsWith('+')) held.add(p);
    else held.delete(p);
  }
  return { holder, held, waiting };
}

function parsePaths(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((p): p is string => typeof p === 'string') : [];
  } catch {
    return [];
  }
}

/** The holder's last heartbeat: its log's mtime (every append and every beat sets it). */
function lastBeat(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

function parsePath(text: string): string | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

function parseHolder(line: string | undefined): Holder | undefined {
  try {
    const value = JSON.parse(line ?? '') as Partial<Holder>;
    return typeof value.pid === 'number' && typeof value.host === 'string' && typeof value.runId === 'string'
      ? (value as Holder)
      : undefined;
  } catch {
    return undefined;
  }
}
