/**
 * The one place that writes files atomically: readers see either the old file or the complete new
 * one, never a prefix, even after a crash (temp file in the same directory, fsync, rename, fsync
 * of the directory so the rename itself is durable).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';
import { openCreatingDir } from '../base/files.js';
import { basename, dirname, join } from 'node:path';

/** Suffix shared by every temp file we create, so gc can recognise and age them. */
export const TEMP_MARKER = '.blu-tmp-';

export const fsyncAsync = promisify(fsync);

/** Random once per process, then counted: unique names without a random draw per file. */
const PROCESS_TAG = randomBytes(6).toString('hex');
let tempCount = 0;

/** A name no other writer uses: this process's random tag and a counter. */
export function uniqueSuffix(): string {
  return `${PROCESS_TAG}${(tempCount++).toString(36)}`;
}

export function tempSiblingPath(target: string): string {
  return join(dirname(target), `.${basename(target)}${TEMP_MARKER}${uniqueSuffix()}`);
}

/**
 * Directory fsyncs gathered into one batch. A rename made durable later is still safe: the file's
 * bytes are fsynced before it gets its name, so after a power loss a name is either absent (the
 * step reruns, the blob is re-stored) or complete; never torn. `flush` is the batch's commit point.
 */
export class DeferredDirSync {
  readonly #dirs = new Set<string>();

  add(dir: string): void {
    this.#dirs.add(dir);
  }

  async flush(): Promise<void> {
    const dirs = [...this.#dirs];
    this.#dirs.clear();
    await Promise.all(dirs.map(fsyncDir));
  }
}

/**
 * With `dirSync`, the directory fsync joins that batch instead of happening now. Only the fsyncs
 * leave the main thread: creating, writing and renaming are syscalls of microseconds, and a
 * thread-pool round trip each made a step's commit wait more than the calls themselves.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: { dirSync?: DeferredDirSync | undefined } = {},
): Promise<void> {
  const dir = dirname(path);
  const temp = tempSiblingPath(path);
  try {
    const fd = openCreatingDir(temp, 'wx', 0o644);
    try {
      writeFileSync(fd, data);
      await fsyncAsync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    // Writes through a descriptor carry no path: name the file, so a full disk says where.
    if (error instanceof Error && (error as NodeJS.ErrnoException).path === undefined) (error as NodeJS.ErrnoException).path = path;
    throw error;
  }
  if (options.dirSync) options.dirSync.add(dir);
  else await fsyncDir(dir);
}

/**
 * writeFileAtomic's guarantees without the thread pool: for small records written a few times per
 * run (a run's run.json), where the ~9 round trips of the async version cost a no-op rerun more on
 * a busy machine than blocking for two fsyncs does.
 */
export function writeSmallFileAtomicSync(path: string, data: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const temp = tempSiblingPath(path);
  try {
    const fd = openSync(temp, 'wx', 0o644);
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // never created, or already gone
    }
    if (error instanceof Error && (error as NodeJS.ErrnoException).path === undefined) (error as NodeJS.ErrnoException).path = path;
    throw error;
  }
  fsyncDirSync(dir);
}

export function fsyncDirSync(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // as fsyncDir: best effort where directories cannot be fsynced
  }
}

/** Makes a rename/creation in `dir` durable. Some filesystems refuse fsync on directories. */
export async function fsyncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // EISDIR/EINVAL/EPERM on exotic filesystems: durability is best effort there.
  }
}

/**
 * Parsed JSON of `path`, or undefined when the file is missing, unreadable or not valid JSON.
 * Read synchronously: these are small records, and fs/promises spends four thread-pool round trips
 * (open, stat, read, close) on each.
 */
export async function readJsonFile<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
