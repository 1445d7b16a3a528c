/** Implementations of pretrain, hint, binarise and ablation (loaded lazily by the kinds). */
import type * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { evalPatch, patchesToBatch, type DatasetSplit } from '../../../ml/data/index.js';
import {
  buildBluNet,
  buildLwUnet,
  buildUnet,
  calibrateActivationGammas,
  emulateTeacher,
  fitAllKernelGammas,
  isGammaVariable,
  lwUnetTwin,
  loadModel,
  matchOutputLogits,
  matchTeacherScales,
  transferLwUnetToBluNet,
} from '../../../ml/models/index.js';
import { detectCollapse, type RelativeLrFilter } from '../../../ml/train/index.js';
import { ok } from '../../../base/result.js';
import type { StepImplementation, StepRunContext } from '../../../runtime/kinds/kind.js';
import type { AblationWith, BinariseWith, GammaLr, GammaStart, HintWith, PretrainWith } from '../train-kinds.js';
import {
  ablationTrain,
  ARTIFACT,
  phaseSeed,
  trainSettings,
  withConvergence,
  withOf,
  type ModelInfo,
  type TrainSettings,
} from '../common.js';
import { failure, metric, ownArtifact, reportCollapse, startBackend, writeJson, type StepResult } from './context.js';
import { loadUpstreamData } from './data.js';
import { loadUpstreamInfo, loadUpstreamModel, saveTrainedModel } from './models-io.js';
import { hintPhase, phaseSteps, supervisedPhase, type PhaseRecord } from './training.js';

type Levels = BinariseWith['levels'];

/** The buildBluNet options of a binarise or ablation step's `with:` (levels default 3, thesis variant). */
export function bluOptions(width: number, w: { levels?: Levels; ste?: BinariseWith['ste']; separable_binarise?: boolean }, seed: number) {
  const levels = w.levels;
  return {
    baseFilters: width,
    activationLevels: levels?.activation ?? 3,
    convLevels: levels?.conv ?? 3,
    depthwiseLevels: levels?.depthwise ?? 3,
    pointwiseLevels: levels?.pointwise ?? 3,
    separableBinarise: w.separable_binarise ?? false,
    seed,
    ste: w.ste ?? 'unit',
  };
}

/** The optimizer's relative-step filter for a `gamma_lr` setting (undefined: plain Adam). */
function gammaLrFilter(mode: GammaLr | undefined): RelativeLrFilter | undefined {
  return mode === 'relative' ? isGammaVariable : undefined;
}

// Enough images to see the range of every layer's pre-activations, few enough to be quick.
const CALIBRATION_IMAGES = 8;

/**
 * 'calibrated': fits the activation gammas to the pre-activations on centre crops of training images,
 * then (with a `teacher`) scales the output conv to the teacher's mean |logit|.
 * 'matched' with a `teacher` (the lw_unet the weights came from) first scales each conv to its teacher layer.
 * 'emulated' fits the model to reproduce the teacher's pre-activations through ReLU-emulating activations.
 */
function calibrateActivations(
  ctx: StepRunContext,
  model: tf.LayersModel,
  mode: GammaStart,
  data: DatasetSplit,
  settings: TrainSettings,
  teacher?: tf.LayersModel,
): void {
  if (mode !== 'calibrated' && mode !== 'matched' && mode !== 'emulated') return;
  const patches = data.train.slice(0, CALIBRATION_IMAGES).map((s) => evalPatch(s, settings.val_crop ?? settings.crop));
  const [first, ...rest] = patches;
  if (!first) return;
  const batch = patchesToBatch([first, ...rest]);
  if (mode === 'emulated' && teacher) {
    const layers = emulateTeacher(model, teacher, batch.x);
    ctx.log(
      `started as an emulation of the lw_unet on ${patches.length} training images; activation ranges: ${layers.map((l) => l.range.toFixed(3)).join(', ')}`,
    );
  } else if (mode === 'matched' && teacher) {
    const factors = matchTeacherScales(model, teacher, batch.x);
    ctx.log(
      `convs scaled to their lw_unet layers on ${patches.length} training images: ${[...factors.values()].map((f) => f.toFixed(3)).join(', ')}`,
    );
  } else {
    const fitted = calibrateActivationGammas(model, batch.x);
    ctx.log(
      `activation gammas fitted on ${patches.length} training images: ${fitted.map((f) => f.gammas.map((g) => g.toFixed(3)).join('/')).join(', ')}`,
    );
    if (teacher) ctx.log(`output conv scaled by ${matchOutputLogits(model, teacher, batch.x).toFixed(4)} to the lw_unet's mean |logit|`);
  }
  batch.x.dispose();
  batch.y.dispose();
}

/** Saves the model, its info and the training record; reports the final validation metrics and any collapse. */
async function finish(
  ctx: StepRunContext,
  model: tf.LayersModel,
  trained: Omit<ModelInfo, 'stepId'>,
  phases: readonly PhaseRecord[],
  upstreamSteps = 0,
): Promise<StepResult<void>> {
  const last = phases[phases.length - 1];
  const collapsed = last ? detectCollapse(last.history, last.bestEpoch) : null;
  if (collapsed !== null) reportCollapse(ctx, trained.label, collapsed);
  const seed = withOf<{ seed?: number }>(ctx.spec.with).seed;
  const lineageSteps = upstreamSteps + phases.reduce((a, p) => a + phaseSteps(p), 0);
  const info = { ...trained, ...(seed !== undefined ? { seed } : {}), ...(collapsed !== null ? { collapsed } : {}), lineageSteps };
  const saved = await saveTrainedModel(ctx, model, { ...info, stepId: ctx.spec.id });
  if (!saved.ok) return saved;
  const best = last?.history.find((h) => h.epoch === last.bestEpoch) ?? last?.history[last.history.length - 1];
  if (best?.val.iou !== undefined) metric(ctx, 'best_val_iou', best.val.iou);
  if (best?.val.f1 !== undefined) metric(ctx, 'best_val_f1', best.val.f1);
  metric(
    ctx,
    'train_seconds',
    phases.reduce((a, p) => a + p.seconds, 0),
  );
  await writeJson(ownArtifact(ctx, ARTIFACT.train), { ...info, stepId: ctx.spec.id, phases });
  return ok(undefined);
}

/** Copies weights by topology (as the thesis loaded DeLTA's weights); shapes must match exactly. */
async function applyInitialWeights(ctx: StepRunContext, model: tf.LayersModel, file: string): Promise<StepResult<void>> {
  const source = await loadModel(ctx.resolve(file));
  if (!source.ok) return failure(`init_weights: ${source.error.message}`);
  const from = source.value.getWeights();
  const to = model.getWeights();
  const mismatch = to.findIndex((w, i) => w.shape.join() !== from[i]?.shape.join());
  if (from.length !== to.length || mismatch >= 0) {
    return failure(`init_weights ${file} does not match the U-Net topology (weight ${mismatch} of ${to.length})`);
  }
  model.setWeights(from);
  source.value.dispose();
  ctx.log(`initial weights loaded from ${path.basename(file)}`);
  return ok(undefined);
}

async function withData(
  ctx: StepRunContext,
  ref: string,
  body: (data: DatasetSplit) => Promise<StepResult<void>>,
): Promise<StepResult<void>> {
  const backend = await startBackend(ctx);
  if (!backend.ok) return backend;
  const data = await loadUpstreamData(ctx, ref);
  if (!data.ok) return data;
  return body(data.value);
}

/**
 * The steps a continued U-Net trains: what the `budget_of` model's lineage ran minus what the start
 * weights already had, so the continued U-Net has had as many optimizer steps as that lineage.
 */
async function equalBudget(ctx: StepRunContext, w: PretrainWith, startSteps: number): Promise<StepResult<number | undefined>> {
  if (w.budget_of === undefined) return ok(undefined);
  const target = await loadUpstreamInfo(ctx, w.budget_of);
  if (!target.ok) return target;
  const lineage = target.value.lineageSteps;
  if (lineage === undefined)
    return failure(`budget_of '${w.budget_of}': its model records no lineage steps (trained before they were recorded); rerun it`);
  if (lineage <= startSteps)
    return failure(`budget_of '${w.budget_of}': its lineage ran ${lineage} steps, not more than the ${startSteps} of the start weights`);
  ctx.log(
    `equal budget: ${w.budget_of} had ${lineage} optimizer steps in its lineage; ${startSteps} done by the start weights, ${lineage - startSteps} to go`,
  );
  return ok(lineage - startSteps);
}

/** The U-Net to train: fresh, from a saved folder (init_weights) or continuing an upstream U-Net (continue_from). */
async function startUnet(
  ctx: StepRunContext,
  w: PretrainWith,
  settings: TrainSettings,
): Promise<StepResult<{ model: tf.LayersModel; steps: number }>> {
  if (w.continue_from !== undefined) {
    const start = await loadUpstreamModel(ctx, w.continue_from);
    if (!start.ok) return start;
    if (start.value.info.architecture !== 'unet')
      return failure(`continue_from '${w.continue_from}' is a ${start.value.info.architecture}, expected a U-Net`);
    ctx.log(`continuing ${w.continue_from} (${start.value.info.lineageSteps ?? 0} steps so far)`);
    return ok({ model: start.value.model, steps: start.value.info.lineageSteps ?? 0 });
  }
  const model = buildUnet({ baseFilters: w.width, l2: settings.l2 ?? 0, seed: settings.seed });
  if (w.init_weights) {
    const init = await applyInitialWeights(ctx, model, w.init_weights);
    if (!init.ok) return init;
  }
  return ok({ model, steps: 0 });
}

function unetLabel(w: PretrainWith): string {
  if (w.budget_of !== undefined) return 'U-Net (equal budget)';
  return w.init_weights ? 'U-Net (fine-tuned)' : 'U-Net';
}

export const pretrainStep: StepImplementation = {
  run: (ctx) => {
    const w = withOf<PretrainWith>(ctx.spec.with);
    const base = withConvergence(phaseSeed(trainSettings(w.train), w.seed), w.convergence);
    return withData(ctx, w.data, async (data) => {
      const start = await startUnet(ctx, w, base);
      if (!start.ok) return start;
      const budget = await equalBudget(ctx, w, start.value.steps);
      if (!budget.ok) return budget;
      const settings = budget.value === undefined ? base : { ...base, steps: budget.value };
      const trained = await supervisedPhase(ctx, start.value.model, data, settings, {
        prefix: '',
        offset: start.value.steps,
        total: start.value.steps + settings.steps,
      });
      if (!trained.ok) return trained;
      return finish(
        ctx,
        start.value.model,
        { architecture: 'unet', label: unetLabel(w), width: w.width },
        [trained.value],
        start.value.steps,
      );
    });
  },
};

export const hintStep: StepImplementation = {
  run: (ctx) => {
    const w = withOf<HintWith>(ctx.spec.with);
    const [enc, dec, fixed] = [w.encoder, w.decoder, w.retrain].map((t) => phaseSeed(trainSettings(t), w.seed)) as [
      TrainSettings,
      TrainSettings,
      TrainSettings,
    ];
    const retrain = withConvergence(fixed, w.convergence);
    const total = enc.steps + dec.steps + retrain.steps;
    return withData(ctx, w.data, async (data) => {
      const teacher = await loadUpstreamModel(ctx, w.teacher);
      if (!teacher.ok) return teacher;
      if (teacher.value.info.architecture !== 'unet')
        return failure(`teacher '${w.teacher}' is a ${teacher.value.info.architecture}, expected a U-Net`);
      const width = teacher.value.info.width;
      const student = buildLwUnet({ baseFilters: width, l2: retrain.l2 ?? 0, seed: enc.seed });
      const models = { teacher: teacher.value.model, student };
      const phases: PhaseRecord[] = [];
      const e = await hintPhase(ctx, models, 'encoder', data, enc, { prefix: 'hint_encoder_', offset: 0, total });
      if (!e.ok) return e;
      phases.push(e.value);
      const d = await hintPhase(ctx, models, 'decoder', data, dec, { prefix: 'hint_decoder_', offset: enc.steps, total });
      if (!d.ok) return d;
      phases.push(d.value);
      const r = await supervisedPhase(ctx, student, data, retrain, { prefix: '', offset: enc.steps + dec.steps, total });
      if (!r.ok) return r;
      phases.push(r.value);
      const teacherSteps = teacher.value.info.lineageSteps ?? 0;
      return finish(ctx, student, { architecture: 'lw_unet', label: 'lw_unet (hint learning + BCE)', width }, phases, teacherSteps);
    });
  },
};

export const binariseStep: StepImplementation = {
  run: (ctx) => {
    const w = withOf<BinariseWith>(ctx.spec.with);
    const settings = phaseSeed(trainSettings(w.train), w.seed);
    return withData(ctx, w.data, async (data) => {
      const lw = await loadUpstreamModel(ctx, w.student);
      if (!lw.ok) return lw;
      if (lw.value.info.architecture !== 'lw_unet')
        return failure(`student '${w.student}' is a ${lw.value.info.architecture}, expected an lw_unet`);
      const width = lw.value.info.width;
      const studentSteps = lw.value.info.lineageSteps ?? 0;
      const blu = buildBluNet(bluOptions(width, w, settings.seed));
      const gammas = w.gamma_init ?? 'thesis';
      const transferOutput = w.transfer_output ?? false;
      const moved = transferLwUnetToBluNet(lw.value.model, blu, {
        gammaInit: gammas === 'thesis' ? 'thesis' : 'weight-scale',
        transferOutput,
      });
      if (!moved.ok) return failure(moved.error.message);
      ctx.log(
        `transferred ${moved.value.length} layers from the distilled lw_unet (output layer: ${transferOutput ? 'transferred' : 'new'}, gammas: ${gammas}, STE: ${w.ste ?? 'unit'}, gamma lr: ${w.gamma_lr ?? 'absolute'})`,
      );
      calibrateActivations(ctx, blu, gammas, data, settings, lw.value.model);
      lw.value.model.dispose();
      const trained = await supervisedPhase(
        ctx,
        blu,
        data,
        settings,
        { prefix: '', offset: 0, total: settings.steps },
        gammaLrFilter(w.gamma_lr),
      );
      if (!trained.ok) return trained;
      return finish(ctx, blu, { architecture: 'blu_net', label: 'BLU-Net (from distilled lw_unet)', width }, [trained.value], studentSteps);
    });
  },
};

function scratchModel(ctx: StepRunContext, w: AblationWith, data: DatasetSplit, settings: TrainSettings): tf.LayersModel {
  if (w.model === 'lw_unet') return buildLwUnet({ baseFilters: w.width, l2: settings.l2 ?? 0, seed: settings.seed });
  const blu = buildBluNet(bluOptions(w.width, w, settings.seed));
  const gammas = w.gamma_init ?? 'thesis';
  if (gammas !== 'thesis') fitAllKernelGammas(blu);
  // Without a trained lw_unet, `emulated` emulates the ReLU network that has the BLU-Net's own initial weights.
  const twin = gammas === 'emulated' ? lwUnetTwin(blu, { baseFilters: w.width, seed: settings.seed }) : undefined;
  calibrateActivations(ctx, blu, gammas, data, settings, twin);
  twin?.dispose();
  return blu;
}

export const ablationStep: StepImplementation = {
  run: (ctx) => {
    const w = withOf<AblationWith>(ctx.spec.with);
    const base = phaseSeed(trainSettings(ablationTrain(w.model, w.train, w.convergence)), w.seed);
    const settings = { ...base, lr: w.lr_by_model?.[w.model] ?? base.lr };
    return withData(ctx, w.data, async (data) => {
      const model = scratchModel(ctx, w, data, settings);
      const relativeLr = w.model === 'blu_net' ? gammaLrFilter(w.gamma_lr) : undefined;
      const trained = await supervisedPhase(ctx, model, data, settings, { prefix: '', offset: 0, total: settings.steps }, relativeLr);
      if (!trained.ok) return trained;
      const label = w.model === 'lw_unet' ? 'lw_unet (from scratch)' : 'BLU-Net (from scratch)';
      return finish(ctx, model, { architecture: w.model, label, width: w.width }, [trained.value]);
    });
  },
};
