import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { err, ok, type Result } from '../../../base/result.js';
import { lastLines, nativeError, type NativeError } from './errors.js';
import type { NodePackageSite } from './paths.js';
import type { Toolchain } from './toolchain.js';
import type { LibtensorflowEntry } from './unpack.js';

type Env = Readonly<Record<string, string | undefined>>;

function installedVersion(packageDir: string): string | null {
  try {
    return (JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

/**
 * Puts the tfjs-node package (JavaScript, and its own dependencies from the lock file) into
 * node_modules without running its install script, which would try to download libtensorflow.
 * `--no-save` leaves package.json and package-lock.json alone.
 */
export async function ensureNodePackage(site: NodePackageSite, env: Env): Promise<Result<'present' | 'fetched', NativeError>> {
  if (installedVersion(site.packageDir) === site.version) return ok('present');
  const spec = `@tensorflow/tfjs-node@${site.version}`;
  const result = await execa('npm', ['install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', spec], {
    cwd: site.projectDir,
    env,
    extendEnv: false,
    reject: false,
    all: true,
  });
  if (result.exitCode !== 0 || installedVersion(site.packageDir) !== site.version) {
    return err(
      nativeError(
        'NATIVE_NPM_FAILED',
        `npm could not fetch ${spec} into ${site.projectDir}/node_modules`,
        'check that the npm registry is reachable, then run: npx blu-pipe native install',
        lastLines(result.all ?? '', 8),
      ),
    );
  }
  return ok('fetched');
}

/** deps/lib and deps/include of the package point into the shared cache entry (6 MB, not 815 MB, per clone). */
export async function linkDeps(site: NodePackageSite, entry: LibtensorflowEntry): Promise<void> {
  const deps = path.join(site.packageDir, 'deps');
  await rm(deps, { recursive: true, force: true });
  await mkdir(deps, { recursive: true });
  await symlink(entry.lib, path.join(deps, 'lib'));
  await symlink(entry.include, path.join(deps, 'include'));
}

/** The N-API version node-pre-gyp will pick at run time: the highest the package ships that this Node has. */
export function napiVersion(site: NodePackageSite): number {
  const pkg = JSON.parse(readFileSync(path.join(site.packageDir, 'package.json'), 'utf8')) as { binary?: { napi_versions?: number[] } };
  const supported = Number(process.versions.napi);
  const offered = (pkg.binary?.napi_versions ?? [8]).filter((v) => v <= supported);
  return Math.max(...offered);
}

export function addonPath(site: NodePackageSite): string {
  return path.join(site.packageDir, 'lib', `napi-v${napiVersion(site)}`, 'tfjs_binding.node');
}

/** The compiled addon depends on the package version, N-API level, platform and the library it was built against. */
export function addonCacheFile(addonsDir: string, site: NodePackageSite, entry: LibtensorflowEntry): string {
  const key = `tfjs-node-${site.version}-napi${napiVersion(site)}-${process.platform}-${process.arch}-${entry.source.id}`;
  return path.join(addonsDir, key, 'tfjs_binding.node');
}

async function copyAtomically(from: string, to: string): Promise<void> {
  await mkdir(path.dirname(to), { recursive: true });
  const staging = `${to}.partial-${process.pid}`;
  await copyFile(from, staging);
  await rename(staging, to);
}

/** Copies the cached addon in (toolchain null), or compiles one with node-gyp (offline: --nodedir) and caches it. */
export async function provideAddon(
  site: NodePackageSite,
  cached: string,
  toolchain: Result<Toolchain, NativeError> | null,
  env: Env,
): Promise<Result<'cached' | 'compiled', NativeError>> {
  const target = addonPath(site);
  if (toolchain === null) {
    await copyAtomically(cached, target);
    return ok('cached');
  }
  const tools = toolchain;
  if (!tools.ok) return tools;
  const args = [
    tools.value.nodeGyp,
    'rebuild',
    '--module_name=tfjs_binding',
    `--module_path=${path.dirname(target)}`,
    `--napi_build_version=${napiVersion(site)}`,
  ];
  if (tools.value.nodeDir !== null) args.push(`--nodedir=${tools.value.nodeDir}`);
  const result = await execa(process.execPath, args, { cwd: site.packageDir, env, extendEnv: false, reject: false, all: true });
  if (result.exitCode !== 0 || !existsSync(target)) {
    return err(
      nativeError(
        'NATIVE_BUILD_FAILED',
        `compiling tfjs-node's binding failed (node-gyp exit ${result.exitCode ?? 'signal'})`,
        'see the compiler output above; a TensorFlow C API much older than 2.9 may lack functions the binding uses',
        lastLines(result.all ?? '', 15),
      ),
    );
  }
  await copyAtomically(target, cached);
  await rm(path.join(site.packageDir, 'build'), { recursive: true, force: true });
  return ok('compiled');
}
