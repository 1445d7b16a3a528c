/** Public API of the model zoo: U-Net, lw_unet, BLU-Net and their tooling. */
import type * as tf from '@tensorflow/tfjs';
import { err, ok, type Result } from '../../base/result.js';
import { buildBluNet, type BluNetOptions } from './blu-net.js';
import { buildLwUnet, buildUnet, type UnetOptions } from './unet.js';

export { buildUnet, buildLwUnet, type UnetOptions } from './unet.js';
export { buildBluNet, type BluNetOptions } from './blu-net.js';
export { BinaryConv2D, BinarySeparableConv2D, BinarySignActivation, isGammaVariable } from './binary-layers.js';
export { steSign, residualBinarize, initialGammas } from './binary-ops.js';
export { saveModel, loadModel, type SavedModelInfo, type ModelIoError } from './serialize.js';
export {
  transferLwUnetToBluNet,
  fitResidualGammas,
  fitKernelGammas,
  type GammaInit,
  type TransferredLayer,
  OUTPUT_LAYER_NAME,
} from './transfer.js';
export {
  calibrateActivationGammas,
  fitAllKernelGammas,
  matchOutputLogits,
  matchTeacherScales,
  type CalibratedActivation,
} from './calibrate.js';
export type { SteMode } from './binary-ops.js';
export { HINT_ENCODER_INDICES, HINT_DECODER_INDICES, tapModel } from './taps.js';
export { thesisSize, type ThesisSize } from './size.js';
export { exportPackedBluNet, loadPackedBluNet, type PackedExportInfo, type PackedError } from './packed.js';

export type ModelName = 'unet' | 'lw_unet' | 'blu_net';
export const MODEL_NAMES: readonly ModelName[] = ['unet', 'lw_unet', 'blu_net'];

export type ModelOptions<N extends ModelName> = N extends 'blu_net' ? BluNetOptions : UnetOptions;

/** Builds a model by name; invalid options come back as an error instead of an exception. */
export function buildModel<N extends ModelName>(
  name: N,
  opts: ModelOptions<N> = {} as ModelOptions<N>,
): Result<tf.LayersModel, { message: string }> {
  try {
    if (name === 'unet') return ok(buildUnet(opts as UnetOptions));
    if (name === 'lw_unet') return ok(buildLwUnet(opts as UnetOptions));
    if (name === 'blu_net') return ok(buildBluNet(opts as BluNetOptions));
    return err({ message: `unknown model ${String(name)}; expected one of ${MODEL_NAMES.join(', ')}` });
  } catch (e) {
    return err({ message: `building ${name} failed: ${String(e)}` });
  }
}

export function isModelName(value: string): value is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(value);
}
export { emulateTeacher, fitReluEmulation, lwUnetTwin, uniformGammas, type EmulatedLayer } from './emulate.js';
