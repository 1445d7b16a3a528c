/** The measuring kinds: evaluate (per model), size, latency, and the aggregating report. */
import type { StepKindDefinition } from '../../runtime/kinds/kind.js';
import type { JsonValue } from '../../base/result.js';
import { ARTIFACT, artifactPath, out, STEP_REF_SCHEMA, withOf } from './common.js';
import { LEVELS_SCHEMA, SEPARABLE_BINARISE_SCHEMA, type BinariseWith } from './train-kinds.js';

const CROP = { type: 'integer', minimum: 16, multipleOf: 16 } as const;
const MODEL_LIST = { type: 'array', minItems: 1, items: STEP_REF_SCHEMA } as const;

export interface EvaluateWith {
  readonly data: string;
  /** The training step whose model is evaluated. */
  readonly model: string;
  /** Test centre crop/pad side (thesis: 512). */
  readonly crop: number;
  /** How many test images get a PNG overlay. */
  readonly overlays?: number;
}

export const evaluateKind: StepKindDefinition = {
  name: 'evaluate',
  // 2: eval.json holds the model's validation curve (`training`).
  version: '2',
  implementation: new URL('./impl/evaluate.js', import.meta.url),
  description: 'Per-image and mean IoU/F1 of one model on the test split, plus PNG overlays (image | truth | prediction)',
  withSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['data', 'model', 'crop'],
    properties: { data: STEP_REF_SCHEMA, model: STEP_REF_SCHEMA, crop: CROP, overlays: { type: 'integer', minimum: 0, maximum: 50 } },
  },
  declare({ stepId, with: value }) {
    const w = withOf<EvaluateWith>(value);
    return {
      deps: [],
      outs: [out(artifactPath(stepId, ARTIFACT.eval), true), out(artifactPath(stepId, ARTIFACT.overlays), true)],
      needs: [w.data, w.model],
    };
  },
  async load() {
    return (await import('./impl/evaluate.js')).evaluateStep;
  },
};

export interface SizeWith {
  /** Needed with `models`: a test crop checks the packed BLU-Net's predictions. */
  readonly data?: string;
  /** Trained model steps to account (must include a BLU-Net, which is also packed). */
  readonly models?: readonly string[];
  /** Also account the untrained models at this width, as the thesis did at 64 (0: skip). */
  readonly thesis_width?: number;
  /** Crop used to check that the packed BLU-Net predicts exactly like the trained one. */
  readonly check_crop?: number;
}

export const sizeKind: StepKindDefinition = {
  name: 'size',
  version: '1',
  implementation: new URL('./impl/size.js', import.meta.url),
  description: 'Thesis size accounting per model, a real bit-packed BLU-Net export (checked to predict identically) and compression ratios',
  withSchema: {
    type: 'object',
    additionalProperties: false,
    anyOf: [{ required: ['data', 'models'] }, { required: ['thesis_width'] }],
    dependencies: { models: ['data'] },
    properties: { data: STEP_REF_SCHEMA, models: MODEL_LIST, thesis_width: { type: 'integer', minimum: 0 }, check_crop: CROP },
  },
  declare({ stepId, with: value }) {
    const w = withOf<SizeWith>(value);
    const models = w.models ?? [];
    const packed = models.length > 0 ? [out(artifactPath(stepId, ARTIFACT.packed))] : [];
    return {
      deps: [],
      outs: [out(artifactPath(stepId, ARTIFACT.size), true), ...packed],
      needs: models.length > 0 && w.data !== undefined ? [w.data, ...models] : [],
    };
  },
  async load() {
    return (await import('./impl/size.js')).sizeStep;
  },
};

export interface LatencyWith {
  /** Trained models (step references), or `thesis_width` for untrained models of that width. */
  readonly models?: readonly string[];
  readonly thesis_width?: number;
  /** Input side (batch 1, one channel). */
  readonly size: number;
  readonly runs: number;
  readonly warmup: number;
  /** Binary engine kernels for the packed BLU-Nets (default wasm: the same on every machine). */
  readonly engine?: 'wasm' | 'native' | 'auto';
  /** With `thesis_width`: the untrained BLU-Net's variant (default: the thesis's). */
  readonly levels?: BinariseWith['levels'];
  readonly separable_binarise?: boolean;
  /** Also time BLU-Nets as their fp32 tfjs simulation (default true; false: packed on the engine only). */
  readonly simulation?: boolean;
}

export const latencyKind: StepKindDefinition = {
  name: 'latency',
  version: '2',
  implementation: new URL('./impl/latency.js', import.meta.url),
  description:
    'Batch-1 inference latency (median, p95, threads, peak memory) per model on the active backend, and of every BLU-Net packed on the binary engine; runs alone',
  withSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['size', 'runs', 'warmup'],
    anyOf: [{ required: ['models'] }, { required: ['thesis_width'] }],
    properties: {
      models: MODEL_LIST,
      thesis_width: {
        type: 'integer',
        minimum: 1,
        description: 'Time untrained U-Net, lw_unet and BLU-Net of this width instead of trained models',
      },
      size: CROP,
      runs: { type: 'integer', minimum: 1 },
      warmup: { type: 'integer', minimum: 0 },
      engine: {
        enum: ['wasm', 'native', 'auto'],
        description:
          'Binary engine kernels for packed BLU-Nets: wasm (default), native (C++ addon; the step fails if it is not built), auto (native if built)',
      },
      levels: { ...LEVELS_SCHEMA, description: 'With thesis_width: residual levels a/c/d/p of the untrained BLU-Net (thesis: 3 each)' },
      separable_binarise: SEPARABLE_BINARISE_SCHEMA,
      simulation: {
        type: 'boolean',
        description: "Also time each BLU-Net's fp32 tfjs simulation (default true); false times it packed on the binary engine only",
      },
    },
  },
  declare({ stepId, with: value }) {
    const w = withOf<LatencyWith>(value);
    return {
      deps: [],
      outs: [out(artifactPath(stepId, ARTIFACT.latency), true)],
      needs: [...(w.models ?? [])],
      resources: { cpus: 'all' },
    };
  },
  async load() {
    return (await import('./impl/latency.js')).latencyStep;
  },
};

export interface ReportWith {
  /** Evaluate steps (a name covers every matrix instance). */
  readonly evaluations: readonly string[];
  /** Size steps (trained models, thesis width); their accounts are merged. */
  readonly sizes: readonly string[];
  readonly latency: string;
  /** Optional second latency step, e.g. of the untrained models at the thesis width. */
  readonly latency_thesis?: string;
  /** Title of the results; with `data`, " on <data set>" is appended. */
  readonly title?: string;
  /** The dataset step: names the data set the results are on. */
  readonly data?: string;
  readonly params?: Readonly<Record<string, JsonValue>>;
}

export const reportKind: StepKindDefinition = {
  name: 'report',
  // 2: training curves, paired differences, the data set in the title, the learning-curve figure.
  version: '2',
  implementation: new URL('./impl/report.js', import.meta.url),
  description:
    'Aggregates evaluations (per model over seeds), sizes and latencies into a markdown results table, JSON, paired differences with bootstrap intervals, and PNG figures (test IoU vs size; learning curves)',
  withSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['evaluations', 'sizes', 'latency'],
    properties: {
      evaluations: MODEL_LIST,
      sizes: MODEL_LIST,
      latency: STEP_REF_SCHEMA,
      latency_thesis: STEP_REF_SCHEMA,
      title: { type: 'string' },
      data: { ...STEP_REF_SCHEMA, description: 'The dataset step; its summary names the data set in the title' },
      params: { type: 'object', description: 'The parameters to list under "Parameters" (default: the params this step uses)' },
    },
  },
  declare({ stepId, with: value }) {
    const w = withOf<ReportWith>(value);
    return {
      deps: [],
      outs: [ARTIFACT.results, ARTIFACT.resultsJson, ARTIFACT.figure, ARTIFACT.curves].map((name) => out(artifactPath(stepId, name), true)),
      needs: [
        ...w.evaluations,
        ...w.sizes,
        w.latency,
        ...(w.latency_thesis !== undefined ? [w.latency_thesis] : []),
        ...(w.data !== undefined ? [w.data] : []),
      ],
    };
  },
  async load() {
    return (await import('./impl/report.js')).reportStep;
  },
};
