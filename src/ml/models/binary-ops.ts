/**
 * Residual binarisation maths (thesis §3), shared by the binary layers and the packed export.
 * Pure tensor functions: no layer state, so they can be tested on hand-computed cases.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Sign with the hard-tanh straight-through estimator (BinaryNet).
 * Forward: sign(x), with sign(0) = 0 as in TF. Backward: dy · [|x| ≤ 1].
 */
export const steSign: (x: tf.Tensor) => tf.Tensor = tf.customGrad(
  (...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([x]);
    return {
      value: tf.sign(x),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const input = saved[0] as tf.Tensor;
        return tf.mul(dy, tf.cast(tf.lessEqual(tf.abs(input), 1), dy.dtype));
      },
    };
  },
) as (x: tf.Tensor) => tf.Tensor;

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
const windowedSign: (x: tf.Tensor, window: tf.Tensor) => tf.Tensor = tf.customGrad(
  (...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, window, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([x, window]);
    return {
      value: tf.sign(x),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [input, w] = saved as [tf.Tensor, tf.Tensor];
        const inside = tf.cast(tf.lessEqual(tf.abs(input), w), dy.dtype);
        return [tf.div(tf.mul(dy, inside), w), tf.zerosLike(w)];
      },
    };
  },
) as (x: tf.Tensor, window: tf.Tensor) => tf.Tensor;

/**
 * Straight-through estimator of the residual quantiser. 'unit': the thesis's hard-tanh on every
 * level (|r_m| ≤ 1, slope 1). 'range': level m uses the window w_m = Σ_{k≥m} |g_k| with slope 1/w_m,
 * which telescopes to slope 1 inside the quantiser's range whatever the gammas' scale.
 */
export type SteMode = 'unit' | 'range';

// Smallest window, so levels whose gammas are all zero do not divide by zero.
const MIN_WINDOW = 1e-8;

/**
 * Greedy residual approximation: r = w; for each level t = |g_m|·sign(r); r -= t; out = Σ t.
 * Gradients reach w through the STE and the gammas through |g| and the residual chain.
 */
export function residualBinarize(w: tf.Tensor, gammas: tf.Tensor, ste: SteMode = 'unit'): tf.Tensor {
  const levels = gammas.shape[0] ?? 0;
  const magnitudes = Array.from({ length: levels }, (_, m) => gammaMagnitude(gammas, m));
  const terms: tf.Tensor[] = [];
  let residual = w;
  for (let m = 0; m < levels; m++) {
    const sign = ste === 'unit' ? steSign(residual) : windowedSign(residual, tf.maximum(tf.addN(magnitudes.slice(m)), MIN_WINDOW));
    const term = tf.mul(magnitudes[m] as tf.Tensor, sign);
    residual = tf.sub(residual, term);
    terms.push(term);
  }
  return accumulateLevels(terms);
}

/**
 * The per-level signs b_m ∈ {-1, 0, +1} of the greedy encoding, as flat arrays (no gradient).
 * Used by the packed export; the effective tensor is Σ |g_m|·b_m.
 */
export function residualSigns(w: tf.Tensor, gammas: tf.Tensor): Float32Array[] {
  return tf.tidy(() => {
    const levels = gammas.shape[0] ?? 0;
    const signs: tf.Tensor[] = [];
    let residual = w;
    for (let m = 0; m < levels; m++) {
      const sign = tf.sign(residual);
      residual = tf.sub(residual, tf.mul(gammaMagnitude(gammas, m), sign));
      signs.push(sign);
    }
    return signs;
  }).map((sign) => {
    const values = sign.dataSync() as Float32Array;
    sign.dispose();
    return values;
  });
}

/** Rebuilds Σ |g_m|·b_m from stored signs with the same op order as residualBinarize. */
export function effectiveFromSigns(signs: Float32Array[], gammas: number[], shape: number[]): tf.Tensor {
  return tf.tidy(() => {
    const g = tf.tensor1d(gammas, 'float32');
    const terms = signs.map((b, m) => tf.mul(gammaMagnitude(g, m), tf.tensor(b, shape, 'float32')));
    return accumulateLevels(terms);
  });
}

const FLT_EPSILON = 2 ** -23;

/**
 * The active backend's sign dead zone: tfjs-wasm's Sign returns 0 for |x| < FLT_EPSILON (measured:
 * sign(1.1920928e-7) = 0, sign(2^-23) = 1), tfjs-cpu and TensorFlow are exact (0).
 */
export function signDeadZone(): number {
  return tf.tidy(() => (tf.sign(tf.scalar(FLT_EPSILON / 2)).dataSync()[0] === 0 ? FLT_EPSILON : 0));
}
