/**
 * A packed BLU-Net file read into engine form: per-level sign bit-planes for the XNOR convs,
 * decoded effective kernels (Σ|γ|·b, 8 values for 3 levels) where an operand is real-valued.
 * No tfjs: the engine runs without the simulation.
 */
import { readFile } from 'node:fs/promises';
import { err, ok, type Result } from '../../base/result.js';
import { ByteReader, decodeSigns, readPackedHeader, readSignRecord, type PackedOptions, type SignRecord } from '../models/packed-format.js';
import { packedRecordPlan, type PlanRecord } from './plan.js';
import { levelValue, wordsFor } from './tensors.js';

/**
 * One residual-binarised kernel [k, k, cin, filters] (depthwise: filters = 1), kept as stored:
 * one bit per weight and level. Kernels decode what they need per call (see kernelSigns,
 * effectiveKernel), so resident weight memory stays at the packed size.
 */
export interface ResidualKernel {
  readonly k: number;
  readonly cin: number;
  readonly filters: number;
  /** |γ_m| per level. */
  readonly gammas: Float32Array;
  /** Per level, row-major [k][k][cin][filters]. */
  readonly levels: readonly SignRecord[];
}

const kernelSize = (k: ResidualKernel) => k.k * k.k * k.cin * k.filters;

/** Per level, the signs as −1, 0, +1. */
export function kernelSigns(kernel: ResidualKernel): Int8Array[] {
  return kernel.levels.map((record) => decodeSigns(record, new Int8Array(kernelSize(kernel))));
}

/** Σ_m |γ_m|·b_m with the simulation's op order; for convs whose other operand is real-valued. */
export function effectiveKernel(kernel: ResidualKernel): Float32Array {
  const signs = kernelSigns(kernel);
  const out = new Float32Array(kernelSize(kernel));
  const at = new Float32Array(signs.length);
  for (let i = 0; i < out.length; i++) {
    for (let m = 0; m < signs.length; m++) at[m] = (signs[m] as Int8Array)[i] as number;
    out[i] = levelValue(kernel.gammas, at);
  }
  return out;
}

/** A BinaryConv2D kernel packed for XNOR-popcount: [level][filter][tap][word] over input channels. */
export interface PackedConvWeights {
  readonly words: number;
  readonly signs: Uint32Array;
  /** Null when no weight sign is 0. */
  readonly nonzero: Uint32Array | null;
}

export interface ConvLayer {
  readonly name: string;
  readonly kernel: ResidualKernel;
  readonly bias: Float32Array;
  readonly packed: PackedConvWeights;
}

export interface SeparableLayer {
  readonly name: string;
  readonly depthwise: ResidualKernel;
  readonly pointwise: ResidualKernel;
  readonly bias: Float32Array;
  /**
   * With the option separableBinarise: the per-channel bias added to the depthwise output, the
   * activation binariser after it, and the
   * pointwise as a 1×1 BinaryConv2D (same kernel and bias, packed for XNOR-popcount). Null in the
   * thesis variant, whose pointwise input is real-valued.
   */
  readonly binarised: { readonly bias: Float32Array; readonly act: ActivationLayer; readonly pointwise: ConvLayer } | null;
}

export interface ActivationLayer {
  readonly name: string;
  readonly gammas: Float32Array;
  /** |x| below this binarises to sign 0, as the backend that trained the model did (see PackedHeader). */
  readonly signDeadZone: number;
}

export interface Block<L> {
  readonly conv: L;
  readonly act: ActivationLayer;
}

export interface EngineModel {
  readonly options: PackedOptions;
  readonly level0: readonly [Block<ConvLayer>, Block<ConvLayer>];
  /** Levels 1 … L−1, two blocks each. */
  readonly contracting: ReadonlyArray<readonly [Block<SeparableLayer>, Block<SeparableLayer>]>;
  /** Levels L−2 … 0: the 2×2 up-conv block, then two 3×3 blocks. */
  readonly expanding: ReadonlyArray<{
    readonly up: Block<SeparableLayer>;
    readonly convs: readonly [Block<SeparableLayer>, Block<SeparableLayer>];
  }>;
  readonly head: ConvLayer;
  /** Bytes of the engine's resident weights (bit-planes, decoded kernels, biases, gammas). */
  readonly weightBytes: number;
}

export type EngineLoadError = { readonly message: string };

function readKernel(r: ByteReader, levels: number, k: number, cin: number, filters: number): ResidualKernel {
  const gammas = Float32Array.from(r.float32s(levels), (g) => Math.abs(g));
  return { k, cin, filters, gammas, levels: Array.from(gammas, () => readSignRecord(r, k * k * cin * filters)) };
}

/** Packs a conv kernel's signs along input channels for the XNOR-popcount kernels. */
export function packConvWeights(kernel: ResidualKernel): PackedConvWeights {
  const { k, cin, filters } = kernel;
  const taps = k * k;
  const words = wordsFor(cin);
  const size = kernel.gammas.length * filters * taps * words;
  const signs = new Uint32Array(size);
  const nonzero = new Uint32Array(size);
  let zeros = 0;
  kernelSigns(kernel).forEach((levelSigns, m) => {
    for (let t = 0; t < taps; t++) {
      for (let c = 0; c < cin; c++) {
        for (let f = 0; f < filters; f++) {
          const s = levelSigns[(t * cin + c) * filters + f] as number;
          const word = ((m * filters + f) * taps + t) * words + (c >> 5);
          const bit = 1 << (c & 31);
          if (s > 0) signs[word] = (signs[word] as number) | bit;
          if (s !== 0) nonzero[word] = (nonzero[word] as number) | bit;
          else zeros++;
        }
      }
    }
  });
  return { words, signs, nonzero: zeros > 0 ? nonzero : null };
}

type Records = { next(expected: PlanRecord): ConvLayer | SeparableLayer | ActivationLayer };

function recordReader(r: ByteReader, o: PackedOptions, signDeadZone: number): Records {
  const activation = (name: string): ActivationLayer => ({
    name,
    gammas: Float32Array.from(r.float32s(o.activationLevels), (g) => Math.abs(g)),
    signDeadZone,
  });
  return {
    next(p) {
      if (p.kind === 'activation') return activation(p.name);
      if (p.kind === 'conv') {
        const kernel = readKernel(r, o.convLevels, p.k, p.cin, p.filters);
        return { name: p.name, kernel, bias: r.float32s(p.filters), packed: packConvWeights(kernel) };
      }
      const depthwise = readKernel(r, o.depthwiseLevels, p.k, p.cin, 1);
      const inner = o.separableBinarise ? { act: activation(`${p.name}/activation`), bias: r.float32s(p.cin) } : null;
      const pointwise = readKernel(r, o.pointwiseLevels, 1, p.cin, p.filters);
      const bias = r.float32s(p.filters);
      const binarised = inner && {
        ...inner,
        pointwise: { name: `${p.name}/pointwise`, kernel: pointwise, bias, packed: packConvWeights(pointwise) },
      };
      return { name: p.name, depthwise, pointwise, bias, binarised };
    },
  };
}

const recordBytes = (k: ResidualKernel) => k.gammas.byteLength + k.levels.reduce((n, l) => n + l.bits.byteLength + l.zeros.byteLength, 0);

function weightBytesOf(layers: ReadonlyArray<ConvLayer | SeparableLayer | ActivationLayer>): number {
  let bytes = 0;
  for (const l of layers) {
    if ('packed' in l) bytes += recordBytes(l.kernel) + l.packed.signs.byteLength + (l.packed.nonzero?.byteLength ?? 0) + l.bias.byteLength;
    else if ('depthwise' in l) {
      const b = l.binarised;
      const packed = b ? b.act.gammas.byteLength + b.bias.byteLength + b.pointwise.packed.signs.byteLength : 0;
      bytes += recordBytes(l.depthwise) + recordBytes(l.pointwise) + l.bias.byteLength + packed;
    } else bytes += l.gammas.byteLength;
  }
  return bytes;
}

/** Assembles the flat record list into the topology's blocks. */
function assemble(o: PackedOptions, layers: Array<ConvLayer | SeparableLayer | ActivationLayer>): EngineModel {
  let i = 0;
  const take = <L>(): Block<L> => ({ conv: layers[i++] as L, act: layers[i++] as ActivationLayer });
  const level0 = [take<ConvLayer>(), take<ConvLayer>()] as const;
  const contracting = Array.from({ length: o.levels - 1 }, () => [take<SeparableLayer>(), take<SeparableLayer>()] as const);
  const expanding = Array.from({ length: o.levels - 1 }, () => ({
    up: take<SeparableLayer>(),
    convs: [take<SeparableLayer>(), take<SeparableLayer>()] as const,
  }));
  const head = layers[i] as ConvLayer;
  return { options: o, level0, contracting, expanding, head, weightBytes: weightBytesOf(layers) };
}

/** Parses packed-file bytes into an engine model. */
export function parseEngineModel(bytes: Uint8Array): Result<EngineModel, EngineLoadError> {
  try {
    const r = new ByteReader(bytes);
    const { options, signDeadZone } = readPackedHeader(r);
    const records = recordReader(r, options, signDeadZone ?? 0);
    const layers = packedRecordPlan(options).map((p) => records.next(p));
    if (r.remaining !== 0) return err({ message: `${r.remaining} unexpected trailing bytes after the last layer` });
    return ok(assemble(options, layers));
  } catch (e) {
    return err({ message: e instanceof Error ? e.message : String(e) });
  }
}

export async function loadEngineModel(file: string): Promise<Result<EngineModel, EngineLoadError>> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    return err({ message: `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}` });
  }
  const parsed = parseEngineModel(bytes);
  return parsed.ok ? parsed : err({ message: `${file} is not a usable packed BLU-Net: ${parsed.error.message}` });
}
