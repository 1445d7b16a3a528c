import * as tf from '@tensorflow/tfjs';

/**
 * Adam whose learning rate can change between epochs without losing its moment estimates.
 * tfjs reads `learningRate` on every applyGradients, so updating the field is enough.
 * beta1/beta2/epsilon are the Keras defaults the thesis ran with.
 */
export class ScheduledAdam extends tf.AdamOptimizer {
  constructor(learningRate: number) {
    super(learningRate, 0.9, 0.999, 1e-7);
  }

  setLearningRate(learningRate: number): void {
    this.learningRate = learningRate;
  }
}

/** The tf.Variables behind a model's trainable weights, for explicit gradient targets. */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read()).filter((t): t is tf.Variable => t instanceof tf.Variable);
}

/** Detached copies of every weight, so later updates do not change them. */
export function snapshotWeights(model: tf.LayersModel): tf.Tensor[] {
  return tf.tidy(() => model.getWeights().map((w) => tf.keep(w.clone())));
}

export function disposeAll(tensors: readonly tf.Tensor[]): void {
  for (const t of tensors) t.dispose();
}

/** Runs a model in training mode and returns its outputs as a list. */
export function applyTraining(model: tf.LayersModel, x: tf.Tensor): tf.Tensor[] {
  const out = model.apply(x, { training: true });
  const list = Array.isArray(out) ? out : [out];
  return list.filter((t): t is tf.Tensor => t instanceof tf.Tensor);
}

/** Runs a model in inference mode and returns its outputs as a list. */
export function predictAll(model: tf.LayersModel, x: tf.Tensor): tf.Tensor[] {
  const out = model.predict(x);
  return Array.isArray(out) ? out : [out];
}
