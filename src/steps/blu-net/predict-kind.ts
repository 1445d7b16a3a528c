/** `predict`: segments a folder of new images with a trained model (e.g. as a pipeline's last step). */
import type { StepKindDefinition } from '../../runtime/kinds/kind.js';
import { ARTIFACT, artifactPath, out, STEP_REF_SCHEMA, withOf } from './common.js';

export interface PredictWith {
  /** The training step whose model segments the images. */
  readonly model: string;
  /** Project-relative folder (or file) of images; hashed, so new images rerun the step. */
  readonly images: string;
  /** A BLU-Net runs packed on the binary engine (default) or as the fp32 simulation. */
  readonly packed?: boolean;
  readonly overlay?: boolean;
  readonly tile?: number;
  readonly overlap?: number;
  readonly scale?: number;
}

export const predictKind: StepKindDefinition = {
  name: 'predict',
  version: '1',
  implementation: new URL('./impl/predict.js', import.meta.url),
  description: 'Segments a folder of images with a trained model (a BLU-Net packed on the binary engine): mask PNGs, optional overlays',
  withSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['model', 'images'],
    properties: {
      model: STEP_REF_SCHEMA,
      images: { type: 'string', minLength: 1 },
      packed: { type: 'boolean' },
      overlay: { type: 'boolean' },
      tile: { type: 'integer', minimum: 16, multipleOf: 16 },
      overlap: { type: 'integer', minimum: 0 },
      scale: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    },
  },
  declare({ stepId, with: value }) {
    const w = withOf<PredictWith>(value);
    return {
      deps: [w.images],
      outs: [out(artifactPath(stepId, ARTIFACT.masks)), out(artifactPath(stepId, ARTIFACT.predictions), true)],
      needs: [w.model],
    };
  },
  async load() {
    return (await import('./impl/predict.js')).predictStep;
  },
};
