import * as tf from '@tensorflow/tfjs';

/**
 * Naive fallback: run the cpu backend's kernel on copies of the inputs and copy the result back.
 * Correct for any kernel, but it is a scalar loop plus two copies per call; used only as the
 * "naive" baseline in bench/train.ts and as a reference in tests.
 */
export function cpuAdapterKernel(kernelName: string): tf.KernelFunc {
  return ({ inputs, attrs, backend }) => {
    const target = backend as tf.KernelBackend;
    const cpu = tf.findBackend('cpu');
    const cpuKernel = tf.getKernel(kernelName, 'cpu');
    if (cpu === null || cpuKernel === undefined) throw new Error(`cpu kernel ${kernelName} unavailable`);
    const copies: Record<string, tf.TensorInfo> = {};
    for (const [name, t] of Object.entries(inputs)) {
      if (t === undefined) continue;
      const values = target.readSync(t.dataId) as tf.backend_util.BackendValues;
      copies[name] = { dataId: cpu.write(values, t.shape, t.dtype), shape: t.shape, dtype: t.dtype };
    }
    try {
      const out = cpuKernel.kernelFunc({ inputs: copies, attrs: attrs ?? {}, backend: cpu });
      const single = Array.isArray(out) ? out[0] : out;
      if (single === undefined) throw new Error(`cpu kernel ${kernelName} returned nothing`);
      const values = cpu.readSync(single.dataId) as tf.backend_util.BackendValues;
      cpu.disposeData(single.dataId);
      return { dataId: target.write(values, single.shape, single.dtype), shape: single.shape, dtype: single.dtype };
    } finally {
      for (const t of Object.values(copies)) cpu.disposeData(t.dataId);
    }
  };
}
