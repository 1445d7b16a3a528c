import * as tf from '@tensorflow/tfjs';

/** Keras' epsilon: probabilities are clipped to [1e-7, 1-1e-7] so log() never sees 0. */
const PROBABILITY_EPSILON = 1e-7;

/** Binary cross-entropy on sigmoid probabilities, mean over every pixel of the batch. */
export function binaryCrossEntropy(truth: tf.Tensor, probabilities: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const p = tf.clipByValue(probabilities, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON);
    const positive = tf.mul(truth, tf.log(p));
    const negative = tf.mul(tf.sub(1, truth), tf.log(tf.sub(1, p)));
    return tf.neg(tf.mean(tf.add(positive, negative))).asScalar();
  });
}

/** Thesis §4 hint loss: Σ over pairs of the per-layer MSE (mean over all elements), unweighted. */
export function summedHintMse(teacher: readonly tf.Tensor[], student: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    const terms = teacher.map((t, i) => tf.mean(tf.squaredDifference(t, student[i] ?? t)));
    return tf.addN(terms).asScalar();
  });
}
