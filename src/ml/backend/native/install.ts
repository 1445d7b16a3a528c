import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { err, ok, type Result } from '../../../base/result.js';
import { addonCacheFile, addonPath, ensureNodePackage, linkDeps, provideAddon } from './build.js';
import { C_API_CORE, dynamicSymbols, missingSymbols } from './elf.js';
import { nativeError, type NativeError } from './errors.js';
import { nativeCache, nodePackageSite, type NativeCache, type NodePackageSite } from './paths.js';
import { downloadWheel, rememberedPipSource, rememberPipSource } from './pip-source.js';
import { classifySource, DEFAULT_WHEEL_REQUIREMENT, type LibtensorflowSource } from './source.js';
import { readNativeState, writeNativeState, type NativeState } from './state.js';
import { nativeProblem } from './status.js';
import { findToolchain } from './toolchain.js';
import { readEntrySource, unpackLibtensorflow, type LibtensorflowEntry } from './unpack.js';
import { verifyNative } from './verify.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface InstallOptions {
  /** An explicit source (`--from`); otherwise BLU_LIBTENSORFLOW, then pip. */
  readonly from?: string;
  /** Rebuild even when a verified backend is installed. */
  readonly force?: boolean;
  readonly env: Env;
  /** Progress lines, for people. */
  readonly report: (line: string) => void;
  /** Where tfjs-node goes; defaults to beside the @tensorflow/tfjs blu-pipe uses (tests pass their own). */
  readonly site?: NodePackageSite;
}

export interface InstallOutcome {
  readonly state: NativeState;
  /** What this call had to do, for the summary line. */
  readonly did: 'nothing' | 'verified-registry' | 'linked' | 'built';
}

async function pickSource(options: InstallOptions, cache: NativeCache): Promise<Result<LibtensorflowSource, NativeError>> {
  if (options.from !== undefined) return classifySource(options.from, '--from');
  const fromEnv = options.env.BLU_LIBTENSORFLOW;
  if (fromEnv !== undefined && fromEnv !== '') return classifySource(fromEnv, 'BLU_LIBTENSORFLOW');
  const remembered = rememberedPipSource(cache.downloads, DEFAULT_WHEEL_REQUIREMENT);
  if (remembered !== null && (await readEntrySource(path.join(cache.libtensorflow, remembered.id))) !== null) return ok(remembered);
  options.report(`downloading ${DEFAULT_WHEEL_REQUIREMENT} with pip (no BLU_LIBTENSORFLOW set)…`);
  return downloadWheel(cache.downloads, DEFAULT_WHEEL_REQUIREMENT, options.env);
}

/** The two files binding.gyp links against (-ltensorflow -ltensorflow_framework). */
function linkedLibraries(entry: LibtensorflowEntry): string[] {
  return ['libtensorflow.so', 'libtensorflow_framework.so'].map((f) => path.join(entry.lib, f));
}

async function unpackChecked(
  source: LibtensorflowSource,
  cache: NativeCache,
  report: (line: string) => void,
): Promise<Result<LibtensorflowEntry, NativeError>> {
  const known = (await readEntrySource(path.join(cache.libtensorflow, source.id))) !== null;
  if (source.kind !== 'directory' && !known) report(`unpacking ${path.basename(source.path)} into ${cache.libtensorflow} (once per user)…`);
  const entry = await unpackLibtensorflow(source, cache.libtensorflow);
  if (!entry.ok) return entry;
  if (source.via === 'pip download' && entry.value.unpacked) {
    await rememberPipSource(cache.downloads, DEFAULT_WHEEL_REQUIREMENT, source);
    await rm(path.dirname(source.path), { recursive: true, force: true });
  }
  const missing = await missingSymbols(
    linkedLibraries(entry.value).filter((f) => existsSync(f)),
    C_API_CORE,
  );
  if (missing !== null && missing.length > 0) {
    await rm(entry.value.dir, { recursive: true, force: true });
    return err(
      nativeError(
        'NATIVE_NO_C_API',
        `${source.path} has a TensorFlow library without the C API (${missing.join(', ')} not exported)`,
        'use a TensorFlow 2.x CPU or GPU wheel, or an official libtensorflow .tar.gz; both export TF_* and TFE_*',
      ),
    );
  }
  return entry;
}

// After compiling: every TF_/TFE_ function the addon imports must exist in the library, or loading
// would fail later with a bare "undefined symbol".
async function checkAddonImports(addon: string, entry: LibtensorflowEntry): Promise<Result<void, NativeError>> {
  const imports = await dynamicSymbols(addon);
  if (imports === null) return ok(undefined);
  const wanted = [...imports.undefined].filter((name) => /^TFE?_/.test(name));
  const missing = await missingSymbols(linkedLibraries(entry), wanted);
  if (missing === null || missing.length === 0) return ok(undefined);
  return err(
    nativeError(
      'NATIVE_NO_C_API',
      `the library lacks ${missing.length} C API function(s) tfjs-node calls: ${missing.slice(0, 5).join(', ')}`,
      'use a TensorFlow 2.x build (2.9 or later is known to work)',
    ),
  );
}

async function verifiedState(site: NodePackageSite, entry: LibtensorflowEntry | null, env: Env): Promise<Result<NativeState, NativeError>> {
  const check = await verifyNative(env);
  if (!check.ok) return check;
  const state: NativeState = {
    ...check.value,
    origin: entry === null ? 'registry' : 'built',
    source: entry?.source ?? null,
    libtensorflowDir: entry?.dir ?? null,
    addon: addonPath(site),
    verifiedAt: new Date().toISOString(),
  };
  await writeNativeState(site.packageDir, state);
  return ok(state);
}

async function buildAgainst(
  site: NodePackageSite,
  source: LibtensorflowSource,
  cache: NativeCache,
  options: InstallOptions,
): Promise<Result<InstallOutcome, NativeError>> {
  const entry = await unpackChecked(source, cache, options.report);
  if (!entry.ok) return entry;
  const fetched = await ensureNodePackage(site, options.env);
  if (!fetched.ok) return fetched;
  const cached = addonCacheFile(cache.addons, site, entry.value);
  // Check the toolchain before touching the installed package, so a missing compiler breaks nothing.
  const toolchain = existsSync(cached) ? null : findToolchain(options.env);
  if (toolchain !== null && !toolchain.ok) return toolchain;
  await linkDeps(site, entry.value);
  if (toolchain !== null)
    options.report(
      `compiling tfjs-node's binding against ${source.version === null ? 'the library' : `TensorFlow ${source.version}`} (about 20 s)…`,
    );
  const addon = await provideAddon(site, cached, toolchain, options.env);
  if (!addon.ok) return addon;
  const imports = await checkAddonImports(addonPath(site), entry.value);
  if (!imports.ok) return imports;
  options.report('verifying: conv2d and depthwise conv, forward and gradients, against the cpu backend…');
  const state = await verifiedState(site, entry.value, options.env);
  if (!state.ok) return state;
  return ok({ state: state.value, did: addon.value === 'compiled' ? 'built' : 'linked' });
}

/** Makes the native backend usable: keeps a verified one, adopts a registry install, or builds one. Idempotent. */
export async function installNative(options: InstallOptions): Promise<Result<InstallOutcome, NativeError>> {
  if (process.platform !== 'linux') {
    return err(
      nativeError(
        'NATIVE_UNSUPPORTED',
        `building tfjs-node from a local libtensorflow is supported on Linux only (this is ${process.platform})`,
        'on this platform, npm install @tensorflow/tfjs-node with internet access',
      ),
    );
  }
  const site = options.site ?? nodePackageSite();
  const cache = nativeCache(options.env);
  const current = readNativeState(site.packageDir);
  const explicit = options.from ?? (options.env.BLU_LIBTENSORFLOW || undefined);
  const sameSource = explicit === undefined || current?.source?.path === path.resolve(explicit);
  // The binding and the cached library it links to must still be there (someone may have cleared ~/.cache).
  if (options.force !== true && current !== null && sameSource && nativeProblem(current, site) === null)
    return ok({ state: current, did: 'nothing' });
  // tfjs-node's own install script succeeded (a machine with internet): check it and keep it.
  if (options.from === undefined && options.force !== true && current === null && hasAddon(site)) {
    const registry = await verifiedState(site, null, options.env);
    if (registry.ok) return ok({ state: registry.value, did: 'verified-registry' });
    options.report(`the installed tfjs-node does not work (${registry.error.message}); building one instead`);
  }
  const source = await pickSource(options, cache);
  if (!source.ok) return source;
  return buildAgainst(site, source.value, cache, options);
}

function hasAddon(site: NodePackageSite): boolean {
  return existsSync(path.join(site.packageDir, 'package.json')) && existsSync(addonPath(site));
}

/** The one line `npm ci` prints about the native backend: what it got, or why not and how to get it. */
export function installSummary(result: Result<InstallOutcome, NativeError>): string {
  if (!result.ok)
    return `no native TensorFlow backend (${result.error.message}); the wasm backend will be used. To get one: ${result.error.fix}`;
  const { state, did } = result.value;
  const from = state.origin === 'registry' ? 'tfjs-node from the registry' : `built against ${state.source?.id ?? 'a local libtensorflow'}`;
  return `native TensorFlow backend ${did === 'nothing' ? 'already installed' : 'ready'}: TensorFlow ${state.tfVersion} (${from})`;
}
