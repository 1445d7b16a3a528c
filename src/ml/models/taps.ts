/** Hint-learning taps (thesis §2.3): multi-output views of a model at layer indices. */
import * as tf from '@tensorflow/tfjs';

/** Encoder hint step: all 10 encoder convs (thesis layer index table). */
export const HINT_ENCODER_INDICES: readonly number[] = [1, 2, 4, 5, 7, 8, 10, 11, 13, 14];
/** Decoder hint step: the 12 decoder convs (up-convs included) plus the sigmoid output. */
export const HINT_DECODER_INDICES: readonly number[] = [16, 18, 19, 21, 23, 24, 26, 28, 29, 31, 33, 34, 35];

/**
 * A model sharing `model`'s layers and weights whose outputs are the layers at `indices`, in
 * order. Indices are positions in `model.layers` (0 = input); the HINT_* sets assume the 5-level
 * U-Net/lw_unet (BLU-Net has extra activation layers, so its indices differ).
 * Throws RangeError on an index outside the model: that is a programming error, not data.
 */
export function tapModel(model: tf.LayersModel, indices: readonly number[]): tf.LayersModel {
  const outputs = indices.map((i) => {
    const layer = model.layers[i];
    if (layer === undefined) throw new RangeError(`layer index ${i} outside ${model.name} (${model.layers.length} layers)`);
    return layer.output as tf.SymbolicTensor;
  });
  return tf.model({ inputs: model.inputs, outputs, name: `${model.name}_taps` });
}
