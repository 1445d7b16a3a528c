/**
 * The operations a forward pass needs, as an interface so the pure-TypeScript reference and the
 * WebAssembly kernels are interchangeable (and testable against each other).
 */
import type { ConvLayer, SeparableLayer } from './model.js';
import type { BinaryTensor, BitPlanes } from './tensors.js';

export interface EngineKernels {
  readonly name: string;
  /** Conv with real-valued input (the first layer: the image is not binarised); returns [h][w][filters] + bias. */
  realConv(image: Float32Array, height: number, width: number, layer: ConvLayer): Float32Array;
  /** Residual binarisation of [h][w][channels] into sign bit-planes. */
  binarise(y: Float32Array, height: number, width: number, channels: number, gammas: Float32Array): BitPlanes;
  /** BinaryConv2D on a binarised input: Σ over level pairs of XNOR-popcount, scaled by the gammas, + bias. */
  binaryConv(x: BinaryTensor, layer: ConvLayer): Float32Array;
  /** BinarySeparableConv2D on a binarised input: binary depthwise, then pointwise, + bias. */
  separable(x: BinaryTensor, layer: SeparableLayer): Float32Array;
}
