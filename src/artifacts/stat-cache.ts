/**
 * Stat cache: remembers the hash of a file together with its stat stamp
 * (dev, ino, size, mtimeNs, ctimeNs), so that checking an unchanged file costs one lstat and one
 * map lookup instead of a read.
 *
 * Racily-clean rule (as in git): a file written in the same timestamp tick in which we stat it
 * could change again without its stamp changing. So an entry is trusted only when the time we
 * recorded it is more than RACY_WINDOW_MS after the file's mtime. We use 2 s: ext4/xfs/btrfs
 * stamps are nanosecond-valued but advance with the kernel's coarse clock (milliseconds), while
 * NFS servers and FAT-like filesystems (2 s) are coarser, and the cost of a wide window is small:
 * a file younger than 2 s at recording time is rehashed once more, after which it is trusted.
 *
 * Persisted as one JSON file (one parse/one atomic write for 10k entries, not a file per entry).
 * Several processes may save concurrently: last writer wins, which is safe because every entry is
 * re-validated against the live stamp before use.
 */
import { lstatSync, statSync, type BigIntStats } from 'node:fs';
import { resolve } from 'node:path';
import { readJsonFile, writeFileAtomic } from './atomic.js';
import { hasErrno } from './errors.js';
import { hashFileContent, isExecutableMode, isSha256, manifestHash, mapLimit, walkFiles } from './tree.js';
import type { Sha256, TreeEntry } from './types.js';

export const RACY_WINDOW_MS = 2000;
const FORMAT_VERSION = 1;
/** Unused entries older than this are dropped on save (a dropped entry only costs one rehash). */
export const PRUNE_AFTER_MS = 30 * 24 * 3600 * 1000;
const DIR_HASH_CONCURRENCY = 8;

export interface FileHash {
  readonly hash: Sha256;
  readonly size: number;
  readonly executable: boolean;
}

export type PathHash = { type: 'file' | 'dir'; hash: Sha256; size: number } | { type: 'missing' };

interface Entry {
  readonly stamp: string;
  readonly hash: Sha256;
  readonly size: number;
  readonly executable: boolean;
  readonly mtimeMs: number;
  readonly recordedAtMs: number;
}

/** On-disk row: [path, stamp, hash, size, executable(0|1), mtimeMs, recordedAtMs]. */
type Row = [string, string, string, number, number, number, number];
interface CacheFile {
  version: number;
  rows: Row[];
}

function stampOf(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

export class StatCache {
  readonly #file: string;
  readonly #entries: Map<string, Entry>;
  /** Paths looked up or recorded by this instance: never pruned on save. */
  readonly #used = new Set<string>();
  #dirty = false;
  #filesRead = 0;

  private constructor(file: string, entries: Map<string, Entry>) {
    this.#file = file;
    this.#entries = entries;
  }

  /** Loads `file` (missing or corrupt → empty cache; it is only an accelerator). */
  static async open(file: string): Promise<StatCache> {
    const data = await readJsonFile<CacheFile>(file);
    return new StatCache(file, data?.version === FORMAT_VERSION ? rowsToEntries(data.rows) : new Map());
  }

  /** A cache that knows nothing and is never saved: every file is read (`status --verify` trusts no stamp). */
  static ephemeral(): StatCache {
    return new StatCache('', new Map());
  }

  /** How many files this instance actually read to hash (observability, and proof in tests). */
  get filesRead(): number {
    return this.#filesRead;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Hash of a file's content (symlinks followed). Rejects if the path is missing. */
  async hashFile(absPath: string): Promise<FileHash> {
    const path = resolve(absPath);
    const recordedAtMs = Date.now(); // taken before stat: see the racy rule above
    const st = statSync(path, { bigint: true }); // sync on purpose, as in hashPath
    return this.#hashStatted(path, st, recordedAtMs);
  }

  /**
   * The no-op-rerun hot path. The stamp is read with a synchronous lstat on purpose: it is one
   * syscall of a few microseconds, whereas the async version queues on libuv's 4-thread pool and
   * measured 2-10x slower per call here (see stat-cache.bench.ts).
   */
  async hashPath(absPath: string): Promise<PathHash> {
    const path = resolve(absPath);
    // Another process (a concurrent run restoring or rerunning a step) may remove or replace the
    // path while it is hashed: start over from the stat, and call it missing if it keeps vanishing.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#hashPathOnce(path);
      } catch (error) {
        if (!vanished(error)) throw error;
        if (attempt === VANISHED_RETRIES) return { type: 'missing' };
      }
    }
  }

  async #hashPathOnce(path: string): Promise<PathHash> {
    const recordedAtMs = Date.now();
    const st = statForHash(path);
    if (st === undefined) return { type: 'missing' };
    if (st.isDirectory()) return this.#hashDir(path);
    const file = await this.#hashStatted(path, st, recordedAtMs);
    return { type: 'file', hash: file.hash, size: file.size };
  }

  /**
   * Writes the cache atomically, only if something changed since open/last save. Entries neither
   * used by this instance nor recorded within PRUNE_AFTER_MS are dropped, so paths that no
   * longer matter (deleted files, old experiments) do not grow the file forever.
   */
  async save(): Promise<void> {
    if (!this.#dirty || this.#file === '') return;
    const rows: Row[] = [];
    const pruneBefore = Date.now() - PRUNE_AFTER_MS;
    for (const [path, e] of this.#entries) {
      if (e.recordedAtMs < pruneBefore && !this.#used.has(path)) continue;
      rows.push([path, e.stamp, e.hash, e.size, e.executable ? 1 : 0, e.mtimeMs, e.recordedAtMs]);
    }
    const body: CacheFile = { version: FORMAT_VERSION, rows };
    await writeFileAtomic(this.#file, JSON.stringify(body));
    this.#dirty = false;
  }

  /**
   * Always reads the file, through `read` (e.g. ContentStore.putFile, which hashes while copying
   * into the store), and remembers the result under the stamp taken *before* the read: an output
   * put into the CAS then costs the next run's freshness check one lstat instead of a reread.
   */
  async hashFileVia(absPath: string, read: (absPath: string) => Promise<FileHash>): Promise<FileHash> {
    const path = resolve(absPath);
    const recordedAtMs = Date.now();
    const st = statSync(path, { bigint: true }); // sync, as in hashPath
    const result = await read(path);
    this.#filesRead++;
    this.#remember(path, st, result, recordedAtMs);
    return publicView(result);
  }

  async #hashStatted(path: string, st: BigIntStats, recordedAtMs: number): Promise<FileHash> {
    const known = this.#entries.get(path);
    if (known !== undefined && known.stamp === stampOf(st) && isTrusted(known)) {
      this.#used.add(path);
      return publicView(known);
    }
    const { hash, size } = await hashFileContent(path, Number(st.size));
    this.#filesRead++;
    return publicView(this.#remember(path, st, { hash, size, executable: isExecutableMode(Number(st.mode)) }, recordedAtMs));
  }

  /**
   * If the file changed while it was read, its live stamp no longer equals the one recorded here,
   * so the entry simply never hits; no re-stat needed.
   */
  #remember(path: string, st: BigIntStats, file: FileHash, recordedAtMs: number): Entry {
    const entry: Entry = { ...publicView(file), stamp: stampOf(st), mtimeMs: Number(st.mtimeMs), recordedAtMs };
    this.#entries.set(path, entry);
    this.#used.add(path);
    this.#dirty = true;
    return entry;
  }

  async #hashDir(path: string): Promise<PathHash> {
    const files = await walkFiles(path);
    const entries = await mapLimit(files, DIR_HASH_CONCURRENCY, async (f): Promise<TreeEntry> => {
      const h = await this.hashFile(f.abs);
      return { path: f.rel, hash: h.hash, size: h.size, executable: h.executable };
    });
    const size = entries.reduce((sum, e) => sum + e.size, 0);
    return { type: 'dir', hash: manifestHash(entries), size };
  }
}

/** Attempts at hashing a path that vanishes (or turns from directory into file) while it is read. */
const VANISHED_RETRIES = 3;

/** The error of a path (or a file under it) removed or replaced between its stat and its read. */
function vanished(error: unknown): boolean {
  return hasErrno(error, 'ENOENT') || hasErrno(error, 'ENOTDIR');
}

/** lstat, following a symlink to its target; undefined when the path (or target) is missing. */
function statForHash(path: string): BigIntStats | undefined {
  try {
    const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
    if (st === undefined || !st.isSymbolicLink()) return st;
    return statSync(path, { bigint: true, throwIfNoEntry: false });
  } catch (error) {
    // A file used as a directory, or a symlink loop: the path cannot exist as named.
    if (hasErrno(error, 'ENOTDIR') || hasErrno(error, 'ELOOP')) return undefined;
    throw error;
  }
}

function publicView(entry: FileHash): FileHash {
  return { hash: entry.hash, size: entry.size, executable: entry.executable };
}

function isTrusted(entry: Entry): boolean {
  return entry.recordedAtMs - entry.mtimeMs > RACY_WINDOW_MS;
}

function rowsToEntries(rows: unknown): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  if (!Array.isArray(rows)) return entries;
  for (const row of rows as unknown[]) {
    if (!isRow(row)) continue; // skip damaged rows rather than dropping the whole cache
    const [path, stamp, hash, size, exec, mtimeMs, recordedAtMs] = row;
    entries.set(path, { stamp, hash: hash as Sha256, size, executable: exec === 1, mtimeMs, recordedAtMs });
  }
  return entries;
}

function isRow(row: unknown): row is Row {
  return (
    Array.isArray(row) &&
    row.length === 7 &&
    typeof row[0] === 'string' &&
    typeof row[1] === 'string' &&
    isSha256(row[2]) &&
    [row[3], row[4], row[5], row[6]].every((n) => typeof n === 'number')
  );
}
