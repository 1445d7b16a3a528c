import { mkdirSync, openSync } from 'node:fs';
import path from 'node:path';

/**
 * Runs a synchronous `write` of `file`; only when its directory is missing creates it and writes
 * again. Cheaper than making the directory first when it usually exists: one failed call at most.
 */
export function writeCreatingDir(file: string, write: (file: string) => void): void {
  try {
    write(file);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw cause;
    mkdirSync(path.dirname(file), { recursive: true });
    write(file);
  }
}

/** Opens `file` (e.g. 'a', 'wx'), making its directory only when it is missing. */
export function openCreatingDir(file: string, flags: string, mode?: number): number {
  let fd = -1;
  writeCreatingDir(file, (f) => (fd = openSync(f, flags, mode)));
  return fd;
}
