/**
 * The residual quantiser and its straight-through gradients as one loop over host memory.
 * On CPU backends (native TensorFlow, wasm, cpu) a tensor-op formulation costs ~10 full passes and
 * ~40 small ops per level; per-op dispatch dominated BLU-Net training. Values follow float32
 * arithmetic step by step (Math.fround), so forward results equal the tensor formulation bit for
 * bit; gradients are accumulated in double, which is closer to exact than a float32 reduction.
 */

/** Smallest normal float32. TensorFlow on the CPU flushes smaller (subnormal) values to zero. */
export const SMALLEST_NORMAL = 2 ** -126;

/** sign(x) with subnormals as zero, as TensorFlow's Sign gives it on the CPU. */
export function tensorflowSign(x: number): number {
  return Math.abs(x) < SMALLEST_NORMAL ? 0 : Math.sign(x);
}

/** Quantised values: out = Σ_m |g_m|·sign(r_m), r_0 = x, r_{m+1} = r_m − |g_m|·sign(r_m). */
export function quantiseForward(x: Float32Array, magnitudes: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  const levels = magnitudes.length;
  for (let i = 0; i < x.length; i++) {
    let residual = x[i]!;
    let sum = 0;
    for (let m = 0; m < levels; m++) {
      const term = magnitudes[m]! * tensorflowSign(residual); // exact: sign is −1, 0 or 1
      sum = m === 0 ? term : Math.fround(sum + term);
      residual = Math.fround(residual - term);
    }
    out[i] = sum;
  }
  return out;
}

/** Smallest 'range' STE window, so levels whose gammas are all zero do not divide by zero. */
export const MIN_STE_WINDOW = 1e-8;

/** Per-level STE windows: 1 for 'unit'; Σ_{k≥m} |g_k| (at least MIN_STE_WINDOW) for 'range'. */
export function steWindows(magnitudes: Float32Array, ste: 'unit' | 'range'): Float32Array {
  const windows = new Float32Array(magnitudes.length).fill(1);
  if (ste === 'unit') return windows;
  let tail = 0;
  for (let m = magnitudes.length - 1; m >= 0; m--) {
    tail = Math.fround(tail + magnitudes[m]!);
    windows[m] = Math.max(tail, MIN_STE_WINDOW);
  }
  return windows;
}

export interface QuantiserGradients {
  readonly dx: Float32Array;
  /** ∂loss/∂|g_m| (multiply by d|g|/dg for the gammas themselves). */
  readonly dMagnitudes: Float64Array;
}

/**
 * With a_m = |g_m|·STE'(r_m) (unit: [|r_m| ≤ 1]; range: [|r_m| ≤ W_m]/W_m) and D_M = 0,
 * D_m = a_m + (1 − a_m)·D_{m+1}: ∂/∂x = dy·D_0 and ∂/∂|g_m| = Σ dy·sign(r_m)·(1 − D_{m+1}).
 */
export function quantiseBackward(
  x: Float32Array,
  dy: Float32Array,
  magnitudes: Float32Array,
  windows: Float32Array,
  ste: 'unit' | 'range',
): QuantiserGradients {
  const levels = magnitudes.length;
  const dx = new Float32Array(x.length);
  const dMagnitudes = new Float64Array(levels);
  const slope = new Float64Array(levels);
  const sign = new Float64Array(levels);
  const coefficient = Array.from(magnitudes, (g, m) => (ste === 'unit' ? g : g / windows[m]!));
  for (let i = 0; i < x.length; i++) {
    let residual = x[i]!;
    for (let m = 0; m < levels; m++) {
      sign[m] = tensorflowSign(residual);
      slope[m] = Math.abs(residual) <= windows[m]! ? coefficient[m]! : 0;
      residual = Math.fround(residual - magnitudes[m]! * sign[m]!);
    }
    const g = dy[i]!;
    let through = 0; // D_{m+1}
    for (let m = levels - 1; m >= 0; m--) {
      dMagnitudes[m] = dMagnitudes[m]! + g * sign[m]! * (1 - through);
      through += slope[m]! * (1 - through);
    }
    dx[i] = g * through;
  }
  return { dx, dMagnitudes };
}

/** The per-level signs b_m ∈ {−1, 0, +1} of the same greedy encoding (exact sign, as TensorFlow's). */
export function quantiseSigns(x: Float32Array, magnitudes: Float32Array): Float32Array[] {
  const signs = Array.from(magnitudes, () => new Float32Array(x.length));
  for (let i = 0; i < x.length; i++) {
    let residual = x[i]!;
    for (let m = 0; m < magnitudes.length; m++) {
      const sign = tensorflowSign(residual);
      signs[m]![i] = sign;
      residual = Math.fround(residual - magnitudes[m]! * sign);
    }
  }
  return signs;
}
