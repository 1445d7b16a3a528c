/**
 * Pure helpers shared by the BLU-Net step kinds: `with:` schema fragments, typed settings and
 * artifact paths. Nothing here imports TensorFlow.js: the CLI loads these for planning.
 */
import type { JsonValue } from '../../base/result.js';
import type { OutputDecl } from '../../runtime/step-spec.js';

/** Step ids contain '@', '=' and ','; artifact folders use a plain-character version. */
export function safeStepId(stepId: string): string {
  return stepId.replace(/[^A-Za-z0-9_.-]+/g, '_');
}

/** Project-relative path of an artifact of a step: `artifacts/<safe step id>/<name>`. */
export function artifactPath(stepId: string, name: string): string {
  return `artifacts/${safeStepId(stepId)}/${name}`;
}

export function out(path: string, track = false): OutputDecl {
  return { path, cache: true, persist: false, track };
}

/** Well-known artifact names, shared by producers and consumers. */
export const ARTIFACT = {
  data: 'data',
  summary: 'summary.json',
  model: 'model',
  train: 'train.json',
  eval: 'eval.json',
  overlays: 'overlays',
  size: 'size.json',
  packed: 'blu_net.packed',
  latency: 'latency.json',
  masks: 'masks',
  predictions: 'predict.json',
  results: 'results.md',
  resultsJson: 'results.json',
  figure: 'iou-vs-size.png',
  curves: 'learning-curves.png',
} as const;

/** Written next to a saved model so consumers know what it is without guessing. */
export const MODEL_INFO = 'blu-model.json';

export type Architecture = 'unet' | 'lw_unet' | 'blu_net';
export const ARCHITECTURES: readonly Architecture[] = ['unet', 'lw_unet', 'blu_net'];

export interface ModelInfo {
  readonly architecture: Architecture;
  /** Human-readable name for tables, e.g. "lw_unet (hint learning + BCE)". */
  readonly label: string;
  readonly width: number;
  readonly stepId: string;
  /** The run seed of the step (the experiment's seed matrix); absent in models saved before seeds. */
  readonly seed?: number;
  /** Why training collapsed (see src/ml/train/collapse.ts); absent when it did not. */
  readonly collapsed?: string;
  /** Optimizer steps of this model and of every model it was made from (teacher, student, start weights). */
  readonly lineageSteps?: number;
}

/**
 * Supervised training settings (BCE, Adam, thesis lr schedule). Budgets are optimizer steps, so a
 * phase costs the same whatever the data set holds; validation (and the choice of the kept
 * weights) happens every `val_every` steps and after the last one.
 */
export interface TrainSettings {
  readonly steps: number;
  readonly val_every: number;
  readonly max_minutes?: number;
  readonly lr: number;
  readonly crop: number;
  readonly val_crop?: number;
  readonly batch: number;
  readonly l2?: number;
  readonly seed: number;
  readonly augment: boolean;
  readonly sampler: 'uniform' | 'foreground';
  readonly foreground_probability?: number;
  readonly ignore_steps?: number;
  readonly lr_decay_start?: number;
  readonly best: 'val_iou' | 'val_loss';
  readonly loss?: 'bce' | 'bce_dice';
  /** Validations in the trailing mean of the metric that picks the kept weights (default 1: raw values). */
  readonly smooth?: number;
  /** Train until the smoothed metric plateaus (within `steps`); see src/ml/train/plateau.ts. */
  readonly plateau?: PlateauSettings;
}

/** The convergence rule in step units (converted to validations by the training loop's options). */
export interface PlateauSettings {
  /** Steps without the smoothed metric beating its reference by more than min_delta. */
  readonly patience: number;
  readonly min_delta: number;
  readonly lr_drops: number;
  readonly lr_factor: number;
  /** No drop or stop before this step. */
  readonly min_steps?: number;
}

/** Validation interval when a train block does not set one. */
export const DEFAULT_VAL_EVERY = 20;

export const TRAIN_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['steps', 'lr', 'crop'],
  properties: {
    steps: { type: 'integer', minimum: 1, description: 'Optimizer steps of the phase (independent of the data set size).' },
    val_every: {
      type: 'integer',
      minimum: 1,
      description: `Validate (and maybe keep the weights) every N steps and after the last; also the lr decay interval. Default ${DEFAULT_VAL_EVERY}.`,
    },
    max_minutes: {
      type: 'number',
      exclusiveMinimum: 0,
      description: 'Optional wall-time cap: no new validation interval starts after this.',
    },
    lr: { type: 'number', exclusiveMinimum: 0 },
    crop: { type: 'integer', minimum: 16, multipleOf: 16, description: 'Training crop side (multiple of 16 for 5 levels).' },
    val_crop: { type: 'integer', minimum: 16, multipleOf: 16 },
    batch: { type: 'integer', minimum: 1, default: 1 },
    l2: { type: 'number', minimum: 0 },
    seed: { type: 'integer', default: 1 },
    augment: { type: 'boolean', default: true },
    sampler: { enum: ['uniform', 'foreground'], default: 'uniform' },
    foreground_probability: { type: 'number', minimum: 0, maximum: 1 },
    ignore_steps: { type: 'integer', minimum: 0, description: 'Validations at or before this step never become the kept weights.' },
    lr_decay_start: {
      type: 'integer',
      minimum: 0,
      description: 'Step from which lr shrinks x0.95 per validation interval (default: half the steps).',
    },
    best: { enum: ['val_iou', 'val_loss'], default: 'val_iou' },
    loss: {
      enum: ['bce', 'bce_dice'],
      default: 'bce',
      description: "Training loss: the thesis's BCE, or BCE + soft Dice (robust to sparse foreground). Validation loss stays BCE.",
    },
    smooth: {
      type: 'integer',
      minimum: 1,
      description: 'The kept weights are those of the best trailing mean of this many validations (default 1: the best single validation).',
    },
    plateau: {
      type: 'object',
      additionalProperties: false,
      required: ['patience', 'min_delta', 'lr_drops', 'lr_factor'],
      description:
        'Convergence rule: when the smoothed metric has not beaten its reference by more than min_delta for `patience` steps (after min_steps), lr × lr_factor while lr_drops remain, then stop; `steps` is the maximum. Replaces the lr decay schedule.',
      properties: {
        patience: { type: 'integer', minimum: 1, description: 'Steps (rounded up to whole validation intervals).' },
        min_delta: { type: 'number', minimum: 0 },
        lr_drops: { type: 'integer', minimum: 0 },
        lr_factor: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        min_steps: { type: 'integer', minimum: 0 },
      },
    },
  },
} as const;

/**
 * The convergence rule of the full-precision models (issue 22), applied to their train blocks:
 * `max_steps` replaces `steps`, and validation, smoothing and the plateau rule are set alike for all.
 */
export interface ConvergenceSettings {
  readonly max_steps: number;
  readonly val_every?: number;
  readonly val_crop?: number;
  readonly smooth?: number;
  readonly plateau?: PlateauSettings;
}

export const CONVERGENCE_SCHEMA = {
  type: ['object', 'null'],
  additionalProperties: false,
  required: ['max_steps'],
  description:
    'Train until the smoothed val IoU plateaus, at most max_steps (null: the train block as given). Applies to the full-precision models.',
  properties: {
    max_steps: TRAIN_SCHEMA.properties.steps,
    val_every: TRAIN_SCHEMA.properties.val_every,
    val_crop: TRAIN_SCHEMA.properties.val_crop,
    smooth: TRAIN_SCHEMA.properties.smooth,
    plateau: TRAIN_SCHEMA.properties.plateau,
  },
} as const;

/** A train block with the convergence rule folded in (unchanged when there is none). */
export function withConvergence<T extends object>(train: T, c: ConvergenceSettings | null | undefined): T {
  if (c === null || c === undefined) return train;
  const { max_steps: steps, ...rest } = c;
  return { ...train, steps, ...rest };
}

/** Fills the defaults the schema documents (ajv here validates but does not insert defaults). */
export function trainSettings(value: JsonValue | undefined): TrainSettings {
  const v = (value ?? {}) as Partial<TrainSettings>;
  return {
    ...v,
    steps: v.steps ?? 1,
    val_every: v.val_every ?? DEFAULT_VAL_EVERY,
    lr: v.lr ?? 1e-3,
    crop: v.crop ?? 256,
    batch: v.batch ?? 1,
    seed: v.seed ?? 1,
    augment: v.augment ?? true,
    sampler: v.sampler ?? 'uniform',
    best: v.best ?? 'val_iou',
  };
}

/**
 * The seed a phase trains with in run `runSeed` of a seed matrix: run 1 keeps the phase's own seed
 * (so single-seed results stay what they were), run s adds 1000·(s − 1).
 */
export function phaseSeed(settings: TrainSettings, runSeed: number | undefined): TrainSettings {
  return runSeed === undefined || runSeed === 1 ? settings : { ...settings, seed: settings.seed + 1000 * (runSeed - 1) };
}

/** `seed` of a training kind's `with:`: the run seed of the experiment's seed matrix. */
export const RUN_SEED_SCHEMA = {
  type: 'integer',
  minimum: 1,
  description: 'Run seed (seed matrix); phase seeds are offset by 1000 per seed after the first.',
} as const;

export const WIDTH_SCHEMA = { type: 'integer', minimum: 1, description: 'Filters at level 0 (thesis: 64).' } as const;
export const STEP_REF_SCHEMA = { type: 'string', minLength: 1, description: 'Name or instance id of the step to read from.' } as const;

export function isObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The validated `with:` as a typed object (the planner has checked it against the schema). */
export function withOf<T>(value: JsonValue): T {
  return (isObject(value) ? value : {}) as T;
}

/** The train block an ablation model uses: lw_unet trains to convergence like every full-precision model. */
export function ablationTrain(
  model: 'lw_unet' | 'blu_net',
  train: JsonValue | undefined,
  convergence: ConvergenceSettings | null | undefined,
): { [key: string]: JsonValue } {
  const block = train !== null && typeof train === 'object' && !Array.isArray(train) ? train : {};
  return model === 'lw_unet' ? (withConvergence(block, convergence) as { [key: string]: JsonValue }) : block;
}
