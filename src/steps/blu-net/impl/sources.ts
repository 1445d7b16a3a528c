/**
 * Pinned data sets: a manifest (TSV) lists every file's public source (a GitHub repository at a
 * pinned commit), the SHA-256 of the source bytes, the one transform, and the SHA-256 of the
 * pixels that transform gives. A local folder is checked against the pixels; without one, the
 * files are downloaded once into the cache, checked, transformed and checked again, so either way
 * the step reads the very pixels the manifest names (and its key, the manifest's, stays valid).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { err, ok, type Result } from '../../../base/result.js';
import { pixelHash, pngChannel0 } from '../../../ml/data/png-channel.js';

const SPLITS = ['train', 'validation', 'test'] as const;

export interface SourceRow {
  readonly split: (typeof SPLITS)[number];
  readonly role: 'image' | 'mask';
  readonly name: string;
  readonly sourcePath: string;
  readonly sourceSha256: string;
  readonly transform: 'channel0' | 'as-is';
  readonly pixelsSha256: string;
}

export interface SourcesManifest {
  readonly repo: string;
  readonly commit: string;
  readonly rows: readonly SourceRow[];
}

/** Where a source file is fetched from; BLU_DATA_URL overrides it (a mirror, or a test's server). */
export const DEFAULT_URL_PATTERN = 'https://raw.githubusercontent.com/{repo}/{commit}/{path}';

const HEX64 = /^[0-9a-f]{64}$/;

/** Parses a manifest; `file` names it in errors (file:line). */
export function parseManifest(text: string, file: string): Result<SourcesManifest, string> {
  const meta: Record<string, string> = {};
  const rows: SourceRow[] = [];
  let header: string[] | null = null;
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const cells = line.split('\t');
    const at = `${file}:${i + 1}`;
    if (header === null && cells.length === 2) meta[cells[0]!] = cells[1]!;
    else if (header === null) header = cells;
    else {
      const row = parseRow(Object.fromEntries(header.map((h, k) => [h, cells[k] ?? ''])), at);
      if (!row.ok) return row;
      rows.push(row.value);
    }
  }
  if (!meta.repo || !/^[0-9a-f]{40}$/.test(meta.commit ?? ''))
    return err(`${file}: needs 'repo<TAB>owner/name' and 'commit<TAB><40 hex digits>' lines before the table`);
  if (rows.length === 0) return err(`${file}: lists no files`);
  return ok({ repo: meta.repo, commit: meta.commit!, rows });
}

function parseRow(cells: Record<string, string>, at: string): Result<SourceRow, string> {
  const { split, role, name, source_path: sourcePath, source_sha256: sourceSha256, transform, pixels_sha256: pixelsSha256 } = cells;
  if (!SPLITS.some((s) => s === split)) return err(`${at}: split '${split}' is not one of ${SPLITS.join(', ')}`);
  if (role !== 'image' && role !== 'mask') return err(`${at}: role '${role}' is not image or mask`);
  if (!name || name.includes('/') || !sourcePath) return err(`${at}: needs a plain file name and a source_path`);
  if (!HEX64.test(sourceSha256 ?? '') || !HEX64.test(pixelsSha256 ?? ''))
    return err(`${at}: source_sha256 and pixels_sha256 must be 64 hex digits`);
  const kind = transform?.startsWith('channel 0') ? 'channel0' : transform?.startsWith('as is') ? 'as-is' : null;
  if (kind === null) return err(`${at}: unknown transform '${transform}' (known: 'channel 0 …', 'as is …')`);
  return ok({
    split: split as SourceRow['split'],
    role,
    name,
    sourcePath,
    sourceSha256: sourceSha256!,
    transform: kind,
    pixelsSha256: pixelsSha256!,
  });
}

function fileOf(dir: string, row: SourceRow): string {
  return path.join(dir, row.split, row.role === 'image' ? 'images' : 'masks', row.name);
}

/** Compares a file's pixels with the manifest's; the message says which file and what to do. */
async function checkPixels(file: string, row: SourceRow): Promise<Result<void, string>> {
  const channel = pngChannel0(await readFile(file));
  if (!channel.ok) return err(`${file}: ${channel.error}`);
  return pixelHash(channel.value) === row.pixelsSha256
    ? ok(undefined)
    : err(`${file}: its pixels differ from the pinned ${row.sourcePath}`);
}

/** A local copy must hold exactly the manifest's files with the manifest's pixels. */
export async function checkFolder(dir: string, manifest: SourcesManifest): Promise<Result<void, string>> {
  for (const split of SPLITS) {
    for (const role of ['image', 'mask'] as const) {
      const listed = new Set(manifest.rows.filter((r) => r.split === split && r.role === role).map((r) => r.name));
      const sub = path.join(dir, split, role === 'image' ? 'images' : 'masks');
      const extra = (await readdir(sub).catch(() => [] as string[])).filter((n) => !listed.has(n));
      if (extra.length > 0)
        return err(`${sub} holds files the pinned data set does not list: ${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', …' : ''}`);
    }
  }
  for (const row of manifest.rows) {
    const file = fileOf(dir, row);
    if (!existsSync(file)) return err(`${file} is missing (the pinned data set lists it)`);
    const same = await checkPixels(file, row);
    if (!same.ok) return same;
  }
  return ok(undefined);
}

export interface FetchOptions {
  readonly cacheDir: string;
  /** {repo}, {commit} and {path} are filled in from the manifest. */
  readonly urlPattern: string;
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
  readonly attempts?: number;
  /** Wait before retry n (1-based); tests shorten it. */
  readonly backoffMs?: number;
}

/**
 * The transformed folder in the cache (`datasets/<manifest sha256>`), made once: every source is
 * downloaded (or found under `downloads/`), checked, transformed and checked; the folder appears by
 * one rename, so a failed or interrupted fetch never leaves a partial folder behind.
 */
export async function fetchPinned(manifest: SourcesManifest, manifestSha256: string, o: FetchOptions): Promise<Result<string, string>> {
  const target = path.join(o.cacheDir, 'datasets', manifestSha256);
  if (existsSync(target)) return ok(target);
  const temp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    let done = 0;
    const made = await inParallel(manifest.rows, 4, async (row) => {
      const bytes = await sourceBytes(manifest, row, o);
      if (!bytes.ok) return bytes;
      const file = fileOf(temp, row);
      await mkdir(path.dirname(file), { recursive: true });
      const written = await writeTransformed(file, bytes.value, row);
      if (written.ok && ++done % 20 === 0) o.log(`pinned data: ${done}/${manifest.rows.length} files checked`);
      return written;
    });
    if (!made.ok) return made;
    await rename(temp, target).catch(async (e: NodeJS.ErrnoException) => {
      if (!existsSync(target)) throw e; // else another run made it first: same pixels
    });
    return ok(target);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

async function writeTransformed(file: string, source: Buffer, row: SourceRow): Promise<Result<void, string>> {
  if (row.transform === 'as-is') await writeFile(file, source);
  else {
    const channel = pngChannel0(source);
    if (!channel.ok) return err(`${row.sourcePath}: ${channel.error}`);
    const { width, height, data } = channel.value;
    await sharp(Buffer.from(data), { raw: { width, height, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(file);
  }
  // Re-read what was written: the pixels, not the PNG bytes, are what must match.
  return checkPixels(file, row);
}

/** The source's bytes from the download cache, or fetched (with retries) and checked before they are kept. */
async function sourceBytes(manifest: SourcesManifest, row: SourceRow, o: FetchOptions): Promise<Result<Buffer, string>> {
  const kept = path.join(o.cacheDir, 'downloads', 'sha256', row.sourceSha256);
  const cached = await readFile(kept).catch(() => null);
  if (cached && sha256(cached) === row.sourceSha256) return ok(cached);
  const url = o.urlPattern.replace('{repo}', manifest.repo).replace('{commit}', manifest.commit).replace('{path}', row.sourcePath);
  const fetched = await download(url, o);
  if (!fetched.ok) return fetched;
  const actual = sha256(fetched.value);
  if (actual !== row.sourceSha256) return err(`${url}: SHA-256 ${actual} does not match the pinned ${row.sourceSha256}; nothing was kept`);
  await mkdir(path.dirname(kept), { recursive: true });
  const part = `${kept}.part-${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(part, fetched.value);
  await rename(part, kept);
  return ok(fetched.value);
}

async function download(url: string, o: FetchOptions): Promise<Result<Buffer, string>> {
  const attempts = o.attempts ?? 3;
  let last = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, (o.backoffMs ?? 1000) * (attempt - 1)));
    if (o.signal.aborted) return err(`download of ${url} cancelled`);
    try {
      const response = await fetch(url, { signal: o.signal });
      if (response.ok) return ok(Buffer.from(await response.arrayBuffer()));
      last = `HTTP ${response.status}`;
      // A missing file will not appear by asking again.
      if (response.status >= 400 && response.status < 500 && response.status !== 429) break;
    } catch (e) {
      last = e instanceof Error ? `${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ''}` : String(e);
    }
  }
  return err(`could not download ${url}: ${last} (set BLU_DATA_URL to a mirror, or data_dir to a local copy)`);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Runs `work` over `items`, at most `limit` at a time; stops starting new work after the first failure. */
async function inParallel<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<Result<void, string>>,
): Promise<Result<void, string>> {
  let next = 0;
  let failed: Result<void, string> | null = null;
  const worker = async (): Promise<void> => {
    while (failed === null && next < items.length) {
      const result = await work(items[next++]!);
      if (!result.ok) failed ??= result;
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return failed ?? ok(undefined);
}
