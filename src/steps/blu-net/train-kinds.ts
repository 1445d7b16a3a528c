/** The training kinds: pretrain (U-Net), hint (lw_unet), binarise (BLU-Net), ablation (from scratch). */
import type { JsonValue } from '../../base/result.js';
import type { StepKindDefinition } from '../../runtime/kinds/kind.js';
import {
  ablationTrain,
  ARCHITECTURES,
  ARTIFACT,
  artifactPath,
  CONVERGENCE_SCHEMA,
  out,
  RUN_SEED_SCHEMA,
  STEP_REF_SCHEMA,
  TRAIN_SCHEMA,
  WIDTH_SCHEMA,
  withOf,
  type ConvergenceSettings,
} from './common.js';

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
  /** Start from this upstream U-Net's trained weights (its steps count toward the budget). */
  readonly continue_from?: string;
  /** Train as many steps as this upstream model's whole lineage (overrides train.steps): the equal-budget control. */
  readonly budget_of?: string;
  /** The convergence rule (null or absent: `train` as given). */
  readonly convergence?: ConvergenceSettings | null;
}

export const pretrainKind: StepKindDefinition = {
  name: 'pretrain',
  // 2: lineage steps in the model info, phase offsets in train.json (and continue_from, budget_of, convergence, smooth, plateau).
  version: '2',
  implementation: new URL('./impl/train-steps.js', import.meta.url),
  description: 'Trains the full-precision U-Net (optionally starting from given weights: transfer learning)',
  withSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['data', 'width', 'train'],
    not: { required: ['init_weights', 'continue_from'] },
    properties: {
      data: STEP_REF_SCHEMA,
      width: WIDTH_SCHEMA,
      init_weights: { type: 'string' },
      train: TRAIN_SCHEMA,
      seed: RUN_SEED_SCHEMA,
      continue_from: {
        ...STEP_REF_SCHEMA,
        description: 'Upstream U-Net step whose weights this one continues training (its steps count toward budget_of).',
      },
      budget_of: {
        ...STEP_REF_SCHEMA,
        description:
          "Upstream model step: train as many optimizer steps as its whole lineage ran (train.steps is ignored), e.g. the BLU-Net's: the equal-budget control.",
      },
      convergence: CONVERGENCE_SCHEMA,
    },
  },
  declare({ stepId, with: value }) {
    const w = withOf<PretrainWith>(value);
    const init = w.init_weights !== undefined && w.init_weights !== '' ? [w.init_weights] : [];
    const upstream = [w.continue_from, w.budget_of].filter((r): r is string => r !== undefined);
    return { deps: init, outs: modelOuts(stepId), needs: [w.data, ...upstream] };
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
  /** The convergence rule of the BCE retraining (the lw_unet is full precision). */
  readonly convergence?: ConvergenceSettings | null;
}

export const hintKind: StepKindDefinition = {
  name: 'hint',
  // 2: lineage steps in the model info, phase offsets in train.json (and convergence).
  version: '2',
  implementation: new URL('./impl/train-steps.js', import.meta.url),
  description: 'Hint learning U-Net teacher -> lw_unet (encoder step, decoder step, summed MSE), then BCE retraining',
  withSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['data', 'teacher', 'encoder', 'decoder', 'retrain'],
    properties: {
      data: STEP_REF_SCHEMA,
      teacher: STEP_REF_SCHEMA,
      encoder: TRAIN_SCHEMA,
      decoder: TRAIN_SCHEMA,
      retrain: TRAIN_SCHEMA,
      seed: RUN_SEED_SCHEMA,
      convergence: CONVERGENCE_SCHEMA,
    },
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
  /** An activation binariser between depthwise and pointwise of every separable conv (default false: the thesis). */
  readonly separable_binarise?: boolean;
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
  ste: {
    enum: ['unit', 'range'],
    description: "unit: the thesis's hard-tanh STE (|r| <= 1); range: the STE window and slope follow the gammas",
  },
  gamma_lr: {
    enum: ['absolute', 'relative'],
    description:
      'absolute (the thesis, and the default): Adam moves every gamma by about lr per step; relative: by lr times the mean |gamma| of its layer, so small gammas (0.01 in deep layers) are not changed by 10 % per step',
  },
} as const;

const LEVEL = { type: 'integer', minimum: 1, maximum: 8 } as const;
const SEPARABLE_BINARISE_SCHEMA = {
  type: 'boolean',
  description:
    'An activation binariser (own gammas, levels.activation levels, after a per-channel bias) between the depthwise and the pointwise conv of every separable conv, so the pointwise is binary x binary (XNOR-popcount in the engine); false (the default) is the thesis, whose pointwise sees the real-valued depthwise output',
} as const;
export const LEVELS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  description: 'Residual levels a/c/d/p (thesis: 3 each).',
  properties: { activation: LEVEL, conv: LEVEL, depthwise: LEVEL, pointwise: LEVEL },
} as const;

export const binariseKind: StepKindDefinition = {
  name: 'binarise',
  // 2: `matched` no longer scales the latent kernels. 3: lineage steps in the model info, phase offsets in train.json.
  version: '3',
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
      separable_binarise: SEPARABLE_BINARISE_SCHEMA,
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
  /** BLU-Net only (ignored for lw_unet), as binarise's. */
  readonly separable_binarise?: boolean;
  readonly train: JsonValue;
  /** Per-model learning rate overriding train.lr (thesis: lw_unet 1e-3, BLU-Net 1e-4). */
  readonly lr_by_model?: { readonly lw_unet?: number; readonly blu_net?: number };
  /** The convergence rule: applies to the full-precision lw_unet only (the BLU-Net keeps `train`). */
  readonly convergence?: ConvergenceSettings | null;
  /** BLU-Net only (ignored for lw_unet), so the ablation can use binarise's settings. */
  readonly gamma_init?: GammaStart;
  readonly ste?: BinariseWith['ste'];
  readonly gamma_lr?: GammaLr;
  readonly seed?: number;
}

export const ablationKind: StepKindDefinition = {
  name: 'ablation',
  // 2: lineage steps in the model info, phase offsets in train.json (and convergence).
  version: '2',
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
      separable_binarise: SEPARABLE_BINARISE_SCHEMA,
      train: TRAIN_SCHEMA,
      seed: RUN_SEED_SCHEMA,
      lr_by_model: {
        type: 'object',
        additionalProperties: false,
        properties: { lw_unet: { type: 'number', exclusiveMinimum: 0 }, blu_net: { type: 'number', exclusiveMinimum: 0 } },
      },
      convergence: CONVERGENCE_SCHEMA,
      ...BINARISER_PROPERTIES,
    },
  },
  declare({ stepId, with: value }) {
    const w = withOf<AblationWith>(value);
    return { deps: [], outs: modelOuts(stepId), needs: [w.data] };
  },
  effectiveWith(value) {
    // The settings this model trains with (as train-steps picks them); binariser settings only for BLU-Net.
    const {
      lr_by_model: byModel,
      convergence,
      gamma_init: gammaInit,
      ste,
      gamma_lr: gammaLr,
      separable_binarise: sb,
      ...rest
    } = withOf<AblationWith>(value);
    const train = ablationTrain(rest.model, rest.train, convergence);
    const lr = byModel?.[rest.model] ?? train.lr;
    const binariser =
      rest.model === 'blu_net' ? definedOnly({ gamma_init: gammaInit, ste, gamma_lr: gammaLr, separable_binarise: sb }) : {};
    return { ...rest, train: { ...train, ...definedOnly({ lr }) }, ...binariser } as JsonValue;
  },
  async load() {
    return (await import('./impl/train-steps.js')).ablationStep;
  },
};

/** The ablation's train block for its model: the convergence rule folded in for the lw_unet only. */
/** The entries whose value is set (a `with:` value left out stays out of the logged params). */
function definedOnly(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}
