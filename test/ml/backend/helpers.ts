import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export interface HostTensor {
  shape: number[];
  values: Float32Array;
}

/** Deterministic pseudo-random values in [-1, 1) (LCG) so cpu and wasm see identical inputs. */
export function hostRandom(shape: number[], seed: number): HostTensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    values[i] = s / 2 ** 31 - 1;
  }
  return { shape, values };
}

/** Runs one kernel on the named backend through the engine and returns host copies. */
export async function runKernelOn(
  backend: string,
  kernel: string,
  inputs: Record<string, HostTensor>,
  attrs: tf.NamedAttrMap,
): Promise<HostTensor> {
  await tf.setBackend(backend);
  const tensors: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) tensors[k] = tf.tensor(v.values, v.shape, 'float32');
  const out = tf.engine().runKernel(kernel, tensors, attrs) as tf.Tensor;
  const values = (await out.data()) as Float32Array;
  const shape = out.shape.slice();
  out.dispose();
  for (const t of Object.values(tensors)) t.dispose();
  return { shape, values };
}

export function maxAbsDiff(a: HostTensor, b: HostTensor): number {
  if (a.shape.join() !== b.shape.join()) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < a.values.length; i++) worst = Math.max(worst, Math.abs((a.values[i] ?? 0) - (b.values[i] ?? 0)));
  return worst;
}

export function maxAbs(a: HostTensor): number {
  let worst = 0;
  for (const v of a.values) worst = Math.max(worst, Math.abs(v));
  return worst;
}
