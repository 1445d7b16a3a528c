import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the once-per-user native files live: unpacked libtensorflow, downloads, compiled addons. */
export interface NativeCache {
  readonly root: string;
  readonly libtensorflow: string;
  readonly downloads: string;
  readonly addons: string;
}

export function nativeCache(env: Readonly<Record<string, string | undefined>>): NativeCache {
  const base = env.BLU_NATIVE_CACHE ?? path.join(env.XDG_CACHE_HOME ?? path.join(env.HOME ?? os.homedir(), '.cache'), 'blu-pipe', 'native');
  return {
    root: base,
    libtensorflow: path.join(base, 'libtensorflow'),
    downloads: path.join(base, 'downloads'),
    addons: path.join(base, 'addons'),
  };
}

/** The tfjs-node package blu-pipe would load, and the npm project whose node_modules holds it. */
export interface NodePackageSite {
  /** node_modules/@tensorflow/tfjs-node (may not exist yet). */
  readonly packageDir: string;
  /** The directory whose node_modules holds it; `npm install` runs there. */
  readonly projectDir: string;
  /** The tfjs-node version blu-pipe asks for: its optionalDependencies pin, else tfjs's own version. */
  readonly version: string;
}

const requireHere = createRequire(import.meta.url);

function blupipePackageJson(): { optionalDependencies?: Record<string, string> } {
  return JSON.parse(readFileSync(path.join(blupipeRoot(), 'package.json'), 'utf8')) as { optionalDependencies?: Record<string, string> };
}

// tfjs-node must sit beside the @tensorflow/tfjs that blu-pipe itself resolves, or it would bind
// to a second copy of tfjs-core and register its backend where nobody looks.
export function nodePackageSite(): NodePackageSite {
  const tfjsPackage = requireHere.resolve('@tensorflow/tfjs/package.json');
  const scopeDir = path.dirname(path.dirname(tfjsPackage));
  const tfjsVersion = (JSON.parse(readFileSync(tfjsPackage, 'utf8')) as { version: string }).version;
  const pinned = blupipePackageJson().optionalDependencies?.['@tensorflow/tfjs-node'];
  return {
    packageDir: path.join(scopeDir, 'tfjs-node'),
    projectDir: path.dirname(path.dirname(scopeDir)),
    version: pinned !== undefined && /^\d+\.\d+\.\d+$/.test(pinned) ? pinned : tfjsVersion,
  };
}

/** The blu-pipe package root (holds package.json and dist/), from src/ or dist/src/ alike. */
export function blupipeRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const rel of ['../../../../..', '../../../..']) {
    const dir = path.resolve(here, rel);
    const file = path.join(dir, 'package.json');
    if (!existsSync(file)) continue;
    if ((JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'blu-pipe') return dir;
  }
  throw new Error(`blu-pipe's package.json not found above ${here}`);
}
