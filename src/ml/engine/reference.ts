/**
 * Pure-TypeScript reference kernels: written for clarity, used to test the WebAssembly kernels
 * and as the fallback where WebAssembly is unavailable.
 */
import { codeAt, codeValues } from './bitmaps.js';
import type { EngineKernels } from './kernels.js';
import { effectiveKernel, kernelSigns, type ConvLayer, type SeparableLayer } from './model.js';
import { channelMask, popcount32, wordsFor, type BinaryTensor, type BitPlanes } from './tensors.js';

/** TF 'same' padding for stride 1: tap t of a k-wide kernel reads offset t − floor((k − 1) / 2). */
export const tapOffset = (k: number, t: number): number => t - ((k - 1) >> 1);

/** The pixel that tap t of a k×k kernel centred on (y, x) reads, or -1 outside the image (zero padding). */
function tapPixel(k: number, t: number, y: number, x: number, height: number, width: number): number {
  const iy = y + tapOffset(k, Math.floor(t / k));
  const ix = x + tapOffset(k, t % k);
  return iy < 0 || iy >= height || ix < 0 || ix >= width ? -1 : iy * width + ix;
}

/** sign(x), with |x| < deadZone → 0 when the model was trained with such a sign (tfjs-wasm). */
export const signWithDeadZone = (x: number, deadZone: number): number =>
  deadZone === 0 ? Math.sign(x) : x >= deadZone ? 1 : x <= -deadZone ? -1 : 0;

export function binariseReference(
  y: Float32Array,
  height: number,
  width: number,
  channels: number,
  gammas: Float32Array,
  deadZone = 0,
): BitPlanes {
  const pixels = height * width;
  const words = wordsFor(channels);
  const levels = gammas.length;
  const signs = new Uint32Array(levels * pixels * words);
  const nonzero = new Uint32Array(levels * pixels * words);
  let zeros = 0;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < channels; c++) {
      let r = y[p * channels + c] as number;
      for (let n = 0; n < levels; n++) {
        const s = signWithDeadZone(r, deadZone);
        const word = (n * pixels + p) * words + (c >> 5);
        if (s > 0) signs[word] = (signs[word] as number) | (1 << (c & 31));
        if (s !== 0) nonzero[word] = (nonzero[word] as number) | (1 << (c & 31));
        else zeros++;
        // Same fp32 ops as the simulation: r ← r − |γ_n|·s.
        r = Math.fround(r - Math.fround((gammas[n] as number) * s));
      }
    }
  }
  return { channels, words, levels, gammas, signs, nonzero: zeros > 0 ? nonzero : null };
}

export function realConv(image: Float32Array, height: number, width: number, layer: ConvLayer): Float32Array {
  const { k, cin, filters } = layer.kernel;
  const weights = effectiveKernel(layer.kernel);
  const out = new Float32Array(height * width * filters);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let f = 0; f < filters; f++) {
        let acc = 0;
        for (let t = 0; t < k * k; t++) {
          const q = tapPixel(k, t, y, x, height, width);
          if (q < 0) continue;
          for (let c = 0; c < cin; c++) acc += (weights[(t * cin + c) * filters + f] as number) * (image[q * cin + c] as number);
        }
        out[(y * width + x) * filters + f] = acc + (layer.bias[f] as number);
      }
    }
  }
  return out;
}

/** Σ over valid taps and words of b·s for one (weight level, activation level, filter) triple. */
function xnorDot(
  g: BitPlanes,
  layer: ConvLayer,
  m: number,
  n: number,
  f: number,
  height: number,
  width: number,
  y: number,
  x: number,
): number {
  const { k } = layer.kernel;
  const { words, signs, nonzero } = layer.packed;
  const filters = layer.kernel.filters;
  const pixels = height * width;
  let dot = 0;
  for (let t = 0; t < k * k; t++) {
    const q = tapPixel(k, t, y, x, height, width);
    if (q < 0) continue;
    for (let w = 0; w < words; w++) {
      const wi = ((m * filters + f) * k * k + t) * words + w;
      const ai = (n * pixels + q) * words + w;
      const mask = (nonzero ? (nonzero[wi] as number) : channelMask(g.channels, w)) & (g.nonzero ? (g.nonzero[ai] as number) : 0xffffffff);
      // Agreeing signs add +1, disagreeing −1: valid − 2·popcount(xor).
      dot += popcount32(mask) - 2 * popcount32(((signs[wi] as number) ^ (g.signs[ai] as number)) & mask);
    }
  }
  return dot;
}

export function binaryConvReference(x: BinaryTensor, layer: ConvLayer): Float32Array {
  const g = x.groups[0];
  if (x.groups.length !== 1 || g === undefined || g.channels !== layer.kernel.cin)
    throw new RangeError(`${layer.name}: expected one group of ${layer.kernel.cin} channels`);
  const { filters, gammas } = layer.kernel;
  const out = new Float32Array(x.height * x.width * filters);
  for (let y = 0; y < x.height; y++) {
    for (let xx = 0; xx < x.width; xx++) {
      for (let f = 0; f < filters; f++) {
        let acc = 0;
        for (let m = 0; m < gammas.length; m++) {
          for (let n = 0; n < g.levels; n++)
            acc += (gammas[m] as number) * (g.gammas[n] as number) * xnorDot(g, layer, m, n, f, x.height, x.width, y, xx);
        }
        out[(y * x.width + xx) * filters + f] = acc + (layer.bias[f] as number);
      }
    }
  }
  return out;
}

/** Per channel: Σ over (depthwise level m, activation level n) of |γ_m||a_n|·Σ_taps b_m·s_n. */
function depthwise(x: BinaryTensor, layer: SeparableLayer): Float32Array {
  const { k, cin, gammas } = layer.depthwise;
  const dwSigns = kernelSigns(layer.depthwise);
  const pixels = x.height * x.width;
  const out = new Float32Array(pixels * cin);
  let offset = 0;
  for (const g of x.groups) {
    for (let y = 0; y < x.height; y++) {
      for (let xx = 0; xx < x.width; xx++) {
        for (let c = 0; c < g.channels; c++) {
          let acc = 0;
          for (let t = 0; t < k * k; t++) {
            const q = tapPixel(k, t, y, xx, x.height, x.width);
            if (q < 0) continue;
            const code = codeAt(g, pixels, q, c);
            for (let m = 0; m < gammas.length; m++) {
              const b = (dwSigns[m] as Int8Array)[t * cin + offset + c] as number;
              for (let n = 0; n < g.levels; n++) {
                const s = (code >> (g.levels + n)) & 1 ? 0 : (code >> n) & 1 ? 1 : -1;
                acc += (gammas[m] as number) * (g.gammas[n] as number) * b * s;
              }
            }
          }
          out[(y * x.width + xx) * cin + offset + c] = acc;
        }
      }
    }
    offset += g.channels;
  }
  if (offset !== cin) throw new RangeError(`${layer.name}: input has ${offset} channels, kernel expects ${cin}`);
  return out;
}

/** Pointwise: the depthwise output is real-valued, so the decoded kernel (8 values) multiplies it. */
function pointwise(dw: Float32Array, pixels: number, layer: SeparableLayer): Float32Array {
  const { cin, filters } = layer.pointwise;
  const weights = effectiveKernel(layer.pointwise);
  const out = new Float32Array(pixels * filters);
  for (let p = 0; p < pixels; p++) {
    for (let f = 0; f < filters; f++) {
      let acc = 0;
      for (let c = 0; c < cin; c++) acc += (weights[c * filters + f] as number) * (dw[p * cin + c] as number);
      out[p * filters + f] = acc + (layer.bias[f] as number);
    }
  }
  return out;
}

/**
 * The depthwise conv in the kernels' fp32 arithmetic: decoded values × decoded kernel, summed in
 * tap order, unfused, then + bias (separableBinarise's depthwise bias). With separableBinarise its output is binarised directly, so every engine
 * must compute the same fp32 values to take the same signs (sums like +p +p −p −p must give the
 * same zero everywhere); the level-pair form above rounds differently.
 */
function depthwiseFp32(x: BinaryTensor, layer: SeparableLayer, bias: Float32Array): Float32Array {
  const { k, cin } = layer.depthwise;
  const weights = effectiveKernel(layer.depthwise);
  const pixels = x.height * x.width;
  const out = new Float32Array(pixels * cin);
  let offset = 0;
  for (const g of x.groups) {
    const values = codeValues(g);
    for (let p = 0; p < pixels; p++) {
      const [y, xx] = [Math.floor(p / x.width), p % x.width];
      for (let c = 0; c < g.channels; c++) {
        let acc = 0;
        for (let t = 0; t < k * k; t++) {
          const q = tapPixel(k, t, y, xx, x.height, x.width);
          if (q < 0) continue;
          const v = values[codeAt(g, pixels, q, c)] as number;
          acc = Math.fround(acc + Math.fround((weights[t * cin + offset + c] as number) * v));
        }
        out[p * cin + offset + c] = Math.fround(acc + (bias[offset + c] as number));
      }
    }
    offset += g.channels;
  }
  return out;
}

export function separableReference(x: BinaryTensor, layer: SeparableLayer): Float32Array {
  const inner = layer.binarised;
  if (inner === null) return pointwise(depthwise(x, layer), x.height * x.width, layer);
  // separableBinarise: binarise the depthwise output, then the pointwise is a 1×1 XNOR conv.
  const { cin } = layer.depthwise;
  const planes = binariseReference(depthwiseFp32(x, layer, inner.bias), x.height, x.width, cin, inner.act.gammas, inner.act.signDeadZone);
  return binaryConvReference({ height: x.height, width: x.width, groups: [planes] }, inner.pointwise);
}

export const referenceKernels: EngineKernels = {
  name: 'reference (TypeScript)',
  firstBlock: (image, { conv, act }) =>
    binariseReference(
      realConv(image.pixels, image.height, image.width, conv),
      image.height,
      image.width,
      conv.kernel.filters,
      act.gammas,
      act.signDeadZone,
    ),
  binaryConvBlock: (x, { conv, act }) =>
    binariseReference(binaryConvReference(x, conv), x.height, x.width, conv.kernel.filters, act.gammas, act.signDeadZone),
  separableBlock: (x, { conv, act }) =>
    binariseReference(separableReference(x, conv), x.height, x.width, conv.pointwise.filters, act.gammas, act.signDeadZone),
  logits: (x, head) => binaryConvReference(x, head),
};
