/** A full disk (or quota) explained in words: what was being written, how much it needed, how much is free. */
import { stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hasErrno } from './errors.js';
import { walkFiles } from './tree.js';

export function isNoSpace(error: unknown): boolean {
  return hasErrno(error, 'ENOSPC') || hasErrno(error, 'EDQUOT');
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/**
 * "no space left on the device holding <path> while <doing>: needs 1.1 MiB, 864 KiB free; …".
 * `path` may not exist (yet): free space is read from its nearest existing ancestor.
 */
export async function describeNoSpace(doing: string, path: string, neededBytes: number | null): Promise<string> {
  const free = await freeBytes(path);
  const needs = [
    neededBytes === null ? null : `needs ${formatBytes(neededBytes)}`,
    free === null ? null : `${formatBytes(free)} free`,
  ].filter((s) => s !== null);
  return `no space left on the device holding ${path} while ${doing}${needs.length > 0 ? ` (${needs.join(', ')})` : ''}; free some space (blu-pipe gc frees cache space) and run again`;
}

async function freeBytes(path: string): Promise<number | null> {
  for (let dir = path; ; dir = dirname(dir)) {
    const st = await statfs(dir).catch(() => undefined);
    if (st !== undefined) return st.bavail * st.bsize;
    if (dirname(dir) === dir) return null;
  }
}

/** Bytes a file or directory would take when copied (its files' sizes), or null if unreadable. */
export async function contentSize(path: string): Promise<number | null> {
  try {
    const st = await stat(path);
    if (!st.isDirectory()) return st.size;
    const sizes = await Promise.all((await walkFiles(path)).map(async (f) => (await stat(f.abs)).size));
    return sizes.reduce((a, b) => a + b, 0);
  } catch {
    return null;
  }
}
