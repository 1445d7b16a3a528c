/** The training kinds: pretrain (U-Net), hint (lw_unet), binarise (BLU-Net), ablation (from scratch). */
import type { JsonValue } from '../../base/result.js';
import type { StepKindDefinition } from '../../runtime/kinds/kind.js';
import { ARCHITECTURES, ARTIFACT, artifactPath, out, RUN_SEED_SCHEMA, STEP_REF_SCHEMA, TRAIN_SCHEMA, WIDTH_SCHEMA, withOf } from './common.js';

function modelOuts(stepId: string) {
  return [out(artifactPath(stepId, ARTIFACT.model)), out(artifactPath(stepId, ARTIFACT.train), true)];
}

export interface PretrainWith {
  readonly data: string;
  readonly width: number;
  /** Optional initial weights (a saved U-Net folder of the same topology), e.g. converted DeLTA weights. */
  readonly init_weights?: string;
  readonly train: JsonValue;
  /** Run seed of the experiment's seed matrix (see phaseSeed). */
  readonly seed?: number;
}

export const pretrainKind: StepKindDefinition = {
  name: 'pretrain',
  version: '1',
  implementation: new URL('./impl/train-steps.js', import.meta.url),
  description: 'Trains the full-precision U-Net (optionally starting from given weights: transfer learning)',
  withSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['data', 'width', 'train'],
    properties: { data: STEP_REF_SCHEMA, width: WIDTH_SCHEMA, init_weights: { type: 'string' }, train: TRAIN_SCHEMA, seed: RUN_SEED_SCHEMA },
  },
  declare({ stepId, with: value }) {
    const w = withOf<PretrainWith>(value);
    const init = w.init_weights !== undefined && w.init_weights !== '' ? [w.init_weights] : [];
    return { deps: init, outs: modelOuts(stepId), needs: [w.data] };
  },
  async load() {
    return (await import('./impl/train-steps.js')).pretrainStep;
  },
};

export interface HintWith {
  readonly data: string;
  readonly teacher: string;
  readonly encoder: JsonValue;
  readonly decoder: JsonValue;
  readonly retrain: JsonValue;
  readonly seed?: number;
}

export const hintKind: StepKindDefinition = {
  name: 'hint',
  version: '1',
  implementation: new URL('./impl/train-steps.js', import.meta.url),
  description: 'Hint learning U-Net teacher -> lw_unet (encoder step, decoder step, summed MSE), then BCE retraining',
  withSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['data', 'teacher', 'encoder', 'decoder', 'retrain'],
    properties: { data: STEP_REF_SCHEMA, teacher: STEP_REF_SCHEMA, encoder: TRAIN_SCHEMA, decoder: TRAIN_SCHEMA, retrain: TRAIN_SCHEMA, seed: RUN_SEED_SCHEMA },
  },
  declare({ stepId, with: value }) {
    const w = withOf<HintWith>(value);
    return { deps: [], outs: modelOuts(stepId), needs: [w.data, w.teacher] };
  },
  async load() {
    return (await import('./impl/train-steps.js')).hintStep;
  },
};

export interface BinariseWith {
  readonly data: string;
  readonly student: string;
  readonly levels?: { readonly activation?: number; readonly conv?: number; readonly depthwise?: number; readonly pointwise?: number };
  readonly train: JsonValue;
  readonly gamma_init?: GammaStart;
  readonly ste?: 'unit' | 'range';
  readonly transfer_output?: boolean;
  readonly gamma_lr?: GammaLr;
  readonly seed?: number;
}

/** How a BLU-Net's gammas learn: Adam's absolute step (the thesis) or one relative to their magnitude. */
export type GammaLr = 'absolute' | 'relative';

/** How a BLU-Net's gammas start: see docs/blu-net/differences.md. */
export type GammaStart = 'thesis' | 'weight-scale' | 'calibrated' | 'matched' | 'emulated';

// Options of every step that trains a BLU-Net (binarise, and ablation with model blu_net).
const BINARISER_PROPERTIES = {
  gamma_init: {
    enum: ['thesis', 'weight-scale', 'calibrated', 'matched', 'emulated'],
    description:
      'thesis: gammas start at [M..1]/sum; weight-scale: kernel gammas fitted to the kernels; calibrated: weight-scale plus activation gammas fitted to the pre-activations on training images; matched: calibrated, with the gammas and bias of each transferred conv first scaled so its output magnitude matches its lw_unet layer (latent kernels unchanged; from scratch, where there is no lw_unet, the same as calibrated); emulated: weight-scale, then walking the model the gamma scale of each conv and bias fitted to the lw_unet pre-activation and each activation shifted per channel so that it emulates the ReLU of the lw_unet (from scratch: an lw_unet holding the own initial weights of the BLU-Net)',
  },
  ste: { enum: ['unit', 'range'], description: "unit: the thesis's hard-tanh STE (|r| <= 1); range: the STE window and slope follow the gammas" },
  gamma_lr: {
    enum: ['absolute', 'relative'],
    description: "absolute (the thesis, and the default): Adam moves every gamma by about lr per step; relative: by lr times the mean |gamma| of its layer, so small gammas (0.01 in deep layers) are not changed by 10 % per step",
  },
} as const;

const LEVEL = { type: 'integer', minimum: 1, maximum: 8 } as const;
const LEVELS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  description: 'Residual levels a/c/d/p (thesis: 3 each).',
  properties: { activation: LEVEL, conv: LEVEL, depthwise: LEVEL, pointwise: LEVEL },
} as const;

export const binariseKind: StepKindDefinition = {
  name: 'binarise',
  // 2: `matched` no longer scales the latent kernels.
  version: '2',
  implementation: new URL('./impl/train-steps.js', import.meta.url),
  description: 'BLU-Net initialised from the distilled lw_unet (weight transfer), then trained with BCE',
  withSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['data', 'student', 'train'],
    properties: {
      data: STEP_REF_SCHEMA,
      student: STEP_REF_SCHEMA,
      levels: LEVELS_SCHEMA,
      train: TRAIN_SCHEMA,
      seed: RUN_SEED_SCHEMA,
      ...BINARISER_PROPERTIES,
      transfer_output: { type: 'boolean', description: 'Also transfer the 1x1 output conv (the thesis re-initialises it)' },
    },
  },
  declare({ stepId, with: value }) {
    const w = withOf<BinariseWith>(value);
    return { deps: [], outs: modelOuts(stepId), needs: [w.data, w.student] };
  },
  async load() {
    return (await import('./impl/train-steps.js')).binariseStep;
  },
};

export interface AblationWith {
  readonly data: string;
  readonly model: 'lw_unet' | 'blu_net';
  readonly width: number;
  readonly levels?: BinariseWith['levels'];
  readonly train: JsonValue;
  /** Per-model learning rate overriding train.lr (thesis: lw_unet 1e-3, BLU-Net 1e-4). */
  readonly lr_by_model?: { readonly lw_unet?: number; readonly blu_net?: number };
  /** BLU-Net only (ignored for lw_unet), so the ablation can use binarise's settings. */
  readonly gamma_init?: GammaStart;
  readonly ste?: BinariseWith['ste'];
  readonly gamma_lr?: GammaLr;
  readonly seed?: number;
}

export const ablationKind: StepKindDefinition = {
  name: 'ablation',
  version: '1',
  implementation: new URL('./impl/train-steps.js', import.meta.url),
  description: 'lw_unet or BLU-Net trained from scratch (no teacher, no transfer) with the given budget',
  withSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['data', 'model', 'width', 'train'],
    properties: {
      data: STEP_REF_SCHEMA,
      model: { enum: ARCHITECTURES.filter((a) => a !== 'unet') },
      width: WIDTH_SCHEMA,
      levels: LEVELS_SCHEMA,
      train: TRAIN_SCHEMA,
      seed: RUN_SEED_SCHEMA,
      lr_by_model: {
        type: 'object',
        additionalProperties: false,
        properties: { lw_unet: { type: 'number', exclusiveMinimum: 0 }, blu_net: { type: 'number', exclusiveMinimum: 0 } },
      },
      ...BINARISER_PROPERTIES,
    },
  },
  declare({ stepId, with: value }) {
    const w = withOf<AblationWith>(value);
    return { deps: [], outs: modelOuts(stepId), needs: [w.data] };
  },
  effectiveWith(value) {
    // The learning rate this model trains with (as train-steps picks it); binariser settings only for BLU-Net.
    const { lr_by_model: byModel, gamma_init: gammaInit, ste, gamma_lr: gammaLr, ...rest } = withOf<AblationWith>(value);
    const train = rest.train !== null && typeof rest.train === 'object' && !Array.isArray(rest.train) ? rest.train : {};
    const lr = byModel?.[rest.model] ?? train.lr;
    const binariser = rest.model === 'blu_net' ? definedOnly({ gamma_init: gammaInit, ste, gamma_lr: gammaLr }) : {};
    return { ...rest, train: { ...train, ...definedOnly({ lr }) }, ...binariser } as JsonValue;
  },
  async load() {
    return (await import('./impl/train-steps.js')).ablationStep;
  },
};

/** The entries whose value is set (a `with:` value left out stays out of the logged params). */
function definedOnly(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}
