import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { err, ok, type Result } from '../../base/result.js';
import { registerCpuTrainingKernels, registerWasmTrainingKernels } from '../kernels/index.js';
import { registerNativeTrainingGradients } from '../kernels/native-ops.js';
import { applyNativeEnvDefaults, onednnSetting, threadSettings } from './native/env-defaults.js';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** What the native TensorFlow library reports and how it was configured when it loaded. */
export interface NativeInfo {
  tfVersion: string;
  onednn: string;
  threads: string;
}

export interface BackendInfo {
  name: BackendName;
  reason: string;
  threads: number;
  simd: boolean;
  tried: { name: BackendName; ok: boolean; detail: string }[];
  native?: NativeInfo;
}

type Attempt = Result<{ threads: number; simd: boolean; detail: string; native?: NativeInfo }, string>;

const ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

let active: BackendInfo | undefined;

/** One line from any thrown value: the module loader's code if present, else the first line. */
function oneLine(e: unknown): string {
  const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
  const message = e instanceof Error ? e.message : String(e);
  const first = message.split('\n')[0] ?? '';
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return `not installed (${code})`;
  return code !== '' ? `${code}: ${first}` : first;
}

// A variable specifier keeps TypeScript from resolving optional packages that may be absent.
async function importOptional(specifier: string): Promise<Result<unknown, string>> {
  try {
    return ok(await import(specifier));
  } catch (e) {
    return err(oneLine(e));
  }
}

function gpuDevicePresent(): boolean {
  return existsSync('/dev/nvidiactl') || existsSync('/dev/nvidia0');
}

async function tryNative(pkg: string, gpu: boolean): Promise<Attempt> {
  if (gpu && !gpuDevicePresent()) return err('no NVIDIA device (/dev/nvidia0 absent); not loaded');
  // libtensorflow reads these once, when it loads: set them before the import.
  const onednnByUser = process.env.TF_ENABLE_ONEDNN_OPTS !== undefined;
  applyNativeEnvDefaults(process.env);
  const loaded = await importOptional(pkg);
  if (!loaded.ok) return loaded;
  try {
    if (!(await tf.setBackend('tensorflow'))) return err(`${pkg} loaded but the 'tensorflow' backend failed to initialise`);
  } catch (e) {
    return err(oneLine(e));
  }
  registerNativeTrainingGradients();
  const binding = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding;
  const native: NativeInfo = {
    tfVersion: binding?.TF_Version ?? 'unknown',
    onednn: onednnSetting(process.env, onednnByUser),
    threads: threadSettings(process.env, availableParallelism()),
  };
  return ok({ threads: 0, simd: false, detail: `${pkg}, TensorFlow ${native.tfVersion} (libtensorflow)`, native });
}

interface WasmModule {
  getThreadsCount(): number;
}

async function tryWasm(): Promise<Attempt> {
  const loaded = await importOptional('@tensorflow/tfjs-backend-wasm');
  if (!loaded.ok) return loaded;
  try {
    if (!(await tf.setBackend('wasm'))) return err('wasm backend failed to initialise');
  } catch (e) {
    return err(oneLine(e));
  }
  registerWasmTrainingKernels();
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  const threads = (loaded.value as WasmModule).getThreadsCount();
  return ok({
    threads,
    simd,
    detail: `XNNPACK ${simd ? 'SIMD' : 'scalar'} binary, ${threads} thread(s), composed training kernels registered`,
  });
}

async function tryCpu(): Promise<Attempt> {
  try {
    if (await tf.setBackend('cpu')) {
      registerCpuTrainingKernels();
      return ok({ threads: 1, simd: false, detail: 'plain JavaScript kernels (composed Conv2DBackpropFilter registered)' });
    }
    return err('cpu backend failed to initialise');
  } catch (e) {
    return err(oneLine(e));
  }
}

function attempt(name: BackendName): Promise<Attempt> {
  switch (name) {
    case 'tensorflow-gpu':
      return tryNative('@tensorflow/tfjs-node-gpu', true);
    case 'tensorflow':
      return tryNative('@tensorflow/tfjs-node', false);
    case 'wasm':
      return tryWasm();
    case 'cpu':
      return tryCpu();
  }
}

export function parseBackendName(value: string | undefined): BackendName | 'auto' | undefined {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  return (ORDER as readonly string[]).includes(value) ? (value as BackendName) : undefined;
}

function resolvePreference(preference: BackendName | 'auto'): Result<BackendName | 'auto', { message: string }> {
  if (preference !== 'auto') return ok(preference);
  const fromEnv = parseBackendName(process.env.BLU_BACKEND);
  if (fromEnv === undefined) return err({ message: `BLU_BACKEND=${process.env.BLU_BACKEND}: expected auto|${ORDER.join('|')}` });
  return ok(fromEnv);
}

/**
 * Picks the fastest usable tensor backend: tfjs-node-gpu (if installed and a GPU exists),
 * tfjs-node, wasm (with our training kernels), then cpu. An explicit preference (argument, or
 * env BLU_BACKEND when the argument is 'auto') tries only that backend. Idempotent.
 */
export async function initBackend(preference: BackendName | 'auto' = 'auto'): Promise<Result<BackendInfo, { message: string }>> {
  const wanted = resolvePreference(preference);
  if (!wanted.ok) return wanted;
  if (active !== undefined && (wanted.value === 'auto' || wanted.value === active.name)) {
    await ensureActive(active.name);
    return ok(active);
  }
  const candidates = wanted.value === 'auto' ? ORDER : [wanted.value];
  const tried: BackendInfo['tried'] = [];
  for (const name of candidates) {
    const result = await attempt(name);
    tried.push({ name, ok: result.ok, detail: result.ok ? result.value.detail : result.error });
    if (!result.ok) continue;
    const reason =
      wanted.value === 'auto'
        ? `first usable in order ${ORDER.join(' > ')}`
        : `requested (${preference === 'auto' ? 'BLU_BACKEND' : 'argument'})`;
    active = {
      name,
      reason,
      threads: result.value.threads,
      simd: result.value.simd,
      tried,
      ...(result.value.native ? { native: result.value.native } : {}),
    };
    return ok(active);
  }
  return err({ message: `no usable backend: ${tried.map((t) => `${t.name}: ${t.detail}`).join('; ')}` });
}

// Someone may have switched tf's backend since; the registered kernels stay in place.
async function ensureActive(name: BackendName): Promise<void> {
  const tfName = name === 'tensorflow-gpu' ? 'tensorflow' : name;
  if (tf.getBackend() !== tfName) await tf.setBackend(tfName);
}

export function activeBackend(): BackendInfo | undefined {
  return active;
}
