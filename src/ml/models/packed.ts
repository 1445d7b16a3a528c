/**
 * Bit-packed BLU-Net export: what the thesis size accounting (§8) describes, as a real file.
 *
 * Layout (little-endian): "BLUPACK1", uint32 header length, header JSON (format version and the
 * buildBluNet options), then for every binary layer in `model.layers` order:
 *   BinarySignActivation:  gammas (fp32 × a)
 *   BinaryConv2D:          kernel block, bias (fp32 × filters)
 *   BinarySeparableConv2D: depthwise block, pointwise block, bias (fp32 × filters); with the header
 *                          option separableBinarise: depthwise block, inner activation gammas
 *                          (fp32 × a), depthwise bias (fp32 × cin), pointwise block, bias
 * where a block is gammas (fp32 × levels) then one sign record per level (see packed-format.ts).
 * The loader rebuilds the architecture from the options with `frozen` layers holding Σ|γ|·b, so
 * predictions equal the exported model's bit for bit on the same backend.
 */
import * as tf from '@tensorflow/tfjs';
import { readFile, writeFile } from 'node:fs/promises';
import { err, ok, type Result } from '../../base/result.js';
import { BinaryConv2D, BinarySeparableConv2D, BinarySignActivation } from './binary-layers.js';
import { effectiveFromSigns, residualSigns, signDeadZone } from './binary-ops.js';
import { buildBluNet } from './blu-net.js';
import {
  ByteReader,
  ByteWriter,
  FORMAT_VERSION,
  MAGIC,
  readPackedHeader,
  readSigns,
  writeSigns,
  type PackedHeader,
  type PackedOptions,
} from './packed-format.js';
import { thesisSize } from './size.js';

export interface PackedExportInfo {
  fileBytes: number;
  headerBytes: number;
  /** Residual signs that were exactly 0 and went into exception lists. */
  zeroSigns: number;
  /** Bytes spent on zero bookkeeping: 4 per (tensor, level) count + 4 per zero. */
  zeroBytes: number;
  /** The thesis accounting of the same model, for comparison. */
  thesisBytes: number;
}

export type PackedError = { message: string };

/** Recovers the buildBluNet options from the layers; rejects models it could not rebuild. */
function inferOptions(model: tf.LayersModel): Result<PackedOptions, PackedError> {
  const first = model.layers.find((l): l is BinaryConv2D => l instanceof BinaryConv2D);
  const act = model.layers.find((l): l is BinarySignActivation => l instanceof BinarySignActivation);
  const sep = model.layers.find((l): l is BinarySeparableConv2D => l instanceof BinarySeparableConv2D);
  if (!first || !act) return err({ message: `${model.name} is not a BLU-Net (no binary conv/activation layers)` });
  if (model.layers.some((l) => (l instanceof BinaryConv2D || l instanceof BinarySeparableConv2D) && l.frozen)) {
    return err({ message: 'model has frozen layers (already decoded); export the trained BLU-Net instead' });
  }
  return ok({
    baseFilters: first.filters,
    levels: model.layers.filter((l) => l.getClassName() === 'MaxPooling2D').length + 1,
    activationLevels: act.levels,
    convLevels: first.levels,
    depthwiseLevels: sep?.depthwiseLevels ?? 3,
    pointwiseLevels: sep?.pointwiseLevels ?? 3,
    separableBinarise: sep?.separableBinarise ?? false,
  });
}

/** Writes gammas and per-level signs of one latent kernel; returns the zero count. */
function writeBlock(w: ByteWriter, kernel: tf.Tensor, gamma: tf.Tensor): number {
  w.float32s(gamma.dataSync());
  return residualSigns(kernel, gamma).reduce((zeros, signs) => zeros + writeSigns(w, signs), 0);
}

/** Appends one layer's record; returns [zero signs, sign records written]. */
function writeLayer(w: ByteWriter, layer: tf.layers.Layer): [number, number] {
  const weights = layer.getWeights();
  const at = (i: number) => weights[i] as tf.Tensor;
  if (layer instanceof BinarySignActivation) {
    w.float32s(at(0).dataSync());
    return [0, 0];
  }
  if (layer instanceof BinaryConv2D) {
    const zeros = writeBlock(w, at(0), at(2));
    w.float32s(at(1).dataSync());
    return [zeros, layer.levels];
  }
  if (layer instanceof BinarySeparableConv2D) {
    let zeros = writeBlock(w, at(0), at(3));
    if (layer.separableBinarise) {
      w.float32s(at(5).dataSync());
      w.float32s(at(6).dataSync());
    }
    zeros += writeBlock(w, at(1), at(4));
    w.float32s(at(2).dataSync());
    return [zeros, layer.depthwiseLevels + layer.pointwiseLevels];
  }
  return [0, 0];
}

function encodeHeader(options: PackedOptions): Uint8Array {
  const header: PackedHeader = { version: FORMAT_VERSION, options, signDeadZone: signDeadZone() };
  return new TextEncoder().encode(JSON.stringify(header));
}

export async function exportPackedBluNet(model: tf.LayersModel, file: string): Promise<Result<PackedExportInfo, PackedError>> {
  const options = inferOptions(model);
  if (!options.ok) return options;
  const header = encodeHeader(options.value);
  const w = new ByteWriter();
  w.bytes(new TextEncoder().encode(MAGIC));
  w.uint32(header.byteLength);
  w.bytes(header);
  let zeroSigns = 0;
  let records = 0;
  for (const layer of model.layers) {
    const [zeros, levels] = writeLayer(w, layer);
    zeroSigns += zeros;
    records += levels;
  }
  try {
    await writeFile(file, w.toBuffer());
  } catch (e) {
    return err({ message: `writing ${file} failed: ${String(e)}` });
  }
  const zeroBytes = 4 * records + 4 * zeroSigns;
  return ok({
    fileBytes: w.length,
    headerBytes: header.byteLength + MAGIC.length + 4,
    zeroSigns,
    zeroBytes,
    thesisBytes: thesisSize(model).bytes,
  });
}

/** Reads one block and returns [Σ|γ|·b as a tensor, gammas]. */
function readBlock(r: ByteReader, levels: number, shape: number[]): [tf.Tensor, tf.Tensor] {
  const count = shape.reduce((a, b) => a * b, 1);
  const gammas = r.float32s(levels);
  const signs = Array.from(gammas, () => readSigns(r, count));
  return [effectiveFromSigns(signs, Array.from(gammas), shape), tf.tensor1d(gammas, 'float32')];
}

function readLayer(r: ByteReader, layer: tf.layers.Layer): void {
  const shapes = layer.getWeights().map((t) => t.shape);
  const shape = (i: number) => shapes[i] as number[];
  let values: tf.Tensor[] = [];
  if (layer instanceof BinarySignActivation) values = [tf.tensor1d(r.float32s(layer.levels), 'float32')];
  if (layer instanceof BinaryConv2D) {
    const [kernel, gamma] = readBlock(r, layer.levels, shape(0));
    values = [kernel, tf.tensor1d(r.float32s(layer.filters), 'float32'), gamma];
  }
  if (layer instanceof BinarySeparableConv2D) {
    const [dw, dwGamma] = readBlock(r, layer.depthwiseLevels, shape(0));
    const cin = shape(0)[2] as number;
    const inner = layer.separableBinarise
      ? [tf.tensor1d(r.float32s(layer.activationLevels), 'float32'), tf.tensor1d(r.float32s(cin), 'float32')]
      : [];
    const [pw, pwGamma] = readBlock(r, layer.pointwiseLevels, shape(1));
    values = [dw, pw, tf.tensor1d(r.float32s(layer.filters), 'float32'), dwGamma, pwGamma, ...inner];
  }
  if (values.length > 0) layer.setWeights(values);
  tf.dispose(values);
}

/** Rebuilds a BLU-Net from a packed file; its predictions equal the exported model's. */
export async function loadPackedBluNet(file: string): Promise<Result<tf.LayersModel, PackedError>> {
  let model: tf.LayersModel | undefined;
  try {
    const r = new ByteReader(new Uint8Array(await readFile(file)));
    const { options } = readPackedHeader(r);
    model = buildBluNet({ ...options, frozen: true });
    for (const layer of model.layers) readLayer(r, layer);
    if (r.remaining !== 0) throw new Error(`${r.remaining} unexpected trailing bytes`);
    return ok(model);
  } catch (e) {
    model?.dispose();
    return err({ message: `loading packed BLU-Net ${file} failed: ${String(e)}` });
  }
}
