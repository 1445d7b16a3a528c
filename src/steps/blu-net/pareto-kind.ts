/** `pareto`: test IoU against latency of every model and BLU-Net variant (issue 24 item 3). */
import type { StepKindDefinition } from '../../runtime/kinds/kind.js';
import { artifactPath, out, STEP_REF_SCHEMA, withOf } from './common.js';
import { PARETO_ARTIFACT } from './pareto-artifacts.js';
import { LEVELS_SCHEMA } from './train-kinds.js';

/** The parts of a training block (params.binarise, a variant's train) that describe a row. */
export interface TrainingSummary {
  readonly steps?: number;
  readonly loss?: string;
}

/** One entry of params.variants, as binarise_variant trains it. */
export interface VariantSpec {
  readonly name: string;
  readonly separable_binarise?: boolean;
  readonly levels?: { readonly activation?: number; readonly conv?: number; readonly depthwise?: number; readonly pointwise?: number };
  /** How its training starts (binarise's gamma_init; that kind checks the value). */
  readonly gamma_init?: string;
  /** Its own training block (binarise's `train`), in place of params.binarise. */
  readonly train?: TrainingSummary;
}

export interface ParetoWith {
  /** Evaluate steps; a name covers every matrix instance, and may have none (no variants). */
  readonly evaluations: readonly string[];
  /** Latency steps timing trained models at the experiment's width (16). */
  readonly latency: readonly string[];
  /** Latency steps timing untrained models at the thesis width (64). */
  readonly latency_thesis: readonly string[];
  /** params.variants: only describes each variant in the table. */
  readonly variants?: readonly VariantSpec[];
  /** params.binarise: how the BLU-Nets without a training block of their own trained (describes rows). */
  readonly training?: TrainingSummary;
  readonly title?: string;
  /** The dataset step: names the data set in the title. */
  readonly data?: string;
}

const STEP_NAMES = {
  type: 'array',
  minItems: 1,
  items: STEP_REF_SCHEMA,
  description: 'Step names or instance ids; a name covers every matrix instance (none is fine: an empty variant list).',
} as const;

const VARIANT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1 },
    separable_binarise: { type: 'boolean' },
    levels: LEVELS_SCHEMA,
    gamma_init: { type: 'string', minLength: 1 },
    // binarise checks the whole block; only steps and loss describe the row here.
    train: { type: 'object' },
  },
} as const;

const TRAINING_SCHEMA = {
  type: 'object',
  description: 'params.binarise: the training block of BLU-Nets without their own; its steps and loss describe their rows.',
} as const;

export const paretoKind: StepKindDefinition = {
  name: 'pareto',
  version: '1',
  implementation: new URL('./impl/pareto.js', import.meta.url),
  description:
    'Speed/accuracy table of every model and BLU-Net variant (test IoU over seeds, size, latency at width 16 and at 64, speed-ups), its Pareto front, and a PNG figure of test IoU against width-64 latency',
  withSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['evaluations', 'latency', 'latency_thesis'],
    properties: {
      evaluations: STEP_NAMES,
      latency: { ...STEP_NAMES, description: 'Latency steps of the trained models (width 16); a name covers every matrix instance.' },
      latency_thesis: {
        ...STEP_NAMES,
        description: 'Latency steps of untrained models at the thesis width (64); a name covers every matrix instance.',
      },
      variants: { type: 'array', items: VARIANT_SCHEMA, description: 'params.variants: describes each variant in the table.' },
      training: TRAINING_SCHEMA,
      title: { type: 'string' },
      data: { ...STEP_REF_SCHEMA, description: 'The dataset step; its summary names the data set in the title' },
    },
  },
  declare({ stepId, with: value }) {
    const w = withOf<ParetoWith>(value);
    return {
      deps: [],
      outs: [PARETO_ARTIFACT.table, PARETO_ARTIFACT.json, PARETO_ARTIFACT.figure].map((name) => out(artifactPath(stepId, name), true)),
      needs: [...w.evaluations, ...w.latency, ...w.latency_thesis, ...(w.data !== undefined ? [w.data] : [])],
    };
  },
  async load() {
    return (await import('./impl/pareto.js')).paretoStep;
  },
};
