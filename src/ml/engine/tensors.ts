/**
 * Data the engine works on. Activations after a BinarySignActivation are never stored as floats:
 * each level's signs are one bit per channel, packed along channels into 32-bit words per pixel.
 */

/** One channel group of a residual-binarised activation (a concat has two groups, each with its own gammas). */
export interface BitPlanes {
  readonly channels: number;
  /** 32-bit words per pixel and level: ceil(channels / 32); bits past `channels` are 0. */
  readonly words: number;
  readonly levels: number;
  /** |γ_n| of the activation layer that produced the group. */
  readonly gammas: Float32Array;
  /** [level][pixel][word]; bit set = +1, clear = −1 (or 0 when `nonzero` says so). */
  readonly signs: Uint32Array;
  /** Same layout; bit set = the sign is ±1. Null when no sign is 0 (the usual case). */
  readonly nonzero: Uint32Array | null;
}

/** A binarised activation map: height × width pixels, channels split into groups. */
export interface BinaryTensor {
  readonly height: number;
  readonly width: number;
  readonly groups: readonly BitPlanes[];
}

export const wordsFor = (channels: number): number => Math.ceil(channels / 32);

/** Mask of the real channels in word `w` of a group with `channels` channels. */
export function channelMask(channels: number, w: number): number {
  const rest = channels - 32 * w;
  return rest >= 32 ? 0xffffffff : ((1 << rest) >>> 0) - 1;
}

export function popcount32(v: number): number {
  let x = v - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) as number;
}

/** Σ_n |γ_n|·s_n in the simulation's op order (((t1 + t2) + t3) in fp32). */
export function levelValue(gammas: Float32Array, signs: ArrayLike<number>): number {
  let v = Math.fround((gammas[0] as number) * (signs[0] as number));
  for (let n = 1; n < gammas.length; n++) v = Math.fround(v + Math.fround((gammas[n] as number) * (signs[n] as number)));
  return v;
}
