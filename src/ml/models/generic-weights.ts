/**
 * Generic weights for timing untrained BLU-Nets (the latency steps at the thesis width, and
 * bench:engine). Its own module, outside the zoo's index, so the training kinds' code hash does not
 * reach it.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Adds seeded N(0, 0.05) noise to every weight of an untrained model, in place; returns the model.
 * As built, a BLU-Net's biases are 0 and its gammas equal, so many pre-activations are exactly 0 and
 * the binary engine spends most of its time in the exact-zero corrections, which trained nets rarely
 * need: a separable-binarised variant timed 190-530x slower than the same variant with noise (width
 * 16, 128², native engine).
 */
export function withGenericWeights(model: tf.LayersModel): tf.LayersModel {
  const values = model.getWeights().map((w, i) => tf.add(w, tf.randomNormal(w.shape, 0, 0.05, 'float32', 500 + i)));
  model.setWeights(values);
  tf.dispose(values);
  return model;
}
