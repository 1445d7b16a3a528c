/**
 * Directory manifests and file walking shared by ContentStore (putPath) and StatCache (hashPath),
 * so both compute the very same tree hash for the same directory.
 */
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { canonicalJson, sha256Hex } from './canonical.js';
import { ArtifactError } from './errors.js';
import type { Sha256, TreeEntry } from './types.js';

const HEX64 = /^[0-9a-f]{64}$/;

export function isSha256(value: unknown): value is Sha256 {
  return typeof value === 'string' && HEX64.test(value);
}

export function isExecutableMode(mode: number): boolean {
  return (mode & 0o111) !== 0;
}

/** Canonical bytes of a manifest: entries sorted by path, each reduced to exactly the four fields. */
export function manifestJson(entries: readonly TreeEntry[]): string {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return canonicalJson(
    sorted.map((e) => ({ path: e.path, hash: e.hash, size: e.size, executable: e.executable })),
  );
}

export function manifestHash(entries: readonly TreeEntry[]): Sha256 {
  return sha256Hex(manifestJson(entries)) as Sha256;
}

/** Streams a file through SHA-256 (large read chunks: syscalls dominate on small ones). */
export async function hashFileContent(absPath: string): Promise<{ hash: Sha256; size: number }> {
  const hasher = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(absPath, { highWaterMark: 1 << 20 })) {
    const bytes = chunk as Buffer;
    hasher.update(bytes);
    size += bytes.length;
  }
  return { hash: hasher.digest('hex') as Sha256, size };
}

/** A manifest entry path must stay inside the directory it describes. */
export function isSafeRelativePath(path: string): boolean {
  if (path === '' || path.startsWith('/') || path.includes('\\') || path.includes('\0')) return false;
  return path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

export function parseManifest(text: string): TreeEntry[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  return value.every(isTreeEntry) ? (value as TreeEntry[]) : undefined;
}

function isTreeEntry(value: unknown): value is TreeEntry {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    typeof e.path === 'string' &&
    isSafeRelativePath(e.path) &&
    isSha256(e.hash) &&
    typeof e.size === 'number' &&
    Number.isSafeInteger(e.size) &&
    e.size >= 0 &&
    typeof e.executable === 'boolean'
  );
}

export interface WalkedFile {
  readonly rel: string; // POSIX, relative to the walked root
  readonly abs: string;
}

/**
 * Every regular file under `root`, following symlinks (we store target content) but never
 * entering the same real directory twice, so a symlink loop cannot recurse forever.
 */
export async function walkFiles(root: string): Promise<WalkedFile[]> {
  const files: WalkedFile[] = [];
  await walkInto(root, '', files, new Set([await realpath(root)]));
  return files;
}

async function walkInto(abs: string, rel: string, out: WalkedFile[], seen: Set<string>): Promise<void> {
  const dirents = await readdir(abs, { withFileTypes: true });
  for (const dirent of dirents) {
    const childAbs = join(abs, dirent.name);
    const childRel = rel === '' ? dirent.name : `${rel}/${dirent.name}`;
    const isDir = dirent.isSymbolicLink() ? (await stat(childAbs)).isDirectory() : dirent.isDirectory();
    if (isDir) {
      const real = await realpath(childAbs);
      if (seen.has(real)) continue;
      seen.add(real);
      await walkInto(childAbs, childRel, out, seen);
    } else if (dirent.isFile() || dirent.isSymbolicLink()) {
      out.push({ rel: childRel, abs: childAbs });
    } else {
      throw new ArtifactError('unsupported-file-type', `cannot store special file ${childAbs}`);
    }
  }
}

/** Runs `fn` over `items` with at most `limit` in flight (bounded fds, some I/O parallelism). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
