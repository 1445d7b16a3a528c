/**
 * Output leases: how concurrent runs of different configurations share one workspace.
 *
 * A run holds a lease on a step's outputs from the moment they are settled for it (ran, restored,
 * or checked fresh) until the last of its steps that will read them has finished. A run about to
 * write those outputs (run or restore a step) first waits until no other live run holds a lease on
 * them. Taking a lease and writing both happen under the step's lock, so a lease never covers a
 * file another run is rewriting.
 *
 * Leases are files: `<leasesDir>/<run id>/<path hash>.json`. One directory per run, so holding a
 * lease is one file create (a directory per path cost a mkdir per output as well), and a run with
 * no other live run beside it checks for foreign leases with one readdir.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeCreatingDir } from '../base/files.js';

export interface LeaseHolder {
  readonly runId: string;
  readonly pid: number;
  readonly host: string;
  readonly path: string;
  readonly since: string;
}

const POLL_MS = 100;

export class OutputLeases {
  readonly #held = new Set<string>();
  readonly #ownDir: string;

  constructor(
    private readonly dir: string,
    runId: string,
  ) {
    this.#ownDir = path.join(dir, runId.replace(/[^A-Za-z0-9._-]/g, '_'));
  }

  /** Records this run's lease on each path (idempotent). */
  hold(paths: readonly string[]): void {
    for (const p of paths) {
      const file = path.join(this.#ownDir, leaseName(p));
      if (this.#held.has(file)) continue;
      const holder: LeaseHolder = { runId: path.basename(this.#ownDir), pid: process.pid, host: os.hostname(), path: p, since: new Date().toISOString() };
      writeCreatingDir(file, (f) => writeFileSync(f, JSON.stringify(holder))); // the run's directory comes with its first lease
      this.#held.add(file);
    }
  }

  release(paths: readonly string[]): void {
    for (const p of paths) {
      const file = path.join(this.#ownDir, leaseName(p));
      if (!this.#held.delete(file)) continue;
      rmSync(file, { force: true });
    }
  }

  releaseAll(): void {
    this.#held.clear();
    rmSync(this.#ownDir, { recursive: true, force: true });
  }

  /** The first live lease another run holds on any of the paths. Leases of dead runs are removed. */
  foreignHolder(paths: readonly string[]): LeaseHolder | undefined {
    for (const runDir of this.#foreignRunDirs()) {
      for (const p of paths) {
        const holder = readHolder(path.join(runDir, leaseName(p)));
        if (holder === undefined) continue;
        if (!isDead(holder)) return holder;
        rmSync(runDir, { recursive: true, force: true }); // one process held them all
        break;
      }
    }
    return undefined;
  }

  /** Waits until no other run leases any of the paths; false when aborted first. */
  async waitUntilFree(paths: readonly string[], signal: AbortSignal, onWait: (holder: LeaseHolder) => void): Promise<boolean> {
    let announced = false;
    for (;;) {
      if (signal.aborted) return false;
      const holder = this.foreignHolder(paths);
      if (holder === undefined) return true;
      if (!announced) onWait(holder);
      announced = true;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  #foreignRunDirs(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names.map((n) => path.join(this.dir, n)).filter((d) => d !== this.#ownDir);
  }
}

function leaseName(outputPath: string): string {
  return `${createHash('sha256').update(outputPath).digest('hex').slice(0, 24)}.json`;
}

function readHolder(file: string): LeaseHolder | undefined {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<LeaseHolder>;
    return typeof value.pid === 'number' && typeof value.host === 'string' && typeof value.runId === 'string' ? (value as LeaseHolder) : undefined;
  } catch {
    return undefined; // being written, or just removed
  }
}

/** A holder on this host whose process is gone left its leases behind (SIGKILL). Other hosts' pids mean nothing here. */
function isDead(holder: LeaseHolder): boolean {
  if (holder.host !== os.hostname()) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
