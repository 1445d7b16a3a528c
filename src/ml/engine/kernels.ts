/**
 * The operations a forward pass needs, as an interface so the pure-TypeScript reference and the
 * WebAssembly kernels are interchangeable (and testable against each other). Each conv block
 * returns its output already residual-binarised, so an implementation can fuse conv and
 * binarisation and never hold the block's fp32 output.
 */
import type { Block, ConvLayer, SeparableLayer } from './model.js';
import type { BinaryTensor, BitPlanes } from './tensors.js';

export interface EngineImage {
  readonly height: number;
  readonly width: number;
  /** Grey values as the model was trained on them, row-major. */
  readonly pixels: Float32Array;
}

export interface EngineKernels {
  readonly name: string;
  /** First conv (real-valued image × binarised kernel: the image is not binarised) + activation. */
  firstBlock(image: EngineImage, block: Block<ConvLayer>): BitPlanes;
  /** BinaryConv2D (Σ over level pairs of XNOR-popcount, scaled by the gammas, + bias) + activation. */
  binaryConvBlock(x: BinaryTensor, block: Block<ConvLayer>): BitPlanes;
  /** BinarySeparableConv2D (binary depthwise, then pointwise, + bias) + activation. */
  separableBlock(x: BinaryTensor, block: Block<SeparableLayer>): BitPlanes;
  /**
   * separableBlock on the nearest ×2 upsample of x (output 2·height × 2·width), reading x in place
   * (optional: forward.ts upsamples with bitmaps.ts upsample2 otherwise). Same results bit for bit.
   */
  separableUpsampledBlock?(x: BinaryTensor, block: Block<SeparableLayer>): BitPlanes;
  /** 2×2 max-pool on sign codes (optional: bitmaps.ts maxPool2 otherwise). */
  maxPool?(x: BinaryTensor): BinaryTensor;
  /** The output BinaryConv2D's values before the sigmoid, row-major. */
  logits(x: BinaryTensor, head: ConvLayer): Float32Array;
}
