/** `evaluate`: per-image and mean IoU/F1 of one model on the test split, with PNG overlays. */
import * as tf from '@tensorflow/tfjs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { clearOutside, evalPatch, type Sample } from '../../../ml/data/index.js';
import { confusion, f1Of, iouOf } from '../../../ml/metrics.js';
import { constantOutput, valueRange } from '../../../ml/train/index.js';
import { ok } from '../../../base/result.js';
import type { StepImplementation, StepRunContext } from '../../../runtime/kinds/kind.js';
import { ARTIFACT, withOf, type ModelInfo } from '../common.js';
import type { EvaluateWith } from '../measure-kinds.js';
import {
  isRecord,
  metric,
  ownArtifact,
  readJson,
  reportCollapse,
  startBackend,
  upstreamArtifact,
  writeJson,
  type StepResult,
} from './context.js';
import { curveOf, type StoredPhase, type TrainingCurve } from './curves.js';
import { loadUpstreamData } from './data.js';
import { loadUpstreamModel } from './models-io.js';
import { writeOverlay } from './overlay.js';

export interface ImageScore {
  readonly image: string;
  readonly iou: number;
  readonly f1: number;
}

/** Contents of eval.json (read by the report step). */
export interface EvaluationFile {
  readonly model: ModelInfo;
  readonly crop: number;
  readonly images: number;
  readonly meanIou: number;
  readonly meanF1: number;
  readonly perImage: readonly ImageScore[];
  /** Why the model is not a result: collapsed in training (its info) or a constant output on the test images. */
  readonly collapsed?: string;
  /** The model's validation curve and what ended its training (from its train.json). */
  readonly training?: TrainingCurve;
}

const isStoredPhases = (v: unknown): v is { phases: StoredPhase[] } =>
  isRecord(v) &&
  Array.isArray(v.phases) &&
  v.phases.every((p) => isRecord(p) && Array.isArray(p.history) && typeof p.bestEpoch === 'number');

/** The learning curve of the evaluated model, when its step wrote a train.json. */
async function trainingCurve(ctx: StepRunContext, ref: string, lineageSteps: number | undefined): Promise<TrainingCurve | undefined> {
  const file = upstreamArtifact(ctx, ref, ARTIFACT.train);
  if (!file.ok) return undefined;
  const stored = await readJson(file.value, isStoredPhases);
  return stored.ok ? curveOf(stored.value.phases, lineageSteps) : undefined;
}

async function scoreOne(
  ctx: StepRunContext,
  model: tf.LayersModel,
  sample: Sample,
  crop: number,
  overlayDir: string | null,
): Promise<ImageScore & { range: [number, number] }> {
  const patch = evalPatch(sample, crop);
  const probabilities = tf.tidy(() => {
    const x = tf.tensor4d(patch.image, [1, crop, crop, 1]);
    return model.predict(x) as tf.Tensor;
  });
  const values = (await probabilities.data()) as Float32Array;
  probabilities.dispose();
  const range = valueRange(values);
  clearOutside(values, crop, patch.inside);
  const c = confusion(patch.mask, values);
  if (overlayDir !== null) await writeOverlay(path.join(overlayDir, `${sample.name}.png`), patch, values);
  ctx.log(`${sample.name}: IoU ${iouOf(c).toFixed(4)} F1 ${f1Of(c).toFixed(4)}`);
  return { image: sample.name, iou: iouOf(c), f1: f1Of(c), range };
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

export const evaluateStep: StepImplementation = {
  async run(ctx): Promise<StepResult<void>> {
    const w = withOf<EvaluateWith>(ctx.spec.with);
    const backend = await startBackend(ctx);
    if (!backend.ok) return backend;
    const data = await loadUpstreamData(ctx, w.data);
    if (!data.ok) return data;
    const loaded = await loadUpstreamModel(ctx, w.model);
    if (!loaded.ok) return loaded;
    const overlayDir = ownArtifact(ctx, ARTIFACT.overlays);
    await mkdir(overlayDir, { recursive: true });
    const perImage: ImageScore[] = [];
    let range: [number, number] = [Infinity, -Infinity];
    for (const [i, sample] of data.value.test.entries()) {
      if (ctx.signal.aborted) return { ok: false, error: { message: 'cancelled' } };
      const { range: r, ...score } = await scoreOne(ctx, loaded.value.model, sample, w.crop, i < (w.overlays ?? 3) ? overlayDir : null);
      perImage.push(score);
      range = [Math.min(range[0], r[0]), Math.max(range[1], r[1])];
      ctx.report.progress({ label: 'image', current: i + 1, total: data.value.test.length });
    }
    const collapsed = loaded.value.info.collapsed ?? constantOutput(range, 'test');
    const training = await trainingCurve(ctx, w.model, loaded.value.info.lineageSteps);
    if (collapsed !== null) reportCollapse(ctx, loaded.value.info.label, collapsed);
    const result: EvaluationFile = {
      model: loaded.value.info,
      crop: w.crop,
      images: perImage.length,
      meanIou: mean(perImage.map((s) => s.iou)),
      meanF1: mean(perImage.map((s) => s.f1)),
      perImage,
      ...(collapsed !== null ? { collapsed } : {}),
      ...(training !== undefined ? { training } : {}),
    };
    metric(ctx, 'test_iou', result.meanIou);
    metric(ctx, 'test_f1', result.meanF1);
    await writeJson(ownArtifact(ctx, ARTIFACT.eval), result);
    return ok(undefined);
  },
};
