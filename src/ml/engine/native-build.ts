/**
 * Builds the native engine addon (native/engine: C++ kernels behind Node-API) with node-gyp, offline,
 * and caches it per user like the native TensorFlow binding: one compile per source version,
 * Node-API level, platform and architecture. `npm ci` runs this (postinstall.ts); a missing
 * compiler gives one line and the wasm engine is used.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { err, ok, type Result } from '../../base/result.js';
import { lastLines } from '../backend/native/errors.js';
import { blupipeRoot, nativeCache } from '../backend/native/paths.js';
import { findToolchain } from '../backend/native/toolchain.js';

type Env = Readonly<Record<string, string | undefined>>;

export const ADDON_FILE = 'blu_engine.node';

/**
 * The digest of native/engine's sources, written beside this module at build (native-digest.ts).
 * The code hash reads the file this literal names as an asset of every kind that reaches the
 * engine, so those kinds rekey when a C++ kernel changes, as they do for the wasm kernels.
 */
export const NATIVE_SOURCES_DIGEST = 'native-engine.digest';

/** The addon's C++ sources (shipped in the package beside dist/). */
export function nativeEngineSources(): string {
  return path.join(blupipeRoot(), 'native', 'engine');
}

/**
 * Hex SHA-256 of binding.gyp and every file of `src/` (sorted), each as its name, NUL, what
 * `content` makes of its bytes (the bytes themselves unless given), NUL; null without sources.
 */
export function digestEngineSources(
  sources: string,
  content: (file: string, bytes: Buffer) => string | Buffer = (_file, bytes) => bytes,
): string | null {
  if (!existsSync(path.join(sources, 'binding.gyp'))) return null;
  const hash = createHash('sha256');
  const files = [
    'binding.gyp',
    ...readdirSync(path.join(sources, 'src'))
      .sort()
      .map((f) => path.join('src', f)),
  ];
  for (const f of files)
    hash
      .update(f)
      .update('\0')
      .update(content(f, readFileSync(path.join(sources, f))))
      .update('\0');
  return hash.digest('hex');
}

/** The byte-level digest of the sources: the addon's build cache is keyed by every byte it compiles. */
export function nativeEngineSourceDigest(sources = nativeEngineSources()): string | null {
  return digestEngineSources(sources);
}

/** Cache key: the sources' digest, so an edited kernel is never served stale, and the Node-API level and platform. */
export function nativeEngineKey(sources = nativeEngineSources()): string | null {
  const digest = nativeEngineSourceDigest(sources);
  if (digest === null) return null;
  return `blu-engine-${digest.slice(0, 16)}-napi${process.versions.napi ?? '0'}-${process.platform}-${process.arch}`;
}

/** Where the compiled addon of these sources lives in the per-user cache. */
export function nativeEngineCacheFile(env: Env, sources = nativeEngineSources()): string | null {
  const key = nativeEngineKey(sources);
  return key === null ? null : path.join(nativeCache(env).addons, key, ADDON_FILE);
}

export type NativeEngineBuild = 'cached' | 'compiled';

/**
 * Compiles the addon into the cache unless it is there. Builds in a temporary copy of the
 * sources, so an installed package directory stays untouched (and may be read-only).
 */
export async function buildNativeEngine(env: Env): Promise<Result<{ readonly file: string; readonly how: NativeEngineBuild }, string>> {
  const sources = nativeEngineSources();
  const target = nativeEngineCacheFile(env, sources);
  if (target === null) return err(`the engine's C++ sources are missing (${sources})`);
  if (existsSync(target)) return ok({ file: target, how: 'cached' });
  const tools = findToolchain(env);
  // The toolchain check is the TensorFlow build's; its message names that build.
  if (!tools.ok)
    return err(
      `${tools.error.message.replace("tfjs-node's binding", 'the native engine')} (${tools.error.fix.replace(/, then run:.*$/, '')})`,
    );
  const work = await mkdtemp(path.join(os.tmpdir(), 'blu-engine-build-'));
  try {
    await cp(sources, work, { recursive: true, filter: (f) => !f.includes(`${path.sep}build`) });
    const args = [tools.value.nodeGyp, 'rebuild'];
    if (tools.value.nodeDir !== null) args.push(`--nodedir=${tools.value.nodeDir}`);
    const result = await execa(process.execPath, args, { cwd: work, env, extendEnv: false, reject: false, all: true });
    const built = path.join(work, 'build', 'Release', ADDON_FILE);
    if (result.exitCode !== 0 || !existsSync(built)) {
      return err(`node-gyp exit ${result.exitCode ?? 'signal'}: ${lastLines(result.all ?? '', 3).join(' | ')}`);
    }
    await mkdir(path.dirname(target), { recursive: true });
    const staging = `${target}.partial-${process.pid}`;
    await copyFile(built, staging);
    await rename(staging, target);
    return ok({ file: target, how: 'compiled' });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
