/**
 * Saving and loading LayersModels as tfjs `model.json` + `weights.bin` without tfjs-node: we take
 * the artifacts from `model.save(withSaveHandler)` and write the files ourselves. Custom binary
 * layers round-trip because importing this module registers them (binary-layers.js).
 */
import * as tf from '@tensorflow/tfjs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { err, ok, type Result } from '../../base/result.js';
import './binary-layers.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

export interface SavedModelInfo {
  modelJsonPath: string;
  weightsPath: string;
  weightBytes: number;
}

export type ModelIoError = { message: string };

interface ModelJsonFile {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: null;
  modelTopology: tf.io.ModelArtifacts['modelTopology'];
  trainingConfig?: tf.io.TrainingConfig;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

function joinWeightData(data: tf.io.WeightData | undefined): ArrayBuffer {
  return tf.io.CompositeArrayBuffer.join(data ?? new ArrayBuffer(0));
}

// Write-then-rename so a crash never leaves a half-written model next to a valid one.
async function writeAtomically(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

async function writeArtifacts(artifacts: tf.io.ModelArtifacts, dir: string): Promise<SavedModelInfo> {
  const weights = new Uint8Array(joinWeightData(artifacts.weightData));
  const json: ModelJsonFile = {
    format: 'layers-model',
    generatedBy: `blu-pipe (TensorFlow.js ${tf.version.tfjs})`,
    convertedBy: null,
    modelTopology: artifacts.modelTopology,
    ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
  };
  await mkdir(dir, { recursive: true });
  const weightsPath = path.join(dir, WEIGHTS_BIN);
  const modelJsonPath = path.join(dir, MODEL_JSON);
  await writeAtomically(weightsPath, weights);
  await writeAtomically(modelJsonPath, JSON.stringify(json));
  return { modelJsonPath, weightsPath, weightBytes: weights.byteLength };
}

/** Saves topology + weights into `dir` (created if missing). */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<Result<SavedModelInfo, ModelIoError>> {
  let info: SavedModelInfo | undefined;
  try {
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        info = await writeArtifacts(artifacts, dir);
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: info.weightBytes } };
      }),
    );
  } catch (e) {
    return err({ message: `saving model to ${dir} failed: ${String(e)}` });
  }
  return info ? ok(info) : err({ message: `saving model to ${dir} produced no artifacts` });
}

async function readModelJson(dir: string): Promise<ModelJsonFile> {
  const parsed = JSON.parse(await readFile(path.join(dir, MODEL_JSON), 'utf8')) as ModelJsonFile;
  if (parsed.format !== 'layers-model' || !Array.isArray(parsed.weightsManifest)) {
    throw new Error(`${MODEL_JSON} is not a tfjs layers-model file`);
  }
  return parsed;
}

/** Loads a model written by saveModel (or any single-manifest tfjs layers model in `dir`). */
export async function loadModel(dir: string): Promise<Result<tf.LayersModel, ModelIoError>> {
  try {
    const json = await readModelJson(dir);
    const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
    const buffers = await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(path.join(dir, p))));
    const weightData = tf.io.CompositeArrayBuffer.join(buffers.map((b) => new Uint8Array(b).buffer));
    const artifacts: tf.io.ModelArtifacts = { modelTopology: json.modelTopology, weightSpecs, weightData };
    if (json.trainingConfig) artifacts.trainingConfig = json.trainingConfig;
    return ok(await tf.loadLayersModel(tf.io.fromMemory(artifacts)));
  } catch (e) {
    return err({ message: `loading model from ${dir} failed: ${String(e)}` });
  }
}
