/**
 * The native engine: the C++ kernels of native/engine (AVX-512, AVX2+FMA or portable, chosen at
 * run time by the CPU) behind the same EngineKernels as the wasm module. makeKernels (wasm.ts)
 * lays every block out in one memory and calls the row kernels by name; here that memory is a
 * resizable ArrayBuffer (its address never moves as it grows, so the addon reads it in place) and
 * the row kernels run on the addon's std::thread pool. forward.ts, bitmaps.ts and the host-side
 * layout code are shared with the wasm engine.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { err, ok, type Result } from '../../base/result.js';
import type { EngineChoice } from './choice.js';
import { nativeEngineCacheFile } from './native-build.js';
import type { RowExports, RowFunction, RowPool, WasmMemory } from './threads.js';
import { loadWasmKernels, makeKernels, toCacheLine, type KernelExports, type WasmKernels } from './wasm.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Instruction sets the addon is compiled for; `auto` takes the best this CPU runs. */
export type NativeIsa = 'avx512' | 'avx2' | 'portable' | 'auto';

interface NativeAddon {
  create(isa: NativeIsa, threads: number): object;
  describe(handle: object): { name: string; panelStrip: number; threads: number };
  run(handle: object, memory: ArrayBuffer, kernel: number, args: Float64Array, perThread: boolean): number;
  profile(on: boolean): Record<NativeStage, number>;
  cpu(): { best: Exclude<NativeIsa, 'auto'>; avx512: boolean; avx2: boolean };
}

// The addon's kernel ids (native/engine/src/table.h, enum KernelId).
const KERNEL_IDS: Record<RowFunction | 'binariseRow' | 'binaryConvRow', number> = {
  firstRows: 0,
  xnorRows: 1,
  xnorRowsMasked: 2,
  separableRows: 3,
  maxPoolRows: 4,
  maxPoolOrderedRows: 5,
  binariseRow: 6,
  binaryConvRow: 7,
};
const PEAK_IDS = { fma: 8, xnor: 9 } as const;

/** Kernel stages the addon can time (thread-nanoseconds, summed over threads). */
export type NativeStage = 'first' | 'xnor' | 'decode' | 'depthwise' | 'gemm' | 'binarise' | 'pool';

export interface NativeKernels extends WasmKernels {
  /** Turns stage timing on or off; returns the nanoseconds per stage since the last call (all engines in the process share them). */
  profile(on: boolean): Record<NativeStage, number>;
  /**
   * Operations per second of thread CPU time (per core), with all threads running at once, of a
   * register-only loop of a kernel's instruction mix: `fma` multiply-adds (the GEMM's,
   * depthwise's, first conv's), `xnor` binary multiply-adds (bits through the XNOR conv's
   * XOR-popcount-add). The arithmetic limit.
   */
  peak(kind: keyof typeof PEAK_IDS, iterations: number): number;
}

export type NativeLoadError = { readonly message: string };

const requireHere = createRequire(import.meta.url);

/** The compiled addon: BLU_ENGINE_ADDON if set, else the per-user cache entry of these sources. */
export function nativeAddonFile(env: Env): Result<string, NativeLoadError> {
  const explicit = env.BLU_ENGINE_ADDON;
  if (explicit !== undefined && explicit !== '')
    return existsSync(explicit) ? ok(explicit) : err({ message: `BLU_ENGINE_ADDON=${explicit} does not exist` });
  const cached = nativeEngineCacheFile(env);
  if (cached === null) return err({ message: "the native engine's C++ sources are not in this install" });
  if (!existsSync(cached))
    return err({
      message:
        'the native engine is not built (npm ci builds it when a C++ compiler, make and python3 are present; or run: npx blu-pipe native engine)',
    });
  return ok(cached);
}

function loadAddon(env: Env): Result<NativeAddon, NativeLoadError> {
  const file = nativeAddonFile(env);
  if (!file.ok) return file;
  try {
    return ok(requireHere(file.value) as NativeAddon);
  } catch (e) {
    return err({ message: `the native engine ${file.value} does not load: ${e instanceof Error ? e.message : String(e)}` });
  }
}

/** What this CPU gives the native engine, or why it is not available. */
export function nativeEngineInfo(env: Env = process.env): Result<{ readonly best: string; readonly file: string }, NativeLoadError> {
  const addon = loadAddon(env);
  if (!addon.ok) return addon;
  const file = nativeAddonFile(env);
  return ok({ best: addon.value.cpu().best, file: file.ok ? file.value : '' });
}

/** A growable memory whose bytes never move: a resizable ArrayBuffer reserving 4 GiB of address space. */
function resizableMemory(): WasmMemory & { readonly buffer: ArrayBuffer } {
  type Resizable = ArrayBuffer & { resize(bytes: number): void };
  const Ctor = ArrayBuffer as unknown as new (bytes: number, options: { maxByteLength: number }) => Resizable;
  const buffer = new Ctor(65536, { maxByteLength: 2 ** 32 });
  return {
    buffer,
    grow(pages: number) {
      const before = buffer.byteLength / 65536;
      buffer.resize(buffer.byteLength + pages * 65536);
      return before;
    },
  };
}

const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

export interface NativeKernelOptions {
  /** Threads per block (the caller plus pool threads): default one per CPU. */
  readonly threads?: number;
  /** Force an instruction set (tests run every one this CPU has); default the best. */
  readonly isa?: NativeIsa;
  readonly env?: Env;
}

/** The native kernels; an error (never a throw) when the addon is not built or this CPU cannot run `isa`. */
export async function loadNativeKernels(options: NativeKernelOptions = {}): Promise<Result<NativeKernels, NativeLoadError>> {
  const addon = loadAddon(options.env ?? process.env);
  if (!addon.ok) return addon;
  const { availableParallelism } = await import('node:os');
  const threads = Math.max(1, Math.floor(options.threads ?? availableParallelism()));
  let handle: object;
  try {
    handle = addon.value.create(options.isa ?? 'auto', threads);
  } catch (e) {
    return err({ message: `native engine (${options.isa ?? 'auto'}): ${e instanceof Error ? e.message : String(e)}` });
  }
  const native = addon.value;
  const info = native.describe(handle);
  const memory = resizableMemory();
  const call = (id: number, args: readonly number[]) => native.run(handle, memory.buffer, id, Float64Array.from(args), false);
  const rows = Object.fromEntries(
    Object.entries(KERNEL_IDS).map(([name, id]) => [name, (...args: number[]) => call(id, args)]),
  ) as unknown as RowExports;
  const ex: KernelExports = {
    ...rows,
    memory,
    panelStrip: info.panelStrip,
    readsUpsampled: true,
    binariseRow: (...args) => call(KERNEL_IDS.binariseRow, args),
    // The wasm module's scratch layouts (assembly/kernels.ts), which the addon reads at the same
    // places, except the separable one (kernels.h separableRows): it computes rows in pairs from
    // a ring of 4 decoded rows and a zero row, each with a zero pixel at both ends; its rows and
    // depthwise weights have up to cinPad + 16 floats per pixel and per tap.
    firstScratchBytes: (width, fPad) => align16(width * fPad * 4),
    xnorScratchBytes: (aLevels, units, width, fPad) => 2 * align16(aLevels * units * 8) + align16(width * fPad * 4),
    separableScratchBytes: (width, cinPad, fPad, k) => {
      const stride = cinPad + 16;
      return (
        5 * toCacheLine((width + 2) * stride * 4) +
        2 * toCacheLine(width * stride * 4) +
        toCacheLine(width * fPad * 4) +
        toCacheLine(k * k * stride * 4)
      );
    },
  };
  const pool: RowPool = {
    threads,
    run(name, args) {
      const perThread = Array.from({ length: threads }, (_, t) => args(t));
      const flat = new Float64Array(perThread.reduce((n, a) => n + a.length, 0));
      perThread.forEach((a, t) => flat.set(a, t * a.length));
      return native.run(handle, memory.buffer, KERNEL_IDS[name], flat, true);
    },
    close: async () => undefined,
  };
  const peak = (kind: keyof typeof PEAK_IDS, iterations: number) => {
    const opsPerIteration = native.run(handle, memory.buffer, PEAK_IDS[kind], Float64Array.of(0), false);
    const cpuMicros = native.run(handle, memory.buffer, PEAK_IDS[kind], new Float64Array(threads).fill(iterations), true);
    return (opsPerIteration * iterations * threads) / (cpuMicros / 1e6);
  };
  return ok({ ...makeKernels(ex, pool, `native ${info.name}`), profile: (on) => native.profile(on), peak });
}

/**
 * The kernels for `--engine`: `native` fails when the addon is unavailable, `auto` takes native
 * when it loads and wasm otherwise; `why` says which runs and why (for doctor and the logs).
 */
export async function loadEngineKernels(
  choice: EngineChoice,
  options: { readonly threads?: number; readonly env?: Env } = {},
): Promise<Result<{ readonly kernels: WasmKernels; readonly why: string }, NativeLoadError>> {
  const threadOption = options.threads !== undefined ? { threads: options.threads } : {};
  let fallback = '';
  if (choice !== 'wasm') {
    const native = await loadNativeKernels({ ...threadOption, ...(options.env ? { env: options.env } : {}) });
    if (native.ok) return ok({ kernels: native.value, why: `${native.value.name} (--engine ${choice})` });
    if (choice === 'native') return native;
    fallback = `: native unavailable (${native.error.message})`;
  }
  const wasm = await loadWasmKernels(threadOption);
  if (!wasm.ok) return wasm;
  return ok({ kernels: wasm.value, why: `${wasm.value.name} (--engine ${choice}${fallback})` });
}

const ISA_NAMES: Record<string, string> = { avx512: 'AVX-512 (VPOPCNTDQ, FMA)', avx2: 'AVX2+FMA', portable: 'portable C++' };

/** One line for `blu-pipe doctor`: which binary engine `--engine auto` runs, and why. */
export function describeEngine(env: Env = process.env): string {
  const info = nativeEngineInfo(env);
  if (!info.ok) return `binary engine: wasm SIMD (--engine auto); native not available: ${info.error.message}`;
  const why = info.value.best === 'portable' ? 'this CPU has neither AVX-512 VPOPCNTDQ nor AVX2+FMA' : 'chosen at run time for this CPU';
  return `binary engine: native ${ISA_NAMES[info.value.best] ?? info.value.best} (--engine auto; ${why}; ${info.value.file}); wasm SIMD with --engine wasm`;
}
