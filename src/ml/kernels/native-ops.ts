import * as tf from '@tensorflow/tfjs';

/** What tfjs-node's backend offers for running a TensorFlow op by name. */
interface NativeKernelBackend {
  readonly binding: { readonly TF_ATTR_TYPE: number; readonly TF_FLOAT: number };
  executeSingleOutput(name: string, attrs: object[], inputs: tf.Tensor[]): tf.Tensor;
}

function nativeBackend(): NativeKernelBackend | null {
  if (tf.getBackend() !== 'tensorflow') return null;
  const backend = tf.backend() as unknown as Partial<NativeKernelBackend>;
  return typeof backend.executeSingleOutput === 'function' && backend.binding !== undefined ? (backend as NativeKernelBackend) : null;
}

let registered = false;

/**
 * ReLU's gradient as TensorFlow's own ReluGrad op on the native backend. tfjs's generic gradient is
 * dy·step(x), and tfjs-node composes Step from six ops with two full-size allocations: it took
 * 16 % of a U-Net training step. Other backends keep the generic gradient, unchanged.
 */
export function registerNativeTrainingGradients(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: tf.Relu,
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [x] = saved as [tf.Tensor];
      const gradient = dy as tf.Tensor;
      const native = nativeBackend();
      if (native !== null && x.dtype === 'float32' && gradient.dtype === 'float32') {
        const attrs = [{ name: 'T', type: native.binding.TF_ATTR_TYPE, value: native.binding.TF_FLOAT }];
        return { x: () => native.executeSingleOutput('ReluGrad', attrs, [gradient, x]) };
      }
      return { x: () => tf.mul(gradient, tf.step(tf.cast(x, 'float32'))) };
    },
  });
}
