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

/**
 * The same binary cross-entropy from logits z, as max(z, 0) − z·y + log(1 + e^−|z|): no clipping, so a
 * saturated sigmoid still gets the gradient σ(z) − y. Keras takes this path for any sigmoid output
 * (it recovers the logits from the Sigmoid op); the clipped form above has zero gradient there.
 */
export function binaryCrossEntropyFromLogits(truth: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const linear = tf.sub(tf.relu(logits), tf.mul(logits, truth));
    const soft = tf.log1p(tf.exp(tf.neg(tf.abs(logits))));
    return tf.mean(tf.add(linear, soft)).asScalar();
  });
}

/** Thesis §4 hint loss: Σ over pairs of the per-layer MSE (mean over all elements), unweighted. */
export function summedHintMse(teacher: readonly tf.Tensor[], student: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    const terms = teacher.map((t, i) => tf.mean(tf.squaredDifference(t, student[i] ?? t)));
    return tf.addN(terms).asScalar();
  });
}

/**
 * Soft Dice loss, 1 − (2·Σ p·y + 1) / (Σ p + Σ y + 1) per image, mean over the batch. Its gradient
 * towards foreground does not shrink with the foreground fraction, unlike BCE's, so an
 * all-background output is not a resting point on sparse masks.
 */
export function softDiceLoss(truth: tf.Tensor, probabilities: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const axes = [1, 2, 3];
    const overlap = tf.sum(tf.mul(truth, probabilities), axes);
    const total = tf.add(tf.sum(truth, axes), tf.sum(probabilities, axes));
    const dice = tf.div(tf.add(tf.mul(overlap, 2), 1), tf.add(total, 1));
    return tf.mean(tf.sub(1, dice)).asScalar();
  });
}

/** Which loss supervised training minimises: the thesis's BCE, or BCE + soft Dice. */
export type SupervisedLoss = 'bce' | 'bce_dice';

/** The training loss; BCE from `logits` when the model exposes them (see binaryCrossEntropyFromLogits). */
export function supervisedLoss(kind: SupervisedLoss, truth: tf.Tensor, probabilities: tf.Tensor, logits?: tf.Tensor): tf.Scalar {
  const bce = logits ? binaryCrossEntropyFromLogits(truth, logits) : binaryCrossEntropy(truth, probabilities);
  if (kind === 'bce') return bce;
  return tf.tidy(() => tf.add(bce, softDiceLoss(truth, probabilities)).asScalar());
}
