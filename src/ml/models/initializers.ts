/** Weight initialisers matching Keras (TF 2.x) semantics. */
import * as tf from '@tensorflow/tfjs';

// Keras's he_normal draws from a truncated normal and divides the stddev by the stddev of a unit
// normal truncated at ±2 (0.8796…), so the kept samples have variance 2/fan_in. tfjs's heNormal
// omits that correction (its stddev is ~12 % smaller); folding it into `scale` restores Keras's.
const TRUNCATED_UNIT_STDDEV = 0.87962566103423978;

/** Keras-equivalent he_normal with an explicit seed. */
export function kerasHeNormal(seed: number) {
  return tf.initializers.varianceScaling({ scale: 2 / TRUNCATED_UNIT_STDDEV ** 2, mode: 'fanIn', distribution: 'normal', seed });
}
