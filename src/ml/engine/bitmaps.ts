/**
 * Max-pool, nearest upsampling and concat on binarised activations. They move whole sign codes
 * (all levels of one channel together), so no value is re-quantised.
 */
import type { BinaryTensor, BitPlanes } from './tensors.js';

function withPlanes(g: BitPlanes, pixels: number, fill: (src: Uint32Array, dst: Uint32Array) => void): BitPlanes {
  const make = (src: Uint32Array) => {
    const dst = new Uint32Array(g.levels * pixels * g.words);
    fill(src, dst);
    return dst;
  };
  return { ...g, signs: make(g.signs), nonzero: g.nonzero ? make(g.nonzero) : null };
}

/** Nearest ×2 upsampling: every pixel's words are copied to a 2×2 block. */
export function upsample2(x: BinaryTensor): BinaryTensor {
  const h = x.height * 2;
  const w = x.width * 2;
  const groups = x.groups.map((g) =>
    withPlanes(g, h * w, (src, dst) => {
      const words = g.words;
      for (let n = 0; n < g.levels; n++) {
        for (let y = 0; y < x.height; y++) {
          const from = (n * x.height * x.width + y * x.width) * words;
          const row = (n * h * w + 2 * y * w) * words;
          for (let xx = 0; xx < x.width; xx++) {
            for (let k = 0; k < words; k++) {
              const v = src[from + xx * words + k] as number;
              dst[row + 2 * xx * words + k] = v;
              dst[row + (2 * xx + 1) * words + k] = v;
            }
          }
          dst.copyWithin(row + w * words, row, row + w * words);
        }
      }
    }),
  );
  return { height: h, width: w, groups };
}

/** Values of every sign code of a group: code = Σ_n (bit_n << n) + (zero_n << (levels + n)). */
export function codeValues(g: BitPlanes): Float32Array {
  const table = new Float32Array(1 << (2 * g.levels));
  for (let code = 0; code < table.length; code++) {
    let v = 0;
    for (let n = 0; n < g.levels; n++) {
      const s = (code >> (g.levels + n)) & 1 ? 0 : (code >> n) & 1 ? 1 : -1;
      const t = Math.fround((g.gammas[n] as number) * s);
      v = n === 0 ? t : Math.fround(v + t);
    }
    table[code] = v;
  }
  return table;
}

/** Rank of every code by its value (equal values, equal rank), for pooling without decoding. */
export function codeRanks(g: BitPlanes): Int32Array {
  const values = codeValues(g);
  const distinct = [...new Set(values)].sort((a, b) => a - b);
  return Int32Array.from(values, (v) => distinct.indexOf(v));
}

/** The sign code of channel c at a pixel (see codeValues). */
export function codeAt(g: BitPlanes, pixels: number, pixel: number, c: number): number {
  let code = 0;
  const bit = 1 << (c & 31);
  for (let n = 0; n < g.levels; n++) {
    const word = (n * pixels + pixel) * g.words + (c >> 5);
    if ((g.signs[word] as number) & bit) code |= 1 << n;
    if (g.nonzero && !((g.nonzero[word] as number) & bit)) code |= 1 << (g.levels + n);
  }
  return code;
}

function setCode(dst: BitPlanes, pixels: number, pixel: number, c: number, code: number): void {
  const bit = 1 << (c & 31);
  for (let n = 0; n < dst.levels; n++) {
    const word = (n * pixels + pixel) * dst.words + (c >> 5);
    if ((code >> n) & 1) dst.signs[word] = (dst.signs[word] as number) | bit;
    if (dst.nonzero && !((code >> (dst.levels + n)) & 1)) dst.nonzero[word] = (dst.nonzero[word] as number) | bit;
  }
}

/** 2×2 max-pool, stride 2, 'valid' (odd trailing rows/columns dropped, as tfjs does). */
export function maxPool2(x: BinaryTensor): BinaryTensor {
  const h = Math.floor(x.height / 2);
  const w = Math.floor(x.width / 2);
  const inPixels = x.height * x.width;
  const groups = x.groups.map((g) => {
    const values = codeValues(g);
    const out: BitPlanes = {
      ...g,
      signs: new Uint32Array(g.levels * h * w * g.words),
      nonzero: g.nonzero ? new Uint32Array(g.levels * h * w * g.words) : null,
    };
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        const corners = [
          2 * y * x.width + 2 * xx,
          2 * y * x.width + 2 * xx + 1,
          (2 * y + 1) * x.width + 2 * xx,
          (2 * y + 1) * x.width + 2 * xx + 1,
        ];
        for (let c = 0; c < g.channels; c++) {
          let best = codeAt(g, inPixels, corners[0] as number, c);
          for (let i = 1; i < 4; i++) {
            const code = codeAt(g, inPixels, corners[i] as number, c);
            if ((values[code] as number) > (values[best] as number)) best = code;
          }
          setCode(out, h * w, y * w + xx, c, best);
        }
      }
    }
    return out;
  });
  return { height: h, width: w, groups };
}

/** Channel concat [a, b]: the groups side by side, each keeping its own gammas. */
export function concatChannels(a: BinaryTensor, b: BinaryTensor): BinaryTensor {
  if (a.height !== b.height || a.width !== b.width) throw new RangeError(`concat of ${a.height}×${a.width} and ${b.height}×${b.width}`);
  return { height: a.height, width: a.width, groups: [...a.groups, ...b.groups] };
}
