import { createWriteStream, existsSync, readdirSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { err, ok, type Result } from '../../../base/result.js';
import { nativeError, type NativeError } from './errors.js';
import type { LibtensorflowSource } from './source.js';
import { readZipEntries, type ZipReader } from './zip.js';

/**
 * An unpacked libtensorflow in the per-user cache, laid out as tfjs-node's binding.gyp expects:
 * lib/libtensorflow.so and lib/libtensorflow_framework.so (plus the real files under their
 * sonames) and include/tensorflow/c/….
 */
export interface LibtensorflowEntry {
  readonly dir: string;
  readonly lib: string;
  readonly include: string;
  readonly source: LibtensorflowSource;
  /** true when this call unpacked it; false when the cache already had it. */
  readonly unpacked: boolean;
}

// The C API headers and the few they include from outside tensorflow/c.
const HEADER_PREFIXES = ['tensorflow/c/', 'tensorflow/core/platform/ctstring', 'tsl/platform/ctstring', 'xla/tsl/c/'];
const WHEEL_LIBS = ['tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'];
const WHEEL_INCLUDE = 'tensorflow/include/';

function wantedHeader(relative: string): boolean {
  return HEADER_PREFIXES.some((prefix) => relative.startsWith(prefix));
}

function wheelTarget(name: string, into: string): string | null {
  if (WHEEL_LIBS.includes(name)) return path.join(into, 'lib', path.basename(name));
  if (!name.startsWith(WHEEL_INCLUDE) || name.endsWith('/')) return null;
  const header = name.slice(WHEEL_INCLUDE.length);
  return wantedHeader(header) ? path.join(into, 'include', header) : null;
}

async function extractWheel(source: LibtensorflowSource, into: string, open: ZipReader): Promise<Result<void, NativeError>> {
  const found = new Set<string>();
  const read = await open(
    source.path,
    (name) => wheelTarget(name, into) !== null,
    async (name, stream) => {
      const target = wheelTarget(name, into)!;
      await mkdir(path.dirname(target), { recursive: true });
      await pipeline(stream, createWriteStream(target));
      found.add(WHEEL_LIBS.includes(name) ? name : 'header');
    },
  );
  if (!read.ok) {
    return err(
      nativeError(
        'NATIVE_BAD_SOURCE',
        `${source.path} is not a readable zip archive (${read.error}), so not a TensorFlow wheel`,
        'download the wheel again: pip download tensorflow-cpu --no-deps -d DIR',
      ),
    );
  }
  const missing = [...WHEEL_LIBS.filter((lib) => !found.has(lib)), ...(found.has('header') ? [] : [`${WHEEL_INCLUDE}tensorflow/c/`])];
  if (missing.length > 0) {
    return err(
      nativeError(
        'NATIVE_BAD_SOURCE',
        `${source.path} is a zip but not a TensorFlow wheel with the C library (missing ${missing.join(', ')})`,
        'use a Linux x86_64 TensorFlow 2.x wheel (tensorflow-cpu or tensorflow) or an official libtensorflow .tar.gz',
      ),
    );
  }
  return ok(undefined);
}

async function extractArchive(source: LibtensorflowSource, into: string): Promise<Result<void, NativeError>> {
  const { x } = await import('tar');
  try {
    await x({ file: source.path, cwd: into, filter: (entry) => /^(\.\/)?(lib|include)\//.test(entry) });
  } catch (e) {
    return err(
      nativeError(
        'NATIVE_BAD_SOURCE',
        `${source.path} is not a readable .tar.gz (${e instanceof Error ? e.message : String(e)})`,
        'download the libtensorflow archive again',
      ),
    );
  }
  const libs = existsSync(path.join(into, 'lib')) ? readdirSync(path.join(into, 'lib')) : [];
  if (!libs.some((f) => f.startsWith('libtensorflow.so')) || !existsSync(path.join(into, 'include', 'tensorflow', 'c', 'c_api.h'))) {
    return err(
      nativeError(
        'NATIVE_BAD_SOURCE',
        `${source.path} is an archive but not libtensorflow (no lib/libtensorflow.so* or include/tensorflow/c/c_api.h)`,
        'use an official libtensorflow-cpu-linux-x86_64-<version>.tar.gz or a TensorFlow wheel',
      ),
    );
  }
  return ok(undefined);
}

interface DirectoryLayout {
  /** Real library files to link into lib/, by the name they get there. */
  readonly libs: Readonly<Record<string, string>>;
  readonly include: string;
}

function directoryLayout(dir: string): DirectoryLayout | null {
  const official = path.join(dir, 'lib');
  if (existsSync(path.join(dir, 'include', 'tensorflow', 'c', 'c_api.h')) && existsSync(official)) {
    const libs = Object.fromEntries(
      readdirSync(official)
        .filter((f) => f.startsWith('libtensorflow'))
        .map((f) => [f, path.join(official, f)]),
    );
    if (Object.keys(libs).some((f) => f.startsWith('libtensorflow.so'))) return { libs, include: path.join(dir, 'include') };
  }
  // An unpacked wheel (dir/tensorflow/…) or the installed Python package itself (site-packages/tensorflow).
  for (const pkg of [path.join(dir, 'tensorflow'), dir]) {
    const libs = WHEEL_LIBS.map((lib) => path.join(pkg, path.basename(lib)));
    if (libs.every((lib) => existsSync(lib)) && existsSync(path.join(pkg, 'include', 'tensorflow', 'c', 'c_api.h'))) {
      return { libs: Object.fromEntries(libs.map((lib) => [path.basename(lib), lib])), include: path.join(pkg, 'include') };
    }
  }
  return null;
}

async function linkDirectory(source: LibtensorflowSource, into: string): Promise<Result<void, NativeError>> {
  const layout = directoryLayout(source.path);
  if (layout === null) {
    return err(
      nativeError(
        'NATIVE_BAD_SOURCE',
        `${source.path} holds no libtensorflow (looked for lib/libtensorflow.so* with include/tensorflow/c/c_api.h, and for tensorflow/libtensorflow_cc.so.2 with tensorflow/include/)`,
        'point at an unpacked libtensorflow archive, an unpacked wheel, or site-packages/tensorflow of an installed TensorFlow',
      ),
    );
  }
  await mkdir(path.join(into, 'lib'), { recursive: true });
  for (const [name, target] of Object.entries(layout.libs)) await symlink(target, path.join(into, 'lib', name));
  await symlink(layout.include, path.join(into, 'include'));
  return ok(undefined);
}

// The names binding.gyp links against (-ltensorflow -ltensorflow_framework).
async function addLinkerNames(lib: string): Promise<void> {
  const files = await readdir(lib);
  const pick = (prefixes: readonly string[]): string | undefined =>
    prefixes.map((p) => files.find((f) => f.startsWith(p))).find((f) => f !== undefined);
  const links: [string, string | undefined][] = [
    ['libtensorflow.so', pick(['libtensorflow_cc.so.2', 'libtensorflow.so.2'])],
    ['libtensorflow_framework.so', pick(['libtensorflow_framework.so.2'])],
  ];
  for (const [name, target] of links) {
    if (target !== undefined && !files.includes(name)) await symlink(target, path.join(lib, name));
  }
}

/** The cache entry for a source, unpacking it once (atomically: a half-unpacked entry is never seen). */
export async function unpackLibtensorflow(
  source: LibtensorflowSource,
  cacheDir: string,
  open: ZipReader = readZipEntries,
): Promise<Result<LibtensorflowEntry, NativeError>> {
  const dir = path.join(cacheDir, source.id);
  const entry = (unpacked: boolean): LibtensorflowEntry => ({
    dir,
    lib: path.join(dir, 'lib'),
    include: path.join(dir, 'include'),
    source,
    unpacked,
  });
  if (existsSync(path.join(dir, 'source.json'))) return ok(entry(false));
  const staging = `${dir}.partial-${process.pid}-${Date.now()}`;
  await mkdir(staging, { recursive: true });
  try {
    const filled =
      source.kind === 'wheel'
        ? await extractWheel(source, staging, open)
        : source.kind === 'archive'
          ? await extractArchive(source, staging)
          : await linkDirectory(source, staging);
    if (!filled.ok) return filled;
    await addLinkerNames(path.join(staging, 'lib'));
    await writeFile(path.join(staging, 'source.json'), `${JSON.stringify({ ...source, unpackedAt: new Date().toISOString() }, null, 2)}\n`);
    await rm(dir, { recursive: true, force: true }); // a stale entry without source.json
    await rename(staging, dir).catch(async (e: NodeJS.ErrnoException) => {
      // Another install finished the same entry first: keep theirs.
      if (!existsSync(path.join(dir, 'source.json'))) throw e;
    });
    return ok(entry(true));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** The source an entry was made from, or null when the directory is not a complete entry. */
export async function readEntrySource(dir: string): Promise<LibtensorflowSource | null> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'source.json'), 'utf8')) as LibtensorflowSource;
  } catch {
    return null;
  }
}
