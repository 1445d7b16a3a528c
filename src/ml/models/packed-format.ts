/**
 * Byte-level pieces of the packed BLU-Net file: a little-endian writer/reader and the encoding of
 * one residual level's 3-valued signs.
 *
 * Sign encoding per (tensor, level): b ∈ {-1, 0, +1}. The common case is ±1, stored as one bit per
 * weight (1 → +1, 0 → −1), LSB-first, padded to a whole byte. Exact zeros (sign(0) = 0 happens
 * when a latent weight or a residual is exactly 0, e.g. |w| = |γ₁|) are stored as an exception
 * list: uint32 count, then uint32 flat indices; their bitmap bit is 0. Cost: 4 bytes per level
 * plus 4 bytes per zero, instead of a second bit plane for every weight.
 *
 * No tfjs here: the binary engine (src/ml/engine) reads the file through this module alone.
 */
import type { ResolvedBluNetOptions } from './blu-net.js';

export const MAGIC = 'BLUPACK1';
export const FORMAT_VERSION = 1;

// The STE only matters for training, so the packed format does not carry it. `separableBinarise`
// is absent from files written before it existed; readPackedHeader reads that as false.
export type PackedOptions = Omit<ResolvedBluNetOptions, 'frozen' | 'seed' | 'ste'>;
export interface PackedHeader {
  version: number;
  options: PackedOptions;
  /**
   * The sign function of the backend that wrote the file: |x| below this is sign 0 (tfjs-wasm:
   * 2^-23, FLT_EPSILON; exact backends: 0). Activations must be binarised the same way to
   * reproduce the model; absent in older files (read as 0).
   */
  signDeadZone?: number;
}
export class ByteWriter {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  bytes(data: Uint8Array): void {
    this.chunks.push(data);
    this.size += data.byteLength;
  }

  uint32(value: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value, true);
    this.bytes(b);
  }

  float32s(values: ArrayLike<number>): void {
    const b = new Uint8Array(values.length * 4);
    const view = new DataView(b.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
    this.bytes(b);
  }

  get length(): number {
    return this.size;
  }

  toBuffer(): Uint8Array {
    const out = new Uint8Array(this.size);
    let offset = 0;
    for (const c of this.chunks) {
      out.set(c, offset);
      offset += c.byteLength;
    }
    return out;
  }
}

/** Sequential reader; reading past the end throws (caught by the loader and turned into a Result). */
export class ByteReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(private readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  bytes(n: number): Uint8Array {
    if (this.offset + n > this.data.byteLength) throw new RangeError(`packed file truncated at byte ${this.offset}`);
    const out = this.data.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  uint32(): number {
    const v = this.view.getUint32(this.bytes(4).byteOffset - this.data.byteOffset, true);
    return v;
  }

  float32s(n: number): Float32Array {
    const start = this.bytes(n * 4).byteOffset - this.data.byteOffset;
    return Float32Array.from({ length: n }, (_, i) => this.view.getFloat32(start + i * 4, true));
  }

  get remaining(): number {
    return this.data.byteLength - this.offset;
  }
}

/** Writes one level's signs; returns how many exact zeros needed the exception list. */
export function writeSigns(w: ByteWriter, signs: Float32Array): number {
  const bitmap = new Uint8Array(Math.ceil(signs.length / 8));
  const zeros: number[] = [];
  for (let i = 0; i < signs.length; i++) {
    const s = signs[i] as number;
    if (s > 0) bitmap[i >> 3] = (bitmap[i >> 3] as number) | (1 << (i & 7));
    else if (s === 0) zeros.push(i);
  }
  w.uint32(zeros.length);
  for (const i of zeros) w.uint32(i);
  w.bytes(bitmap);
  return zeros.length;
}

/** One level's signs as stored: the ±1 bitmap (LSB-first) and the flat indices of exact zeros. */
export interface SignRecord {
  readonly bits: Uint8Array;
  readonly zeros: Uint32Array;
}

export function readSignRecord(r: ByteReader, count: number): SignRecord {
  const zeroCount = r.uint32();
  const zeros = Uint32Array.from({ length: zeroCount }, () => r.uint32());
  for (const i of zeros) {
    if (i >= count) throw new RangeError(`zero index ${i} outside a tensor of ${count} weights`);
  }
  return { bits: r.bytes(Math.ceil(count / 8)), zeros };
}

/** Expands a sign record into values −1, 0, +1 (`into` lets callers pick the array type). */
export function decodeSigns<T extends Float32Array | Int8Array>(record: SignRecord, into: T): T {
  const { bits } = record;
  for (let i = 0; i < into.length; i++) into[i] = ((bits[i >> 3] as number) >> (i & 7)) & 1 ? 1 : -1;
  for (const i of record.zeros) into[i] = 0;
  return into;
}

export function readSigns(r: ByteReader, count: number): Float32Array {
  return decodeSigns(readSignRecord(r, count), new Float32Array(count));
}

/** Reads and checks magic, header length and header JSON. */
export function readPackedHeader(r: ByteReader): PackedHeader {
  const magic = new TextDecoder().decode(r.bytes(MAGIC.length));
  if (magic !== MAGIC) throw new Error(`not a packed BLU-Net file (magic ${JSON.stringify(magic)})`);
  const header = JSON.parse(new TextDecoder().decode(r.bytes(r.uint32()))) as PackedHeader;
  if (header.version !== FORMAT_VERSION) throw new Error(`unsupported packed format version ${header.version}`);
  // Files written before the option existed are the thesis variant.
  return { ...header, options: { ...header.options, separableBinarise: header.options.separableBinarise ?? false } };
}
