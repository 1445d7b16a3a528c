/** The BLU-Net forward pass (topology.ts) on the engine's binarised tensors, through any kernels. */
import { concatChannels, maxPool2, upsample2 } from './bitmaps.js';
import type { EngineKernels } from './kernels.js';
import type { Block, ConvLayer, EngineModel, SeparableLayer } from './model.js';
import type { BinaryTensor } from './tensors.js';

export interface EngineImage {
  readonly height: number;
  readonly width: number;
  /** Grey values as the model was trained on them, row-major. */
  readonly pixels: Float32Array;
}

/** Height and width must survive levels − 1 poolings and upsamplings unchanged. */
export function sizeMultiple(model: EngineModel): number {
  return 2 ** (model.options.levels - 1);
}

function activate(kernels: EngineKernels, y: Float32Array, height: number, width: number, block: Block<ConvLayer | SeparableLayer>): BinaryTensor {
  const channels = 'kernel' in block.conv ? block.conv.kernel.filters : block.conv.pointwise.filters;
  return { height, width, groups: [kernels.binarise(y, height, width, channels, block.act.gammas)] };
}

function separableBlock(kernels: EngineKernels, x: BinaryTensor, block: Block<SeparableLayer>): BinaryTensor {
  return activate(kernels, kernels.separable(x, block.conv), x.height, x.width, block);
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** Foreground probability per pixel (row-major). The caller checks sizes with sizeMultiple. */
export function runEngine(model: EngineModel, kernels: EngineKernels, image: EngineImage): Float32Array {
  return runEngineLogits(model, kernels, image).map(sigmoid);
}

/** The output conv's values before the sigmoid. */
export function runEngineLogits(model: EngineModel, kernels: EngineKernels, image: EngineImage): Float32Array {
  const { height, width } = image;
  const [first, second] = model.level0;
  let x = activate(kernels, kernels.realConv(image.pixels, height, width, first.conv), height, width, first);
  x = activate(kernels, kernels.binaryConv(x, second.conv), height, width, second);
  const skips: BinaryTensor[] = [x];
  for (const [a, b] of model.contracting) {
    x = separableBlock(kernels, separableBlock(kernels, maxPool2(x), a), b);
    skips.push(x);
  }
  model.expanding.forEach((level, i) => {
    const skip = skips[skips.length - 2 - i] as BinaryTensor;
    const up = separableBlock(kernels, upsample2(x), level.up);
    x = separableBlock(kernels, separableBlock(kernels, concatChannels(skip, up), level.convs[0]), level.convs[1]);
  });
  return kernels.binaryConv(x, model.head);
}
