import * as tf from '@tensorflow/tfjs';

/** Tensors in host memory: wasm, cpu, and native TensorFlow unless it runs on a GPU. */
export function tensorsOnHost(): boolean {
  const name = tf.getBackend();
  if (name === 'wasm' || name === 'cpu') return true;
  return name === 'tensorflow' && (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice !== true;
}

/**
 * Up to this many elements a plain loop over host memory beats a chain of tensor ops, whose
 * cost is then per-op dispatch, not arithmetic (native TF, measured: a 3-level quantiser
 * forward+backward took 1.5 ms as a loop vs 7.4 ms as ops at 144 elements, 3.5 vs 11 ms at 16K,
 * but 261 vs 31 ms at 1M, where TensorFlow's multi-threaded kernels win).
 */
export const HOST_MAX_ELEMENTS = 32_768;

/** Whether work on a tensor of `size` elements should run as a host loop. */
export function runOnHost(size: number): boolean {
  return size <= HOST_MAX_ELEMENTS && tensorsOnHost();
}
