import { mkdirSync } from 'node:fs';
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
