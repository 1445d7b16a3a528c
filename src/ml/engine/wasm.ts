/**
 * The WebAssembly SIMD kernels (assembly/kernels.ts, built to kernels.wasm by `npm run build`)
 * behind the EngineKernels interface. Each block call lays its inputs out in linear memory,
 * runs the fused row kernels (conv → binarisation, so no block's fp32 output is ever whole) and
 * copies the sign planes back. Exact-zero signs (rare) take a masked XNOR kernel.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { err, ok, type Result } from '../../base/result.js';
import type { EngineImage, EngineKernels } from './kernels.js';
import { effectiveKernel, kernelSigns, type ActivationLayer, type Block, type ConvLayer, type SeparableLayer } from './model.js';
import { codeRanks } from './bitmaps.js';
import { binariseReference, binaryConvReference, referenceKernels } from './reference.js';
import { channelMask, popcount32, wordsFor, type BinaryTensor, type BitPlanes } from './tensors.js';
import { singleThreadPool, wasmApi, workerPool, type RowExports, type RowFunction, type RowPool, type WasmMemory } from './threads.js';

/** What makeKernels needs from a kernel module: the wasm exports, or the native addon behind the same names (native.ts). */
export interface KernelExports extends RowExports {
  readonly memory: WasmMemory;
  /** Filters per pointwise panel strip its GEMM reads (pointwisePanels); 8 when absent. */
  readonly panelStrip?: number;
  binariseRow(
    y: number,
    width: number,
    fPad: number,
    channels: number,
    gammas: number,
    levels: number,
    signs: number,
    nonzero: number,
    pixels: number,
    words: number,
    pixelStart: number,
    deadZone: number,
  ): number;
  firstScratchBytes(width: number, fPad: number): number;
  xnorScratchBytes(aLevels: number, units: number, width: number, fPad: number): number;
  separableScratchBytes(width: number, cinPad: number, fPad: number, k: number): number;
  /** separableRows reads a nearest ×2 upsample of its input in place (its last argument, `up`). */
  readonly readsUpsampled?: boolean;
}

const pad4 = (n: number) => Math.ceil(n / 4) * 4;

const CACHE_LINE = 64;

/** `bytes` rounded up to whole cache lines (64 bytes). */
export const toCacheLine = (bytes: number) => Math.ceil(bytes / CACHE_LINE) * CACHE_LINE;

/** Bump allocator over the module's memory, reset at the start of every block. */
export class Arena {
  private top: number;
  constructor(
    private readonly memory: WasmMemory,
    private readonly base: number,
  ) {
    this.top = base;
  }

  reset(): void {
    this.top = this.base;
  }

  /** Zeroed, cache-line (64-byte) aligned: the native kernels' 512-bit loads then never straddle two lines. */
  alloc(bytes: number): number {
    const at = toCacheLine(this.top);
    this.top = at + bytes;
    const missing = this.top - this.memory.buffer.byteLength;
    if (missing > 0) this.memory.grow(Math.ceil(missing / 65536));
    new Uint8Array(this.memory.buffer, at, bytes).fill(0);
    return at;
  }

  /** Room for one `bytes`-sized scratch area per thread. */
  perThread(threads: number, bytes: number): (thread: number) => number {
    const stride = toCacheLine(bytes);
    const at = this.alloc(stride * threads);
    return (thread) => at + thread * stride;
  }

  put(data: Float32Array | Uint32Array | Int32Array): number {
    const at = this.alloc(data.byteLength);
    new Uint8Array(this.memory.buffer, at, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return at;
  }

  u32(at: number, length: number): Uint32Array {
    return new Uint32Array(this.memory.buffer, at, length);
  }

  f32(at: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, at, length);
  }

  i32(at: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, at, length);
  }

  get highWater(): number {
    return this.memory.buffer.byteLength;
  }
}

/** [rows][cols] → [rows][colsPad] with zero columns. */
function padColumns(values: Float32Array, rows: number, cols: number, colsPad: number): Float32Array {
  if (cols === colsPad) return values;
  const out = new Float32Array(rows * colsPad);
  for (let r = 0; r < rows; r++) out.set(values.subarray(r * cols, (r + 1) * cols), r * colsPad);
  return out;
}

const padTo = (values: Float32Array, length: number) => {
  const out = new Float32Array(length);
  out.set(values);
  return out;
};

/**
 * A pointwise kernel [cin][filters] in gemmRow's layout: strips of `width` filters (8 for wasm,
 * 16 for the native kernels; the last strip may be narrower, a multiple of 4), each a contiguous
 * [cinPad][strip] panel starting at float f·cinPad; padding is zero.
 */
export function pointwisePanels(kernel: Float32Array, cin: number, filters: number, width = 8): Float32Array {
  const cinPad = pad4(cin);
  const fPad = pad4(filters);
  const out = new Float32Array(cinPad * fPad);
  for (let f0 = 0; f0 < fPad; f0 += width) {
    const strip = Math.min(width, fPad - f0);
    for (let c = 0; c < cin; c++) {
      for (let j = 0; j < strip && f0 + j < filters; j++) out[f0 * cinPad + c * strip + j] = kernel[c * filters + f0 + j] as number;
    }
  }
  return out;
}

/**
 * Whether the codes of ±1 signs (bit n = level n, no zero flags) rank by value exactly as their
 * bits compare read level 0 first, with no ties: maxPoolOrderedRows' condition (≤ 3 levels).
 */
export function lexicographicRanks(ranks: Int32Array, levels: number): boolean {
  if (levels > 3) return false;
  const codes = 1 << levels;
  // Lexicographic key: level 0 as the most significant bit.
  const key = (code: number) => Array.from({ length: levels }, (_, n) => ((code >> n) & 1) << (levels - 1 - n)).reduce((a, b) => a | b, 0);
  const byKey = Array.from({ length: codes }, (_, code) => code).sort((a, b) => key(a) - key(b));
  return byKey.every((code, i) => i === 0 || (ranks[code] as number) > (ranks[byKey[i - 1] as number] as number));
}

/** Decoded fp32 kernels per layer: decoding costs more than a small layer's conv, so it is kept. */
class DecodedCache {
  private readonly cache = new WeakMap<object, Float32Array>();
  bytes = 0;
  get(key: object, make: () => Float32Array): Float32Array {
    let v = this.cache.get(key);
    if (!v) {
      v = make();
      this.cache.set(key, v);
      this.bytes += v.byteLength;
    }
    return v;
  }
}

interface XnorWeights {
  readonly weights: Uint32Array;
  /** Same layout: the weights' nonzero bits (real channels only). */
  readonly nonzero: Uint32Array;
  readonly tapPop: Int32Array;
  readonly units: number;
}

/** Binary-conv weights as [m][f][units·2 words] (taps×words padded to whole 64-bit units) + per-tap popcounts. */
function xnorWeights(layer: ConvLayer): XnorWeights {
  const { k, filters } = layer.kernel;
  const taps = k * k;
  const { words, signs } = layer.packed;
  const levels = layer.kernel.gammas.length;
  const units = Math.ceil((taps * words) / 2);
  const weights = new Uint32Array(levels * filters * units * 2);
  const nonzero = new Uint32Array(weights.length);
  const tapPop = new Int32Array(levels * filters * taps);
  for (let mf = 0; mf < levels * filters; mf++) {
    weights.set(signs.subarray(mf * taps * words, (mf + 1) * taps * words), mf * units * 2);
    for (let i = 0; i < taps * words; i++) {
      nonzero[mf * units * 2 + i] = layer.packed.nonzero
        ? (layer.packed.nonzero[mf * taps * words + i] as number)
        : channelMask(layer.kernel.cin, i % words);
    }
    for (let t = 0; t < taps; t++) {
      let pop = 0;
      for (let w = 0; w < words; w++) pop += popcount32(signs[(mf * taps + t) * words + w] as number);
      tapPop[mf * taps + t] = pop;
    }
  }
  return { weights, nonzero, tapPop, units };
}

export interface WasmKernels extends EngineKernels {
  /** Threads every block's rows are split over (the caller plus workers). */
  readonly threads: number;
  /** Bytes of linear memory the module has grown to (its peak working set). */
  readonly memoryBytes: () => number;
  /** Bytes of decoded fp32 kernels held for reuse. */
  readonly decodedWeightBytes: () => number;
  /** BinaryConv2D calls that needed the masked kernel because of exact-zero signs. */
  readonly maskedConvs: () => number;
  /** Stops the worker threads (optional: they do not keep a process alive). */
  readonly close: () => Promise<void>;
}

/**
 * Rows a thread claims at a time. Every block ends in a wait for the threads still inside it,
 * and on a machine with more runnable threads than cores a worker can be descheduled holding
 * its chunk: with ~8 chunks per thread, 2-thread runs sat idle for a third of the wall time
 * (cpu/wall 0.66 at width 64, load 7 on 2 cores). At most 4 rows bounds that; 4 rather than 1 keeps
 * most of the separable blocks' decoded-row reuse (3 input rows per output row).
 */
const rowChunk = (rows: number, threads: number) =>
  threads === 1 ? Math.max(1, rows) : Math.max(1, Math.min(4, Math.ceil(rows / (threads * 8))));

/** The EngineKernels over a kernel module's row functions (wasm here; the native addon in native.ts). */
export function makeKernels(ex: KernelExports, pool: RowPool, name: string): WasmKernels {
  const arena = new Arena(ex.memory, ex.memory.buffer.byteLength);
  const decoded = new DecodedCache();
  const xnor = new WeakMap<ConvLayer, ReturnType<typeof xnorWeights>>();
  const putFloats = (values: Float32Array) => arena.put(values);
  const threads = pool.threads;
  let fallbacks = 0;

  /** Runs a row-loop kernel on every thread; `args(scratch, next, chunk)` are its arguments. Returns the exact-zero signs written. */
  function parallelRows(
    name: RowFunction,
    rows: number,
    scratchBytes: number,
    args: (scratch: number, next: number, chunk: number) => readonly number[],
  ): number {
    const scratch = arena.perThread(threads, scratchBytes);
    const next = arena.alloc(4);
    const chunk = rowChunk(rows, threads);
    return pool.run(name, (t) => args(scratch(t), next, chunk));
  }

  /** Output planes for `pixels` and the Binariser record (assembly/kernels.ts) the row kernels fill them through. */
  function outputPlanes(pixels: number, channels: number, { gammas, signDeadZone }: ActivationLayer) {
    const words = wordsFor(channels);
    const size = gammas.length * pixels * words;
    const signs = arena.alloc(size * 4);
    const nonzero = arena.alloc(size * 4);
    const gammaPtr = putFloats(gammas);
    const record = arena.alloc(32);
    arena.i32(record, 7).set([signs, nonzero, pixels, words, channels, gammaPtr, gammas.length]);
    arena.f32(record + 28, 1)[0] = signDeadZone;
    let zeros = 0;
    return {
      record,
      /** For the single-threaded corrected path (rows binarised from the host); overwrites the row. */
      row(y: number, width: number, fPad: number, rowPtr: number) {
        zeros += ex.binariseRow(
          rowPtr,
          width,
          fPad,
          channels,
          gammaPtr,
          gammas.length,
          signs,
          nonzero,
          pixels,
          words,
          y * width,
          signDeadZone,
        );
      },
      result(moreZeros = 0): BitPlanes {
        zeros += moreZeros;
        return {
          channels,
          words,
          levels: gammas.length,
          gammas,
          signs: arena.u32(signs, size).slice(),
          nonzero: zeros > 0 ? arena.u32(nonzero, size).slice() : null,
        };
      },
    };
  }

  function firstBlock(image: EngineImage, { conv, act }: Block<ConvLayer>): BitPlanes {
    const { k, cin, filters } = conv.kernel;
    if (cin !== 1) return referenceKernels.firstBlock(image, { conv, act });
    arena.reset();
    const { height, width } = image;
    const fPad = pad4(filters);
    const weights = putFloats(decoded.get(conv.kernel, () => padColumns(effectiveKernel(conv.kernel), k * k, filters, fPad)));
    const bias = putFloats(padTo(conv.bias, fPad));
    const img = putFloats(image.pixels);
    const out = outputPlanes(height * width, filters, act);
    const zeros = parallelRows('firstRows', height, ex.firstScratchBytes(width, fPad), (scratch, next, chunk) => [
      img,
      height,
      width,
      k,
      weights,
      fPad,
      bias,
      out.record,
      scratch,
      next,
      chunk,
    ]);
    return out.result(zeros);
  }

  /**
   * The unmasked kernel reads a zero activation sign as −1 (its sign bit is clear), adding
   * coef·(−b) where the true product is 0; this returns a per-row fix that adds coef·b back. Zero
   * signs are rare (exact residual zeros, or |r| under the backend's sign dead zone), so a list
   * beats masking every word.
   */
  function zeroCorrections(x: BinaryTensor, layer: ConvLayer, coef: Float32Array): (y: number, row: Float32Array, fPad: number) => void {
    const g = x.groups[0] as BitPlanes;
    const nonzero = g.nonzero as Uint32Array;
    const pixels = x.height * x.width;
    const byRow = new Map<number, { ix: number; c: number; n: number }[]>();
    for (let i = 0; i < nonzero.length; i++) {
      const w = i % g.words;
      let missing = ~(nonzero[i] as number) & channelMask(g.channels, w);
      while (missing !== 0) {
        const bit = 31 - Math.clz32(missing & -missing);
        missing &= missing - 1;
        const p = Math.floor(i / g.words) % pixels;
        const entry = { ix: p % x.width, c: 32 * w + bit, n: Math.floor(i / (g.words * pixels)) };
        const row = Math.floor(p / x.width);
        byRow.set(row, [...(byRow.get(row) ?? []), entry]);
      }
    }
    const { k, cin, filters, gammas } = layer.kernel;
    const signs = kernelSigns(layer.kernel);
    const before = (k - 1) >> 1;
    return (y, row, fPad) => {
      for (let ty = 0; ty < k; ty++) {
        for (const { ix, c, n } of byRow.get(y + ty - before) ?? []) {
          for (let tx = 0; tx < k; tx++) {
            const ox = ix - tx + before;
            if (ox < 0 || ox >= x.width) continue;
            const t = ty * k + tx;
            for (let f = 0; f < filters; f++) {
              let fix = 0;
              for (let m = 0; m < gammas.length; m++)
                fix += (coef[m * g.levels + n] as number) * ((signs[m] as Int8Array)[(t * cin + c) * filters + f] as number);
              row[ox * fPad + f] = Math.fround((row[ox * fPad + f] as number) + fix);
            }
          }
        }
      }
    };
  }

  /** The activation's nonzero planes, or all real channels set when it has no zeros. */
  function activationNonzero(g: BitPlanes, pixels: number): Uint32Array {
    if (g.nonzero) return g.nonzero;
    const planes = new Uint32Array(g.levels * pixels * g.words);
    for (let i = 0; i < planes.length; i++) planes[i] = channelMask(g.channels, i % g.words);
    return planes;
  }

  type Planes = ReturnType<typeof outputPlanes>;

  /**
   * A BinaryConv2D over every row: each fp32 row is binarised into `planes`, or (planes null, the
   * output conv) written whole to `out` as [y][x][fPad]. Weight zeros (static, rare) take the
   * masked kernel; activation zeros with ±1 weights take the unmasked one plus host-side
   * corrections, row by row on this thread (the corrections are TypeScript). Returns the
   * exact-zero signs written by the row kernels.
   */
  function xnorConv(x: BinaryTensor, layer: ConvLayer, planes: Planes | null, out: number): number {
    const g = x.groups[0] as BitPlanes;
    const packed = xnor.get(layer) ?? xnorWeights(layer);
    xnor.set(layer, packed);
    const { units } = packed;
    const { filters, gammas, k } = layer.kernel;
    const { height, width } = x;
    const fPad = pad4(filters);
    const pixels = height * width;
    const coef = Float32Array.from({ length: gammas.length * g.levels }, (_, i) =>
      Math.fround((gammas[Math.floor(i / g.levels)] as number) * (g.gammas[i % g.levels] as number)),
    );
    const act = arena.put(g.signs);
    const weights = arena.put(packed.weights);
    const coefPtr = putFloats(coef);
    const bias = putFloats(padTo(layer.bias, fPad));
    const bin = planes?.record ?? 0;
    const scratchBytes = ex.xnorScratchBytes(g.levels, units, width, fPad);
    if (layer.packed.nonzero !== null) {
      fallbacks++;
      const actNonzero = arena.put(activationNonzero(g, pixels));
      const weightsNonzero = arena.put(packed.nonzero);
      return parallelRows('xnorRowsMasked', height, scratchBytes, (scratch, next, chunk) => [
        act,
        actNonzero,
        pixels,
        height,
        width,
        g.words,
        g.levels,
        weights,
        weightsNonzero,
        gammas.length,
        filters,
        fPad,
        k,
        units,
        coefPtr,
        bias,
        bin,
        out,
        scratch,
        next,
        chunk,
      ]);
    }
    const tapPop = arena.put(packed.tapPop);
    // The unmasked kernel, binarising into `binPtr` or writing fp32 rows to `outPtr`.
    const unmasked = (binPtr: number, outPtr: number) =>
      parallelRows('xnorRows', height, scratchBytes, (scratch, next, chunk) => [
        act,
        pixels,
        height,
        width,
        g.words,
        g.levels,
        g.channels,
        weights,
        tapPop,
        gammas.length,
        filters,
        fPad,
        k,
        units,
        coefPtr,
        bias,
        binPtr,
        outPtr,
        scratch,
        next,
        chunk,
      ]);
    if (g.nonzero === null) return unmasked(bin, out);
    // Activation zeros, ±1 weights: the fast kernel on every thread writes fp32 rows, the sparse
    // corrections are added here, then each row is binarised (same arithmetic as row by row,
    // which kept the whole conv on this thread: 80 % of a 512² pass when one sign was 0).
    const correct = zeroCorrections(x, layer, coef);
    const rows = planes ? arena.alloc(pixels * fPad * 4) : out;
    unmasked(0, rows);
    for (let y = 0; y < height; y++) {
      const row = rows + y * width * fPad * 4;
      correct(y, arena.f32(row, width * fPad), fPad);
      planes?.row(y, width, fPad, row);
    }
    return 0;
  }

  // A BinaryConv2D input is always one group (level 0 and the head); anything else is not a BLU-Net.
  const needsReference = (x: BinaryTensor) => x.groups.length !== 1;

  function binaryConvBlock(x: BinaryTensor, block: Block<ConvLayer>): BitPlanes {
    if (needsReference(x))
      return binariseReference(
        binaryConvReference(x, block.conv),
        x.height,
        x.width,
        block.conv.kernel.filters,
        block.act.gammas,
        block.act.signDeadZone,
      );
    arena.reset();
    const out = outputPlanes(x.height * x.width, block.conv.kernel.filters, block.act);
    return out.result(xnorConv(x, block.conv, out, 0));
  }

  function logits(x: BinaryTensor, head: ConvLayer): Float32Array {
    if (needsReference(x)) return binaryConvReference(x, head);
    arena.reset();
    const { filters } = head.kernel;
    const fPad = pad4(filters);
    const pixels = x.height * x.width;
    const out = arena.alloc(pixels * fPad * 4);
    xnorConv(x, head, null, out);
    const values = arena.f32(out, pixels * fPad);
    const result = new Float32Array(pixels * filters);
    // Index loops: a subarray per pixel cost ~30 ms per 512² pass.
    for (let p = 0; p < pixels; p++) for (let f = 0; f < filters; f++) result[p * filters + f] = values[p * fPad + f] as number;
    return result;
  }

  /**
   * separableRows over every row: depthwise, then the pointwise GEMM (`pointwise` set) or, for
   * separableBinarise (`pointwise` null), nothing: the depthwise row + `bias` (the depthwise bias)
   * is binarised through `act`, computed unfused so every engine takes the same signs
   * (reference.ts depthwiseFp32). up = 1 (ex.readsUpsampled): on x's nearest ×2 upsample.
   */
  function separableRows(
    x: BinaryTensor,
    conv: SeparableLayer,
    pointwise: { weights: number } | null,
    bias: number,
    act: ActivationLayer,
    up: 0 | 1,
  ) {
    const { k, cin } = conv.depthwise;
    const [height, width] = [x.height << up, x.width << up];
    const channels = pointwise ? conv.pointwise.filters : cin;
    const cinPad = pad4(cin);
    const fPad = pad4(channels);
    const groupTable = arena.alloc(24 * x.groups.length);
    x.groups.forEach((g, i) => {
      const record = [arena.put(g.signs), g.nonzero ? arena.put(g.nonzero) : 0, g.words, g.levels, putFloats(g.gammas), g.channels];
      arena.i32(groupTable + 24 * i, 6).set(record);
    });
    const dw = putFloats(decoded.get(conv.depthwise, () => padColumns(effectiveKernel(conv.depthwise), k * k, cin, cinPad)));
    const out = outputPlanes(height * width, channels, act);
    const scratchBytes = ex.separableScratchBytes(width, cinPad, fPad, k);
    const zeros = parallelRows('separableRows', height, scratchBytes, (scratch, next, chunk) => [
      groupTable,
      x.groups.length,
      height,
      width,
      cinPad,
      k,
      dw,
      pointwise?.weights ?? 0,
      fPad,
      bias,
      out.record,
      scratch,
      next,
      chunk,
      up,
    ]);
    return out.result(zeros);
  }

  function separableBlockOf(x: BinaryTensor, { conv, act }: Block<SeparableLayer>, up: 0 | 1): BitPlanes {
    arena.reset();
    if (conv.binarised !== null) {
      // separableBinarise: depthwise + inner binarisation, then the pointwise as a 1×1 XNOR conv.
      const { act: inner, bias } = conv.binarised;
      const planes = separableRows(x, conv, null, putFloats(padTo(bias, pad4(bias.length))), inner, up);
      return binaryConvBlock({ height: x.height << up, width: x.width << up, groups: [planes] }, { conv: conv.binarised.pointwise, act });
    }
    const { cin, filters } = conv.pointwise;
    const weights = putFloats(
      decoded.get(conv.pointwise, () => pointwisePanels(effectiveKernel(conv.pointwise), cin, filters, ex.panelStrip ?? 8)),
    );
    return separableRows(x, conv, { weights }, putFloats(padTo(conv.bias, pad4(filters))), act, up);
  }

  function maxPool(x: BinaryTensor): BinaryTensor {
    const h = Math.floor(x.height / 2);
    const w = Math.floor(x.width / 2);
    const groups = x.groups.map((g): BitPlanes => {
      arena.reset();
      const size = g.levels * h * w * g.words;
      const ranks = codeRanks(g);
      if (g.nonzero === null && lexicographicRanks(ranks, g.levels)) {
        const signs = arena.put(g.signs);
        const outSigns = arena.alloc(size * 4);
        parallelRows('maxPoolOrderedRows', h, 0, (_scratch, next, chunk) => [
          signs,
          x.height,
          x.width,
          g.words,
          g.levels,
          outSigns,
          next,
          chunk,
        ]);
        return { ...g, signs: arena.u32(outSigns, size).slice() };
      }
      const ptr = {
        signs: arena.put(g.signs),
        nonzero: g.nonzero ? arena.put(g.nonzero) : 0,
        rank: arena.put(ranks),
        outSigns: arena.alloc(size * 4),
        outNonzero: arena.alloc(size * 4),
      };
      parallelRows('maxPoolRows', h, 0, (_scratch, next, chunk) => [
        ptr.signs,
        ptr.nonzero,
        x.height,
        x.width,
        g.words,
        g.levels,
        g.channels,
        ptr.rank,
        ptr.outSigns,
        ptr.outNonzero,
        next,
        chunk,
      ]);
      return { ...g, signs: arena.u32(ptr.outSigns, size).slice(), nonzero: g.nonzero ? arena.u32(ptr.outNonzero, size).slice() : null };
    });
    return { height: h, width: w, groups };
  }

  return {
    name,
    maxPool,
    firstBlock,
    binaryConvBlock,
    separableBlock: (x: BinaryTensor, block: Block<SeparableLayer>) => separableBlockOf(x, block, 0),
    ...(ex.readsUpsampled === true
      ? { separableUpsampledBlock: (x: BinaryTensor, block: Block<SeparableLayer>) => separableBlockOf(x, block, 1) }
      : {}),
    logits,
    threads,
    memoryBytes: () => arena.highWater,
    decodedWeightBytes: () => decoded.bytes,
    maskedConvs: () => fallbacks,
    close: () => pool.close(),
  };
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** Next to this module once built; from the sources (tests), the build's copy. */
const candidates = (file: string) => [path.join(here, file), path.resolve(here, '../../../dist/src/ml/engine', file)];
/** The two builds of assembly/kernels.ts: plain SIMD, and relaxed SIMD (fused multiply-add). */
const PLAIN = 'kernels.wasm';
const FMA = 'kernels-fma.wasm';
const NAMES: Record<string, string> = { [PLAIN]: 'wasm SIMD (AssemblyScript)', [FMA]: 'wasm SIMD + relaxed-SIMD FMA (AssemblyScript)' };

export type WasmLoadError = { readonly message: string };

export interface WasmKernelOptions {
  /** Threads to split each block's rows over: default one per CPU (os.availableParallelism()); 1 runs without workers. */
  readonly threads?: number;
}

/**
 * The module's memory: shared, so worker threads can run kernels on it. 65536 pages (4 GiB, the
 * wasm32 limit) is only a reservation of address space; the arena grows it as blocks need.
 */
const newMemory = () => new wasmApi.Memory({ initial: 1, maximum: 65536, shared: true });

async function defaultThreads(): Promise<number> {
  const os = await import('node:os');
  return os.availableParallelism();
}

/** From the module's bytes (what a browser would fetch). Threads other than 1 need node:worker_threads. */
export async function instantiateWasmKernels(
  bytes: Uint8Array,
  options: WasmKernelOptions & { readonly name?: string } = {},
): Promise<Result<WasmKernels, WasmLoadError>> {
  try {
    const threads = Math.max(1, Math.floor(options.threads ?? (await defaultThreads())));
    const module = await wasmApi.compile(bytes);
    const memory = newMemory();
    const ex = new wasmApi.Instance(module, { env: { memory } }).exports as KernelExports;
    const pool = threads === 1 ? singleThreadPool(ex) : await workerPool(ex, module, memory, threads);
    return ok(makeKernels(ex, pool, options.name ?? (NAMES[PLAIN] as string)));
  } catch (e) {
    return err({ message: `cannot instantiate the engine kernels: ${e instanceof Error ? e.message : String(e)}` });
  }
}

/**
 * From the built kernels (Node). `fma`: the relaxed-SIMD build, whose multiply-adds fuse; by
 * default used when this runtime accepts it (Node 22+, or Node 20 with
 * --experimental-wasm-relaxed-simd), else the plain SIMD build. `file` overrides both.
 */
export async function loadWasmKernels(
  options: WasmKernelOptions & { readonly file?: string; readonly fma?: boolean } = {},
): Promise<Result<WasmKernels, WasmLoadError>> {
  const read = async (file: string) => new Uint8Array(await readFile(file));
  if (options.file) return instantiateWasmKernels(await read(options.file), { ...options, name: path.basename(options.file) });
  const fmaFile = candidates(FMA).find((f) => existsSync(f));
  const fmaBytes = options.fma !== false && fmaFile ? await read(fmaFile) : null;
  if (fmaBytes && wasmApi.validate(fmaBytes)) return instantiateWasmKernels(fmaBytes, { ...options, name: NAMES[FMA] as string });
  if (options.fma === true)
    return err({
      message: fmaFile
        ? 'this runtime has no relaxed SIMD (Node 22+, or node --experimental-wasm-relaxed-simd)'
        : `engine kernels not built (${FMA}); run npm run build`,
    });
  const plainFile = candidates(PLAIN).find((f) => existsSync(f));
  if (!plainFile) return err({ message: `engine kernels not built (looked for ${candidates(PLAIN).join(', ')}); run npm run build` });
  return instantiateWasmKernels(await read(plainFile), options);
}
