import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { addonPath } from './build.js';
import { nativeCache, nodePackageSite, type NodePackageSite } from './paths.js';
import { readNativeState, type NativeState } from './state.js';
import { verifyNative } from './verify.js';

export interface NativeStatus {
  readonly usable: boolean;
  readonly summary: string;
  readonly state: NativeState | null;
  readonly problem: string | null;
  readonly fix: string | null;
  readonly cacheDir: string;
  readonly cacheEntries: string[];
  readonly disabled: boolean;
}

const HOW_TO_GET = 'npx blu-pipe native install   (or --from <TensorFlow wheel | libtensorflow .tar.gz | dir>)';

/** Why an installed native backend cannot work now (files gone since it was verified), or null. */
export function nativeProblem(state: NativeState | null, site: NodePackageSite): string | null {
  if (!existsSync(path.join(site.packageDir, 'package.json')))
    return '@tensorflow/tfjs-node is not installed (npm drops it when its download fails offline)';
  if (state === null)
    return existsSync(addonPath(site))
      ? 'tfjs-node is installed but was never verified'
      : 'tfjs-node is installed without its native binding';
  if (!existsSync(state.addon)) return `the binding ${state.addon} is gone`;
  if (state.libtensorflowDir !== null && !existsSync(path.join(state.libtensorflowDir, 'source.json')))
    return `the library ${state.libtensorflowDir} is gone from the cache`;
  return null;
}

/** What is installed and whether it works; `verify` loads it again in a fresh process. */
export async function nativeStatus(env: Readonly<Record<string, string | undefined>>, verify: boolean): Promise<NativeStatus> {
  const site = nodePackageSite();
  const cache = nativeCache(env);
  const state = readNativeState(site.packageDir);
  let problem = nativeProblem(state, site);
  if (problem === null && verify) {
    const check = await verifyNative(env);
    if (!check.ok) problem = check.error.message;
  }
  const cacheEntries = existsSync(cache.libtensorflow) ? readdirSync(cache.libtensorflow).filter((d) => !d.includes('.partial-')) : [];
  const disabled = env.BLU_NATIVE === '0';
  const summary =
    problem === null
      ? `ready${verify ? ' (loaded and checked just now)' : ''}`
      : `not available; wasm is used${disabled ? ' (BLU_NATIVE=0 skips it at install)' : ''}`;
  return {
    usable: problem === null,
    summary,
    state,
    problem,
    fix: problem === null ? null : HOW_TO_GET,
    cacheDir: cache.root,
    cacheEntries,
    disabled,
  };
}
