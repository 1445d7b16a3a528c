/**
 * Whether the holder of a lock or lease is still there: one rule for step locks and output leases.
 *
 * A holder beats: it touches its file's mtime every staleAfterMs/3 while it holds. A reader judges
 * a holder gone when that heartbeat is older than staleAfterMs (the only evidence about a process
 * on another host, whose pids mean nothing here), or, on its own host, when the holder's pid is
 * dead (a SIGKILLed run is noticed at once, not after staleAfterMs).
 *
 * The host id is the reader's own (os.hostname() unless injected): tests play two hosts with two
 * real processes by giving each another id.
 */
import { hostname } from 'node:os';

export const DEFAULT_STALE_AFTER_MS = 30_000;

/** Who judges, and how long a silent holder still counts as alive. */
export interface Liveness {
  readonly host: string;
  readonly staleAfterMs: number;
}

export function liveness(overrides: Partial<Liveness> = {}): Liveness {
  return { host: overrides.host ?? hostname(), staleAfterMs: overrides.staleAfterMs ?? DEFAULT_STALE_AFTER_MS };
}

/**
 * True when the holder (undefined: a record not yet readable) no longer holds: its last beat
 * (`beatMs`, the file's mtime) is older than staleAfterMs, or it is on this host with a dead pid.
 */
export function holderGone(holder: { readonly host: string; readonly pid: number } | undefined, beatMs: number, judge: Liveness): boolean {
  if (Date.now() - beatMs > judge.staleAfterMs) return true;
  return holder !== undefined && holder.host === judge.host && !isPidAlive(holder.pid);
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH'; // EPERM: alive but not ours
  }
}

/** Calls `beat` every staleAfterMs/3 on an unref'd timer (a beat never keeps a process alive); returns the stop. */
export function startHeartbeat(beat: () => void, staleAfterMs: number): () => void {
  const timer = setInterval(beat, Math.max(10, staleAfterMs / 3));
  timer.unref();
  return () => clearInterval(timer);
}
