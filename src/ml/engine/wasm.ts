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

// The project's lib (ES2023, no DOM) has no WebAssembly typings; the two members used are typed here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: unknown } }>;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface KernelExports {
  readonly memory: WasmMemory;
  decodeRow(signs: number, nonzero: number, pixels: number, words: number, levels: number, gammas: number, channels: number, pixelStart: number, count: number, out: number, outStride: number, outOffset: number): void;
  depthwiseRow(rows: number, k: number, width: number, cinPad: number, weights: number, out: number, taps: number): void;
  gemmRow(a: number, width: number, cinPad: number, b: number, fPad: number, bias: number, out: number): void;
  realConvRow(image: number, height: number, width: number, y: number, k: number, weights: number, fPad: number, bias: number, out: number): void;
  binariseRow(y: number, width: number, fPad: number, channels: number, gammas: number, levels: number, signs: number, nonzero: number, pixels: number, words: number, pixelStart: number, scratch: number, deadZone: number): number;
  maxPool(signs: number, nonzero: number, height: number, width: number, words: number, levels: number, channels: number, rank: number, outSigns: number, outNonzero: number): void;
  binaryConvRowMasked(act: number, actNonzero: number, pixels: number, height: number, width: number, words: number, aLevels: number, weights: number, weightsNonzero: number, wLevels: number, filters: number, fPad: number, k: number, units: number, coef: number, bias: number, y: number, patch: number, patchNonzero: number, out: number): void;
  binaryConvRow(act: number, pixels: number, height: number, width: number, words: number, aLevels: number, cin: number, weights: number, tapPop: number, wLevels: number, filters: number, fPad: number, k: number, units: number, coef: number, bias: number, y: number, patch: number, out: number): void;
}

const pad4 = (n: number) => Math.ceil(n / 4) * 4;

/** Bump allocator over the module's memory, reset at the start of every block. */
class Arena {
  private top: number;
  constructor(private readonly memory: WasmMemory, private readonly base: number) {
    this.top = base;
  }

  reset(): void {
    this.top = this.base;
  }

  /** Zeroed, 16-byte aligned. */
  alloc(bytes: number): number {
    const at = Math.ceil(this.top / 16) * 16;
    this.top = at + bytes;
    const missing = this.top - this.memory.buffer.byteLength;
    if (missing > 0) this.memory.grow(Math.ceil(missing / 65536));
    new Uint8Array(this.memory.buffer, at, bytes).fill(0);
    return at;
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
 * A pointwise kernel [cin][filters] in gemmRow's layout: strips of 8 filters (the last may be 4),
 * each a contiguous [cinPad][strip] panel starting at float f·cinPad; padding is zero.
 */
export function pointwisePanels(kernel: Float32Array, cin: number, filters: number): Float32Array {
  const cinPad = pad4(cin);
  const fPad = pad4(filters);
  const out = new Float32Array(cinPad * fPad);
  for (let f0 = 0; f0 < fPad; f0 += 8) {
    const strip = Math.min(8, fPad - f0);
    for (let c = 0; c < cin; c++) {
      for (let j = 0; j < strip && f0 + j < filters; j++) out[f0 * cinPad + c * strip + j] = kernel[c * filters + f0 + j] as number;
    }
  }
  return out;
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
      nonzero[mf * units * 2 + i] = layer.packed.nonzero ? (layer.packed.nonzero[mf * taps * words + i] as number) : channelMask(layer.kernel.cin, i % words);
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
  /** Bytes of linear memory the module has grown to (its peak working set). */
  readonly memoryBytes: () => number;
  /** Bytes of decoded fp32 kernels held for reuse. */
  readonly decodedWeightBytes: () => number;
  /** BinaryConv2D calls that needed the masked kernel because of exact-zero signs. */
  readonly maskedConvs: () => number;
}

function makeKernels(ex: KernelExports): WasmKernels {
  const arena = new Arena(ex.memory, ex.memory.buffer.byteLength);
  const decoded = new DecodedCache();
  const xnor = new WeakMap<ConvLayer, ReturnType<typeof xnorWeights>>();
  const putFloats = (values: Float32Array) => arena.put(values);
  let fallbacks = 0;

  /** Output planes for `pixels`, filled by binariseRow; copied out at the end. */
  function outputPlanes(pixels: number, channels: number, { gammas, signDeadZone }: ActivationLayer) {
    const words = wordsFor(channels);
    const size = gammas.length * pixels * words;
    const signs = arena.alloc(size * 4);
    const nonzero = arena.alloc(size * 4);
    const gammaPtr = putFloats(gammas);
    const scratch = arena.alloc(32 * 4);
    let zeros = 0;
    return {
      row(y: number, width: number, fPad: number, rowPtr: number) {
        zeros += ex.binariseRow(rowPtr, width, fPad, channels, gammaPtr, gammas.length, signs, nonzero, pixels, words, y * width, scratch, signDeadZone);
      },
      result(): BitPlanes {
        return { channels, words, levels: gammas.length, gammas, signs: arena.u32(signs, size).slice(), nonzero: zeros > 0 ? arena.u32(nonzero, size).slice() : null };
      },
    };
  }

  function firstBlock(image: EngineImage, { conv, act }: Block<ConvLayer>): BitPlanes {
    const { k, cin, filters } = conv.kernel;
    if (cin !== 1) return referenceKernels.firstBlock(image, { conv, act });
    arena.reset();
    const fPad = pad4(filters);
    const weights = putFloats(padColumns(decoded.get(conv.kernel, () => effectiveKernel(conv.kernel)), k * k, filters, fPad));
    const bias = putFloats(padTo(conv.bias, fPad));
    const img = putFloats(image.pixels);
    const row = arena.alloc(image.width * fPad * 4);
    const out = outputPlanes(image.height * image.width, filters, act);
    for (let y = 0; y < image.height; y++) {
      ex.realConvRow(img, image.height, image.width, y, k, weights, fPad, bias, row);
      out.row(y, image.width, fPad, row);
    }
    return out.result();
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
              for (let m = 0; m < gammas.length; m++) fix += (coef[m * g.levels + n] as number) * ((signs[m] as Int8Array)[(t * cin + c) * filters + f] as number);
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

  /** Runs the XNOR kernel over every row (the masked one where signs are 0), handing each fp32 row to `sink`. */
  function xnorRows(x: BinaryTensor, layer: ConvLayer, sink: (y: number, rowPtr: number, fPad: number) => void): void {
    const g = x.groups[0] as BitPlanes;
    const packed = xnor.get(layer) ?? xnorWeights(layer);
    xnor.set(layer, packed);
    const { weights, tapPop, units } = packed;
    const { filters, gammas, k } = layer.kernel;
    const fPad = pad4(filters);
    const pixels = x.height * x.width;
    const coef = Float32Array.from({ length: gammas.length * g.levels }, (_, i) => Math.fround((gammas[Math.floor(i / g.levels)] as number) * (g.gammas[i % g.levels] as number)));
    const ptr = {
      act: arena.put(g.signs), weights: arena.put(weights), coef: putFloats(coef), bias: putFloats(padTo(layer.bias, fPad)),
      patch: arena.alloc(g.levels * units * 8), row: arena.alloc(x.width * fPad * 4),
    };
    // Weight zeros (static, rare) take the masked kernel; activation zeros are corrected afterwards.
    const masked = layer.packed.nonzero !== null;
    if (masked) fallbacks++;
    const m = masked ? { act: arena.put(activationNonzero(g, pixels)), weights: arena.put(packed.nonzero), patch: arena.alloc(g.levels * units * 8) } : null;
    const pop = m ? 0 : arena.put(tapPop);
    const corrections = m || g.nonzero === null ? null : zeroCorrections(x, layer, coef);
    for (let y = 0; y < x.height; y++) {
      if (m) ex.binaryConvRowMasked(ptr.act, m.act, pixels, x.height, x.width, g.words, g.levels, ptr.weights, m.weights, gammas.length, filters, fPad, k, units, ptr.coef, ptr.bias, y, ptr.patch, m.patch, ptr.row);
      else ex.binaryConvRow(ptr.act, pixels, x.height, x.width, g.words, g.levels, g.channels, ptr.weights, pop, gammas.length, filters, fPad, k, units, ptr.coef, ptr.bias, y, ptr.patch, ptr.row);
      corrections?.(y, arena.f32(ptr.row, x.width * fPad), fPad);
      sink(y, ptr.row, fPad);
    }
  }

  // A BinaryConv2D input is always one group (level 0 and the head); anything else is not a BLU-Net.
  const needsReference = (x: BinaryTensor) => x.groups.length !== 1;

  function binaryConvBlock(x: BinaryTensor, block: Block<ConvLayer>): BitPlanes {
    if (needsReference(x)) return binariseReference(binaryConvReference(x, block.conv), x.height, x.width, block.conv.kernel.filters, block.act.gammas, block.act.signDeadZone);
    arena.reset();
    const out = outputPlanes(x.height * x.width, block.conv.kernel.filters, block.act);
    xnorRows(x, block.conv, (y, row, fPad) => out.row(y, x.width, fPad, row));
    return out.result();
  }

  function logits(x: BinaryTensor, head: ConvLayer): Float32Array {
    if (needsReference(x)) return binaryConvReference(x, head);
    arena.reset();
    const { filters } = head.kernel;
    const result = new Float32Array(x.height * x.width * filters);
    xnorRows(x, head, (y, row, fPad) => {
      const values = arena.f32(row, x.width * fPad);
      for (let i = 0; i < x.width; i++) result.set(values.subarray(i * fPad, i * fPad + filters), (y * x.width + i) * filters);
    });
    return result;
  }

  function separableBlock(x: BinaryTensor, { conv, act }: Block<SeparableLayer>): BitPlanes {
    arena.reset();
    const { k, cin } = conv.depthwise;
    const filters = conv.pointwise.filters;
    const cinPad = pad4(cin);
    const fPad = pad4(filters);
    const pixels = x.height * x.width;
    const groups = x.groups.map((g) => ({ g, signs: arena.put(g.signs), nonzero: g.nonzero ? arena.put(g.nonzero) : 0, gammas: putFloats(g.gammas) }));
    const dw = putFloats(padColumns(decoded.get(conv.depthwise, () => effectiveKernel(conv.depthwise)), k * k, cin, cinPad));
    const pw = putFloats(decoded.get(conv.pointwise, () => pointwisePanels(effectiveKernel(conv.pointwise), cin, filters)));
    const bias = putFloats(padTo(conv.bias, fPad));
    const ring = [0, 1, 2].map(() => arena.alloc(x.width * cinPad * 4));
    const ringRow = [-1, -1, -1];
    const rowTable = arena.alloc(4 * k);
    const tapTable = arena.alloc(8 * k * k);
    const dwRow = arena.alloc(x.width * cinPad * 4);
    const pwRow = arena.alloc(x.width * fPad * 4);
    const out = outputPlanes(pixels, filters, act);
    const before = (k - 1) >> 1;
    for (let y = 0; y < x.height; y++) {
      const table = arena.u32(rowTable, k);
      for (let ty = 0; ty < k; ty++) {
        const iy = y + ty - before;
        if (iy < 0 || iy >= x.height) {
          table[ty] = 0;
          continue;
        }
        const slot = iy % 3;
        if (ringRow[slot] !== iy) {
          let offset = 0;
          for (const { g, signs, nonzero, gammas } of groups) {
            ex.decodeRow(signs, nonzero, pixels, g.words, g.levels, gammas, g.channels, iy * x.width, x.width, ring[slot] as number, cinPad, offset);
            offset += g.channels;
          }
          ringRow[slot] = iy;
        }
        table[ty] = ring[slot] as number;
      }
      ex.depthwiseRow(rowTable, k, x.width, cinPad, dw, dwRow, tapTable);
      ex.gemmRow(dwRow, x.width, cinPad, pw, fPad, bias, pwRow);
      out.row(y, x.width, fPad, pwRow);
    }
    return out.result();
  }

  function maxPool(x: BinaryTensor): BinaryTensor {
    const h = Math.floor(x.height / 2);
    const w = Math.floor(x.width / 2);
    const groups = x.groups.map((g): BitPlanes => {
      arena.reset();
      const size = g.levels * h * w * g.words;
      const ptr = {
        signs: arena.put(g.signs), nonzero: g.nonzero ? arena.put(g.nonzero) : 0, rank: arena.put(codeRanks(g)),
        outSigns: arena.alloc(size * 4), outNonzero: arena.alloc(size * 4),
      };
      ex.maxPool(ptr.signs, ptr.nonzero, x.height, x.width, g.words, g.levels, g.channels, ptr.rank, ptr.outSigns, ptr.outNonzero);
      return { ...g, signs: arena.u32(ptr.outSigns, size).slice(), nonzero: g.nonzero ? arena.u32(ptr.outNonzero, size).slice() : null };
    });
    return { height: h, width: w, groups };
  }

  return {
    name: 'wasm SIMD (AssemblyScript)',
    maxPool,
    firstBlock,
    binaryConvBlock,
    separableBlock,
    logits,
    memoryBytes: () => arena.highWater,
    decodedWeightBytes: () => decoded.bytes,
    maskedConvs: () => fallbacks,
  };
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** Next to this module once built; from the sources (tests), the build's copy. */
const CANDIDATES = [path.join(here, 'kernels.wasm'), path.resolve(here, '../../../dist/src/ml/engine/kernels.wasm')];

export type WasmLoadError = { readonly message: string };

/** From the module's bytes (what a browser would fetch). */
export async function instantiateWasmKernels(bytes: Uint8Array): Promise<Result<WasmKernels, WasmLoadError>> {
  try {
    const { instance } = await wasmApi.instantiate(bytes, {});
    return ok(makeKernels(instance.exports as unknown as KernelExports));
  } catch (e) {
    return err({ message: `cannot instantiate the engine kernels: ${e instanceof Error ? e.message : String(e)}` });
  }
}

/** From the built kernels.wasm (Node). */
export async function loadWasmKernels(file?: string): Promise<Result<WasmKernels, WasmLoadError>> {
  const wasmFile = file ?? CANDIDATES.find((f) => existsSync(f));
  if (!wasmFile) return err({ message: `engine kernels not built (looked for ${CANDIDATES.join(', ')}); run npm run build` });
  return instantiateWasmKernels(new Uint8Array(await readFile(wasmFile)));
}
