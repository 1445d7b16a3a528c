/** The BLU-Net forward pass (topology.ts) on the engine's binarised tensors, through any kernels. */
import { concatChannels, maxPool2, upsample2 } from './bitmaps.js';
import type { EngineImage, EngineKernels } from './kernels.js';
import type { Block, EngineModel, SeparableLayer } from './model.js';
import type { BinaryTensor, BitPlanes } from './tensors.js';

/** Height and width must survive levels − 1 poolings and upsamplings unchanged. */
export function sizeMultiple(model: EngineModel): number {
  return 2 ** (model.options.levels - 1);
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
  const like = (input: BinaryTensor, planes: BitPlanes): BinaryTensor => ({ height: input.height, width: input.width, groups: [planes] });
  const separableBlock = (input: BinaryTensor, block: Block<SeparableLayer>) => like(input, kernels.separableBlock(input, block));
  const upsampledBlock = (input: BinaryTensor, block: Block<SeparableLayer>) =>
    kernels.separableUpsampledBlock
      ? { height: 2 * input.height, width: 2 * input.width, groups: [kernels.separableUpsampledBlock(input, block)] }
      : separableBlock(upsample2(input), block);
  let x: BinaryTensor = { height, width, groups: [kernels.firstBlock(image, first)] };
  x = like(x, kernels.binaryConvBlock(x, second));
  const skips: BinaryTensor[] = [x];
  for (const [a, b] of model.contracting) {
    x = separableBlock(separableBlock(kernels.maxPool ? kernels.maxPool(x) : maxPool2(x), a), b);
    skips.push(x);
  }
  model.expanding.forEach((level, i) => {
    const skip = skips[skips.length - 2 - i] as BinaryTensor;
    const up = upsampledBlock(x, level.up);
    x = separableBlock(separableBlock(concatChannels(skip, up), level.convs[0]), level.convs[1]);
  });
  return kernels.logits(x, model.head);
}
