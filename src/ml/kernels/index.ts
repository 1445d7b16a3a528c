import * as tf from '@tensorflow/tfjs';
// Registers wasm's stock kernels first, so ours (registered later) are the ones that stay.
import '@tensorflow/tfjs-backend-wasm';
import { composedConv2DBackpropFilter, composedConv2DBackpropInput } from './conv2d-backprop.js';
import { cpuAdapterKernel } from './cpu-adapter.js';
import { composedDepthwiseBackpropFilter, composedDepthwiseBackpropInput, perTapDepthwiseBackpropFilter } from './depthwise-backprop.js';

export { cpuAdapterKernel } from './cpu-adapter.js';
export {
  composedConv2DBackpropFilter,
  composedConv2DBackpropInput,
} from './conv2d-backprop.js';
export {
  composedDepthwiseBackpropFilter,
  composedDepthwiseBackpropInput,
  perTapDepthwiseBackpropFilter,
} from './depthwise-backprop.js';

/** Kernels that training conv / separable-conv / binarised nets needs and wasm lacks or does slowly. */
export const WASM_TRAINING_KERNELS = [
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
] as const;
export type TrainingKernelName = (typeof WASM_TRAINING_KERNELS)[number];

/** composed = our XNNPACK-based kernels; naive = wasm's stock kernel if any, else the cpu adapter. */
export type KernelVariant = 'composed' | 'naive' | 'per-tap';

// wasm's own Conv2DBackpropInput (a scalar C++ loop), captured before we replace it.
let stockConv2DBackpropInput: tf.KernelConfig | undefined;

function install(kernelName: string, kernelFunc: tf.KernelFunc, setupFunc?: tf.KernelConfig['setupFunc']): void {
  if (tf.getKernel(kernelName, 'wasm') !== undefined) tf.unregisterKernel(kernelName, 'wasm');
  const config: tf.KernelConfig = { kernelName, backendName: 'wasm', kernelFunc };
  if (setupFunc !== undefined) config.setupFunc = setupFunc;
  tf.registerKernel(config);
}

function captureStock(): void {
  if (stockConv2DBackpropInput !== undefined) return;
  const current = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (current !== undefined && current.kernelFunc.name !== 'composedKernel') stockConv2DBackpropInput = current;
}

function named(f: tf.KernelFunc): tf.KernelFunc {
  // Marks our functions so captureStock never mistakes them for the stock kernel.
  Object.defineProperty(f, 'name', { value: 'composedKernel' });
  return f;
}

function composedFor(kernel: TrainingKernelName): tf.KernelFunc {
  switch (kernel) {
    case 'Conv2DBackpropFilter':
      return named(composedConv2DBackpropFilter('wasm'));
    case 'Conv2DBackpropInput':
      return named(composedConv2DBackpropInput('wasm'));
    case 'DepthwiseConv2dNativeBackpropFilter':
      return named(composedDepthwiseBackpropFilter('wasm'));
    case 'DepthwiseConv2dNativeBackpropInput':
      return named(composedDepthwiseBackpropInput('wasm'));
  }
}

/**
 * Registers the composed training kernels for the 'wasm' backend (idempotent: re-registering
 * replaces the previous entry). Call after `@tensorflow/tfjs-backend-wasm` has been imported.
 */
export function registerWasmTrainingKernels(): void {
  setWasmKernelVariant('composed');
}

/** Switches between our kernels and the naive baselines; bench/train.ts uses this for ratios. */
export function setWasmKernelVariant(variant: KernelVariant): void {
  captureStock();
  for (const kernel of WASM_TRAINING_KERNELS) {
    if (variant === 'composed') install(kernel, composedFor(kernel));
    else if (kernel === 'Conv2DBackpropFilter')
      install(kernel, composedFor(kernel)); // no stock kernel; cpu's takes minutes
    else if (variant === 'per-tap' && kernel === 'DepthwiseConv2dNativeBackpropFilter') {
      install(kernel, named(perTapDepthwiseBackpropFilter('wasm')));
    } else if (variant === 'per-tap') install(kernel, composedFor(kernel));
    else if (kernel === 'Conv2DBackpropInput' && stockConv2DBackpropInput !== undefined) {
      install(kernel, stockConv2DBackpropInput.kernelFunc, stockConv2DBackpropInput.setupFunc);
    } else install(kernel, named(cpuAdapterKernel(kernel)));
  }
}

/**
 * The cpu backend's own Conv2DBackpropFilter needs tens of seconds per U-Net layer (tfjs-backends doc §2.2);
 * the composed version only needs cpu kernels that exist. Registered by initBackend when it falls back to cpu.
 */
export function registerCpuTrainingKernels(): void {
  if (tf.getKernel('Conv2DBackpropFilter', 'cpu') !== undefined) tf.unregisterKernel('Conv2DBackpropFilter', 'cpu');
  tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'cpu', kernelFunc: named(composedConv2DBackpropFilter('cpu')) });
}
