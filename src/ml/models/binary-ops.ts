/**
 * Residual binarisation maths (thesis §3), shared by the binary layers and the packed export.
 * Pure tensor functions: no layer state, so they can be tested on hand-computed cases.
 */
import * as tf from '@tensorflow/tfjs';
import { runOnHost } from '../placement.js';
import { MIN_STE_WINDOW, quantiseBackward, quantiseForward, quantiseSigns, SMALLEST_NORMAL, steWindows } from './host-quantiser.js';

/**
 * sign(x) as TensorFlow computes it on the CPU, on every backend: 0 for ±0 and for subnormals
 * (|x| < 2^-126, which TF flushes to zero), ±1 otherwise. tfjs-wasm's Sign returns 0 for
 * |x| < 2^-23; scaling by 2^103 first moves that dead zone to exactly the subnormals, and
 * overflow to ±Infinity keeps the sign. (tfjs-cpu's Sign is exact, so subnormals give ±1 there.)
 */
export function exactSign(x: tf.Tensor): tf.Tensor {
  return tf.getBackend() === 'wasm' ? tf.sign(tf.mul(x, 2 ** 103)) : tf.sign(x);
}

/**
 * Sign with the hard-tanh straight-through estimator (BinaryNet).
 * Forward: sign(x), with sign(0) = 0 as in TF. Backward: dy · [|x| ≤ 1].
 */
export const steSign: (x: tf.Tensor) => tf.Tensor = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  return {
    value: exactSign(x),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const input = saved[0] as tf.Tensor;
      return tf.mul(dy, tf.cast(tf.lessEqual(tf.abs(input), 1), dy.dtype));
    },
  };
}) as (x: tf.Tensor) => tf.Tensor;

/** Initial gammas for M levels: [M, M-1, ..., 1] / sum, e.g. M=3 → [0.5, 1/3, 1/6]. */
export function initialGammas(levels: number): number[] {
  const total = (levels * (levels + 1)) / 2;
  return Array.from({ length: levels }, (_, m) => (levels - m) / total);
}

/**
 * Sums per-level terms in a fixed order (((t1 + t2) + t3) ...). The layers and the packed loader
 * both go through here so the effective kernel is bit-identical on the same backend.
 */
export function accumulateLevels(terms: tf.Tensor[]): tf.Tensor {
  const first = terms[0];
  if (first === undefined) throw new RangeError('accumulateLevels needs at least one level');
  return terms.slice(1).reduce((acc, t) => tf.add(acc, t), first);
}

/** |gamma_m| as a scalar tensor (the forward pass uses the magnitude, gradients flow through abs). */
function gammaMagnitude(gammas: tf.Tensor, m: number): tf.Tensor {
  return tf.abs(tf.reshape(tf.slice(gammas, [m], [1]), []));
}

/**
 * Sign whose STE is scaled to a window: dy · [|x| ≤ w] / w (hard-tanh of x/w). No gradient reaches w.
 * Used per level by the 'range' STE so the whole residual quantiser back-propagates as the identity
 * clipped to the range it can represent.
 */
const windowedSign: (x: tf.Tensor, window: tf.Tensor) => tf.Tensor = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, window, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([x, window]);
  return {
    value: exactSign(x),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [input, w] = saved as [tf.Tensor, tf.Tensor];
      const inside = tf.cast(tf.lessEqual(tf.abs(input), w), dy.dtype);
      return [tf.div(tf.mul(dy, inside), w), tf.zerosLike(w)];
    },
  };
}) as (x: tf.Tensor, window: tf.Tensor) => tf.Tensor;

/**
 * Straight-through estimator of the residual quantiser. 'unit': the thesis's hard-tanh on every
 * level (|r_m| ≤ 1, slope 1). 'range': level m uses the window w_m = Σ_{k≥m} |g_k| with slope 1/w_m,
 * which telescopes to slope 1 inside the quantiser's range whatever the gammas' scale.
 */
export type SteMode = 'unit' | 'range';

/** The per-level slopes g_m·STE'(r_m) of the quantiser's straight-through estimator. */
function levelSlope(residual: tf.Tensor, magnitude: tf.Tensor, window: tf.Tensor | null): tf.Tensor {
  const inside = tf.cast(tf.lessEqual(tf.abs(residual), window ?? 1), residual.dtype);
  return tf.mul(inside, window === null ? magnitude : tf.div(magnitude, window));
}

/**
 * Gradients of out = Σ_m |g_m|·sign(r_m), r_{m+1} = r_m − |g_m|·sign(r_m), in closed form.
 * With a_m = |g_m|·STE'(r_m) and D_m = ∂out/∂r_m: D_M = 0, D_m = a_m + (1 − a_m)·D_{m+1};
 * ∂out/∂w = D_0 and ∂out/∂|g_m| = sign(r_m)·(1 − D_{m+1}). This is exactly what autodiff through
 * the per-level ops gives, in about a third of the ops: BLU-Net training was dominated by them.
 */
function residualGradients(dy: tf.Tensor, residuals: tf.Tensor[], gammas: tf.Tensor, ste: SteMode): [tf.Tensor, tf.Tensor] {
  const levels = residuals.length;
  const magnitudes = tf.abs(gammas);
  const windows = ste === 'range' ? tf.maximum(tf.cumsum(magnitudes, 0, false, true), MIN_STE_WINDOW) : null;
  const level = (t: tf.Tensor, m: number): tf.Tensor => tf.reshape(tf.slice(t, [m], [1]), []);
  const magnitudeGrads: tf.Tensor[] = new Array<tf.Tensor>(levels);
  let through: tf.Tensor | null = null; // D_{m+1}; null stands for 0
  for (let m = levels - 1; m >= 0; m--) {
    const residual = residuals[m] as tf.Tensor;
    const keep: tf.Tensor | null = through === null ? null : tf.sub(1, through);
    const signed = tf.mul(dy, exactSign(residual));
    magnitudeGrads[m] = tf.sum(keep === null ? signed : tf.mul(signed, keep));
    const slope = levelSlope(residual, level(magnitudes, m), windows === null ? null : level(windows, m));
    through = keep === null || through === null ? slope : tf.add(through, tf.mul(slope, keep));
  }
  const dw = tf.mul(dy, through ?? tf.zerosLike(dy));
  // d|g|/dg as tfjs defines it for abs: 1 for g > 0, −1 otherwise.
  const dGammas = tf.mul(tf.stack(magnitudeGrads), tf.step(gammas, -1));
  return [dw, dGammas];
}

type Quantiser = (w: tf.Tensor, gammas: tf.Tensor) => tf.Tensor;
const fusedQuantisers = new Map<string, Quantiser>();

// One custom-gradient op for the whole quantiser: the forward ops are not taped, and the backward
// is residualGradients. Forward values are those of the per-level formulation, bit for bit.
function deviceQuantiser(ste: SteMode): Quantiser {
  return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [w, gammas, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const levels = gammas.shape[0] ?? 0;
    const residuals: tf.Tensor[] = [w];
    const terms: tf.Tensor[] = [];
    for (let m = 0; m < levels; m++) {
      const term = tf.mul(gammaMagnitude(gammas, m), exactSign(residuals[m] as tf.Tensor));
      terms.push(term);
      if (m < levels - 1) residuals.push(tf.sub(residuals[m] as tf.Tensor, term));
    }
    save([gammas, ...residuals]);
    // Sign on wasm gives 0 for NaN: keep NaN so a diverging layer still shows.
    return {
      value: tf.where(tf.isNaN(w), w, accumulateLevels(terms)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => residualGradients(dy, saved.slice(1), saved[0] as tf.Tensor, ste),
    };
  }) as Quantiser;
}

function hostMagnitudes(gammas: tf.Tensor): Float32Array {
  return Float32Array.from(gammas.dataSync() as Float32Array, Math.abs);
}

// The same op computed in one loop over host memory (see host-quantiser.ts): a few tensor ops
// instead of dozens, for backends whose tensors live in host memory anyway.
function hostQuantiser(ste: SteMode): Quantiser {
  return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [w, gammas, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([w, gammas]);
    const value = tf.tensor(quantiseForward(w.dataSync() as Float32Array, hostMagnitudes(gammas)), w.shape, 'float32');
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [input, g] = saved as [tf.Tensor, tf.Tensor];
        const gammaValues = g.dataSync() as Float32Array;
        const magnitudes = Float32Array.from(gammaValues, Math.abs);
        const grads = quantiseBackward(
          input.dataSync() as Float32Array,
          dy.dataSync() as Float32Array,
          magnitudes,
          steWindows(magnitudes, ste),
          ste,
        );
        // d|g|/dg as tfjs's abs defines it: 1 for g > 0, −1 otherwise.
        const dGammas = Array.from(grads.dMagnitudes, (d, m) => d * (gammaValues[m]! > 0 ? 1 : -1));
        return [tf.tensor(grads.dx, input.shape, 'float32'), tf.tensor1d(dGammas, 'float32')];
      },
    };
  }) as Quantiser;
}

type Placement = 'host' | 'device';

// A lookup-table formulation (TF Bucketize + Gather, 2 passes instead of ~10) was exact but
// slower on TF's CPU kernels: 65-78 ms per pass at 1M elements against ~1 ms for element-wise ops.
function placementFor(size: number): Placement {
  return runOnHost(size) ? 'host' : 'device';
}

function fusedQuantiser(ste: SteMode, placement: Placement): Quantiser {
  const key = `${placement}:${ste}`;
  let op = fusedQuantisers.get(key);
  if (op === undefined) {
    op = placement === 'host' ? hostQuantiser(ste) : deviceQuantiser(ste);
    fusedQuantisers.set(key, op);
  }
  return op;
}

/**
 * Greedy residual approximation: r = w; for each level t = |g_m|·sign(r); r -= t; out = Σ t.
 * Gradients reach w through the STE and the gammas through |g| and the residual chain.
 */
export function residualBinarize(w: tf.Tensor, gammas: tf.Tensor, ste: SteMode = 'unit'): tf.Tensor {
  return fusedQuantiser(ste, placementFor(w.size))(w, gammas);
}

/** The fused quantiser with its placement forced (tests compare them; benchmarks time them). */
export function residualBinarizeWith(placement: Placement, w: tf.Tensor, gammas: tf.Tensor, ste: SteMode = 'unit'): tf.Tensor {
  return fusedQuantiser(ste, placement)(w, gammas);
}

/** The per-level formulation, taped op by op: the reference the fused quantiser is tested against. */
export function residualBinarizeReference(w: tf.Tensor, gammas: tf.Tensor, ste: SteMode = 'unit'): tf.Tensor {
  const levels = gammas.shape[0] ?? 0;
  const magnitudes = Array.from({ length: levels }, (_, m) => gammaMagnitude(gammas, m));
  const terms: tf.Tensor[] = [];
  let residual = w;
  for (let m = 0; m < levels; m++) {
    const sign = ste === 'unit' ? steSign(residual) : windowedSign(residual, tf.maximum(tf.addN(magnitudes.slice(m)), MIN_STE_WINDOW));
    const term = tf.mul(magnitudes[m] as tf.Tensor, sign);
    residual = tf.sub(residual, term);
    terms.push(term);
  }
  return accumulateLevels(terms);
}

/**
 * The per-level signs b_m ∈ {-1, 0, +1} of the greedy encoding, as flat arrays (no gradient).
 * Used by the packed export; the effective tensor is Σ |g_m|·b_m. Computed on the host with an
 * exact sign: wasm's Sign kernel returns 0 for |x| ≤ 1e-7, which made files backend-dependent.
 */
export function residualSigns(w: tf.Tensor, gammas: tf.Tensor): Float32Array[] {
  return quantiseSigns(w.dataSync() as Float32Array, hostMagnitudes(gammas));
}

/** Rebuilds Σ |g_m|·b_m from stored signs with the same op order as residualBinarize. */
export function effectiveFromSigns(signs: Float32Array[], gammas: number[], shape: number[]): tf.Tensor {
  return tf.tidy(() => {
    const g = tf.tensor1d(gammas, 'float32');
    const terms = signs.map((b, m) => tf.mul(gammaMagnitude(g, m), tf.tensor(b, shape, 'float32')));
    return accumulateLevels(terms);
  });
}

/**
 * The sign dead zone recorded in packed files: the subnormals (|x| < 2^-126), as every quantiser
 * path binarises (exactSign, the host loop: TensorFlow's semantics). Files written before, from a
 * model simulated on tfjs-wasm, record 2^-23, and the engine honours whatever a file records.
 */
export function signDeadZone(): number {
  return SMALLEST_NORMAL;
}
