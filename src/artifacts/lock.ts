/**
 * Per-key lock files, safe on NFS-like filesystems.
 *
 * Acquire: create the lock file with O_EXCL and write our holder record into it. O_EXCL is atomic
 * on local filesystems and on NFSv3 and later. A reader may see the file before its record (empty
 * or partial): that reads as an unknown holder, which is waited for like any live one, and only
 * an old mtime makes it stale. One create per lock, not a temp file, a link and an unlink: on
 * ext4 here a create costs about 0.2 ms of kernel time, and every step that runs takes a lock.
 *
 * Liveness (src/base/liveness.ts, the rule output leases follow too): the holder touches the lock's
 * mtime every staleAfterMs/3. Waiters break a lock whose heartbeat is older than staleAfterMs, or
 * whose holder is on the acquirer's host (`me.host`) and has a dead pid (pids of other hosts mean
 * nothing here). Breaking renames the lock to a unique name first (only one breaker can win that
 * rename), then re-checks that what it moved is the stale lock it judged; if not, it links the
 * live lock back. Releasing deletes the lock only while
 * its path still holds the inode we created (one lstat, no read-back).
 *
 * The lock files are tiny and taken for every step that runs, so their operations are synchronous,
 * against a thread-pool round trip and promise per call otherwise.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, fstatSync, lstatSync, readFileSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { link, rename, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { openCreatingDir } from '../base/files.js';
import { holderGone, liveness, startHeartbeat, type Liveness } from '../base/liveness.js';
import { err, ok, type Result } from '../base/result.js';
import { hasErrno } from './errors.js';

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  runId: string;
  stepId: string;
  token: string;
}

export interface AcquireLockOptions {
  signal?: AbortSignal;
  pollMs?: number;
  staleAfterMs?: number;
  /** Called once, with the current holder, when we start waiting. */
  onWait?: (holder: LockHolder) => void;
}

export interface HeldLock {
  release(): Promise<void>;
}

const DEFAULT_POLL_MS = 100;

/** What a lock file looked like when we read it; `holder` is undefined if unparsable. */
interface Observed {
  readonly holder: LockHolder | undefined;
  readonly mtimeMs: number;
}

export async function acquireLock(
  file: string,
  me: Omit<LockHolder, 'token'>,
  options: AcquireLockOptions = {},
): Promise<Result<HeldLock, { reason: 'aborted' }>> {
  const holder: LockHolder = { ...me, token: randomUUID() };
  const judge = liveness({ host: me.host, ...(options.staleAfterMs === undefined ? {} : { staleAfterMs: options.staleAfterMs }) });
  let announced = false;
  for (;;) {
    if (options.signal?.aborted === true) return err({ reason: 'aborted' });
    const inode = await tryCreate(file, holder);
    if (inode !== null) return ok(startHolding(file, holder, inode, judge.staleAfterMs));
    const seen = observe(file);
    if (seen === undefined) continue; // released between our attempt and our look: retry now
    if (isStale(seen, judge)) {
      await breakStale(file, seen, judge);
      continue;
    }
    if (!announced && seen.holder !== undefined) {
      announced = true;
      options.onWait?.(seen.holder);
    }
    await sleep(options.pollMs ?? DEFAULT_POLL_MS, options.signal);
  }
}

/**
 * The holders of the stale locks in `dir`: their process died (or, on another host, stopped
 * beating) while holding them. A stale step lock marks a step whose attempt never finished.
 */
export function staleHolders(dir: string, judge: Liveness = liveness()): LockHolder[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.lock'));
  } catch {
    return [];
  }
  const stale: LockHolder[] = [];
  for (const name of names) {
    const seen = observe(join(dir, name));
    if (seen?.holder !== undefined && isStale(seen, judge)) stale.push(seen.holder);
  }
  return stale;
}

/** Where the per-key lock of a cache lives: <cacheDir>/locks/<key>.lock. */
export function lockPathFor(cacheDir: string, key: string): string {
  return join(cacheDir, 'locks', `${key}.lock`);
}

/** The current holder of a lock file, if any (for `status`-like displays). */
export async function readLockHolder(file: string): Promise<LockHolder | undefined> {
  return observe(file)?.holder;
}

/**
 * Creates the lock file with O_EXCL (its directory with the first lock) and returns its inode;
 * null when it already exists. No fsync: a lock means something only while its holder lives, and a
 * crash ends the holder.
 */
async function tryCreate(file: string, holder: LockHolder): Promise<number | null> {
  try {
    const fd = openCreatingDir(file, 'wx', 0o644);
    try {
      writeSync(fd, JSON.stringify(holder));
      return fstatSync(fd).ino;
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if (hasErrno(error, 'EEXIST')) return null;
    throw error;
  }
}

function observe(file: string): Observed | undefined {
  try {
    const text = readFileSync(file, 'utf8');
    return { holder: parseHolder(text), mtimeMs: statSync(file).mtimeMs };
  } catch (error) {
    if (hasErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockHolder> | null;
    if (v === null || typeof v !== 'object') return undefined;
    const fieldsOk =
      typeof v.pid === 'number' &&
      typeof v.host === 'string' &&
      typeof v.token === 'string' &&
      typeof v.startedAt === 'string' &&
      typeof v.runId === 'string' &&
      typeof v.stepId === 'string';
    return fieldsOk ? (v as LockHolder) : undefined;
  } catch {
    return undefined;
  }
}

function isStale(seen: Observed, judge: Liveness): boolean {
  return holderGone(seen.holder, seen.mtimeMs, judge);
}

async function breakStale(file: string, judged: Observed, judge: Liveness): Promise<void> {
  const aside = `${file}.stale-${randomUUID()}`;
  try {
    await rename(file, aside);
  } catch (error) {
    if (hasErrno(error, 'ENOENT')) return; // someone else broke or released it first
    throw error;
  }
  const moved = observe(aside);
  const sameLock = moved !== undefined && moved.holder?.token === judged.holder?.token;
  if (!(sameLock && isStale(moved, judge))) {
    // A live lock was taken between our look and our rename: give it back.
    await link(aside, file).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

function startHolding(file: string, holder: LockHolder, inode: number, staleAfterMs: number): HeldLock {
  const stopBeating = startHeartbeat(() => void heartbeat(file, holder.token), staleAfterMs);
  let released = false;
  return {
    async release(): Promise<void> {
      if (released) return;
      released = true;
      stopBeating();
      removeIfOurs(file, inode);
    },
  };
}

/** Refreshes the mtime only while the lock file is still ours (never keeps another's alive). */
async function heartbeat(file: string, token: string): Promise<void> {
  try {
    const seen = observe(file);
    if (seen?.holder?.token !== token) return;
    const now = new Date();
    await utimes(file, now, now);
  } catch {
    // A missed beat is harmless unless they all fail, in which case the lock rightly goes stale.
  }
}

/**
 * Deletes the lock only while the file at its path is the one we created. A breaker renames a
 * lock aside and, when it was live, links the same inode back; only a lock judged stale (we
 * missed every heartbeat for staleAfterMs) is replaced by another inode, which we then leave be.
 */
function removeIfOurs(file: string, inode: number): void {
  try {
    if (lstatSync(file).ino === inode) unlinkSync(file);
  } catch (error) {
    if (!hasErrno(error, 'ENOENT')) throw error;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
