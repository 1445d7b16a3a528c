/**
 * Adam's update for one variable as a loop over host memory, for small variables on CPU
 * backends: as tensor ops it is ~14 dispatches per variable, and BLU-Net has ~130 variables,
 * most of them a handful of gammas. Moments are kept in double precision.
 */
export interface AdamMoments {
  readonly first: Float64Array;
  readonly second: Float64Array;
}

export interface AdamStep {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** 1 − β1^t and 1 − β2^t for this step t (the bias corrections). */
  readonly correction1: number;
  readonly correction2: number;
}

/** value ← value − lr·m̂/(√v̂ + ε), with m, v updated in place; returns the new value. */
export function adamUpdate(value: Float32Array, gradient: Float32Array, moments: AdamMoments, step: AdamStep): Float32Array {
  const out = new Float32Array(value.length);
  const { first, second } = moments;
  for (let i = 0; i < value.length; i++) {
    const g = gradient[i]!;
    first[i] = step.beta1 * first[i]! + (1 - step.beta1) * g;
    second[i] = step.beta2 * second[i]! + (1 - step.beta2) * g * g;
    const corrected = first[i]! / step.correction1;
    out[i] = value[i]! - (step.learningRate * corrected) / (Math.sqrt(second[i]! / step.correction2) + step.epsilon);
  }
  return out;
}
