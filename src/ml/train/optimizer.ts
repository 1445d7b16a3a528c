import * as tf from '@tensorflow/tfjs';
import { runOnHost } from '../placement.js';
import { adamUpdate, type AdamMoments } from './host-adam.js';

type NamedGradient = { name: string; tensor: tf.Tensor };

/** Which variables take a learning rate relative to their own magnitude (by tf.Variable name). */
export type RelativeLrFilter = (variableName: string) => boolean;

/**
 * Adam whose learning rate can change between epochs without losing its moment estimates.
 * tfjs reads `learningRate` on every applyGradients, so updating the field is enough.
 * beta1/beta2/epsilon are the Keras defaults the thesis ran with. Small variables on CPU
 * backends are updated by a host loop (host-adam.ts), the rest by tfjs's own Adam.
 *
 * Adam moves every parameter by about lr per step whatever its scale. Variables picked by
 * `relativeLr` (a BLU-Net's gammas, some of which start at 0.01) instead step by lr × their
 * mean |value|, so a step changes them by a similar fraction at any scale. They are tiny
 * (one value per level), so they always take the host loop.
 */
export class ScheduledAdam extends tf.AdamOptimizer {
  readonly #hostMoments = new Map<string, AdamMoments>();
  readonly #relativeLr: RelativeLrFilter | undefined;
  #hostSteps = 0;

  constructor(learningRate: number, relativeLr?: RelativeLrFilter) {
    super(learningRate, 0.9, 0.999, 1e-7);
    this.#relativeLr = relativeLr;
  }

  setLearningRate(learningRate: number): void {
    this.learningRate = learningRate;
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedGradient[]): void {
    const all: NamedGradient[] = Array.isArray(variableGradients)
      ? variableGradients
      : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    const onHost = all.filter((g) => runOnHost(g.tensor.size) || this.#relativeLr?.(g.name) === true);
    if (onHost.length > 0) this.#applyOnHost(onHost);
    // Always called, even with nothing left, so tfjs's own bias-correction counters advance in step.
    super.applyGradients(all.filter((g) => !onHost.includes(g)));
  }

  #applyOnHost(gradients: NamedGradient[]): void {
    this.#hostSteps += 1;
    const step = {
      learningRate: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      correction1: 1 - this.beta1 ** this.#hostSteps,
      correction2: 1 - this.beta2 ** this.#hostSteps,
    };
    for (const { name, tensor } of gradients) {
      const variable = tf.engine().registeredVariables[name];
      if (variable === undefined) throw new Error(`no variable named ${name} to update`);
      let moments = this.#hostMoments.get(name);
      if (moments === undefined) {
        moments = { first: new Float64Array(tensor.size), second: new Float64Array(tensor.size) };
        this.#hostMoments.set(name, moments);
      }
      const value = variable.dataSync() as Float32Array;
      const learningRate = this.#relativeLr?.(name) === true ? step.learningRate * meanAbsolute(value) : step.learningRate;
      const next = adamUpdate(value, tensor.dataSync() as Float32Array, moments, { ...step, learningRate });
      const updated = tf.tensor(next, variable.shape, 'float32');
      variable.assign(updated);
      updated.dispose();
    }
  }

  override dispose(): void {
    this.#hostMoments.clear();
    super.dispose();
  }
}

function meanAbsolute(values: Float32Array): number {
  let sum = 0;
  for (const v of values) sum += Math.abs(v);
  return values.length === 0 ? 0 : sum / values.length;
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
