/** Saving/loading trained models together with their BLU-Net model info. */
import type * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { loadModel, saveModel } from '../../../ml/models/index.js';
import { ok } from '../../../base/result.js';
import type { StepRunContext } from '../../../runtime/kinds/kind.js';
import { ARCHITECTURES, ARTIFACT, MODEL_INFO, type ModelInfo } from '../common.js';
import { artifactOf, failure, isRecord, ownArtifact, readJson, upstreamsOf, writeJson, type StepResult } from './context.js';

export interface LoadedModel {
  readonly model: tf.LayersModel;
  readonly info: ModelInfo;
  /** Absolute folder of the saved model. */
  readonly dir: string;
}

function isModelInfo(value: unknown): value is ModelInfo {
  return (
    isRecord(value) &&
    typeof value.label === 'string' &&
    typeof value.width === 'number' &&
    typeof value.stepId === 'string' &&
    (ARCHITECTURES as readonly unknown[]).includes(value.architecture)
  );
}

export async function saveTrainedModel(ctx: StepRunContext, model: tf.LayersModel, info: ModelInfo): Promise<StepResult<string>> {
  const dir = ownArtifact(ctx, ARTIFACT.model);
  const saved = await saveModel(model, dir);
  if (!saved.ok) return failure(saved.error.message);
  await writeJson(path.join(dir, MODEL_INFO), info);
  return ok(dir);
}

export async function loadModelDir(dir: string): Promise<StepResult<LoadedModel>> {
  const info = await readJson(path.join(dir, MODEL_INFO), isModelInfo);
  if (!info.ok) return info;
  const model = await loadModel(dir);
  if (!model.ok) return failure(model.error.message);
  return ok({ model: model.value, info: info.value, dir });
}

/** The model info of upstream step `ref` (one instance), without loading its weights. */
export async function loadUpstreamInfo(ctx: StepRunContext, ref: string): Promise<StepResult<ModelInfo>> {
  const [first, ...rest] = upstreamsOf(ctx, ref);
  if (!first || rest.length > 0) return failure(`expected exactly one model step '${ref}'`);
  const dir = artifactOf(ctx, first, ARTIFACT.model);
  if (!dir.ok) return dir;
  return readJson(path.join(dir.value, MODEL_INFO), isModelInfo);
}

/** Loads the model produced by upstream step `ref` (one instance). */
export async function loadUpstreamModel(ctx: StepRunContext, ref: string): Promise<StepResult<LoadedModel>> {
  const [first, ...rest] = upstreamsOf(ctx, ref);
  if (!first || rest.length > 0) return failure(`expected exactly one model step '${ref}'`);
  const dir = artifactOf(ctx, first, ARTIFACT.model);
  if (!dir.ok) return dir;
  return loadModelDir(dir.value);
}
