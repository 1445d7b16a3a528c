/**
 * Opens any trained model for prediction: a saved tfjs model folder (U-Net, lw_unet, simulated
 * BLU-Net) runs on the best tfjs backend; a packed BLU-Net file runs on the binary engine.
 */
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { err, ok, type Result } from '../../base/result.js';

export interface Predictor {
  /** What runs, for the progress line, e.g. "packed BLU-Net on the binary engine". */
  readonly description: string;
  /** Tile sides must be a multiple of this (2^(levels − 1)). */
  readonly multiple: number;
  /** Foreground probabilities of one height×width tile (row-major, 0..1 input). */
  predict(tile: Float32Array, height: number, width: number): Promise<Float32Array>;
  dispose(): void;
}

export type ModelSourceCode = 'model-missing' | 'not-a-model' | 'model-unloadable';
export interface ModelSourceError {
  readonly code: ModelSourceCode;
  readonly message: string;
}

const PACKED_MAGIC = 'BLUPACK1';
const WHAT = 'expected a saved model folder (with model.json) or a packed BLU-Net file (starts with BLUPACK1)';

async function startsWithMagic(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(PACKED_MAGIC.length);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return bytesRead === buffer.length && buffer.toString('latin1') === PACKED_MAGIC;
  } finally {
    await handle.close();
  }
}

/** Options for the binary engine: its thread count (default one per CPU) and kernels (default auto: native if built). */
export interface EngineOptions {
  readonly threads?: number;
  readonly engine?: import('../engine/choice.js').EngineChoice;
}

async function packedPredictor(file: string, engine: EngineOptions): Promise<Result<Predictor, ModelSourceError>> {
  const { loadEngineModel, loadEngineKernels, runEngine, sizeMultiple } = await import('../engine/index.js');
  const model = await loadEngineModel(file);
  if (!model.ok) return err({ code: 'model-unloadable', message: model.error.message });
  const loaded = await loadEngineKernels(engine.engine ?? 'auto', engine.threads !== undefined ? { threads: engine.threads } : {});
  if (!loaded.ok) return err({ code: 'model-unloadable', message: loaded.error.message });
  const { kernels } = loaded.value;
  return ok({
    description: `packed BLU-Net (width ${model.value.options.baseFilters}) on the binary engine (${loaded.value.why}, ${kernels.threads} thread(s))`,
    multiple: sizeMultiple(model.value),
    predict: async (pixels, height, width) => runEngine(model.value, kernels, { height, width, pixels }),
    // The workers are unref'd; stopping them here just frees them early.
    dispose: () => void kernels.close(),
  });
}

/** A saved BLU-Net packed to a temporary file and opened on the binary engine. */
async function packedFromSaved(
  model: import('@tensorflow/tfjs').LayersModel,
  dir: string,
  engine: EngineOptions,
): Promise<Result<Predictor, ModelSourceError>> {
  const { exportPackedBluNet } = await import('../models/index.js');
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'blu-predict-'));
  try {
    const file = path.join(scratch, 'model.blupack');
    const packed = await exportPackedBluNet(model, file);
    if (!packed.ok) return err({ code: 'model-unloadable', message: `${dir}: packing the BLU-Net failed: ${packed.error.message}` });
    return await packedPredictor(file, engine);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function tfjsPredictor(dir: string, packBluNet: boolean, engine: EngineOptions): Promise<Result<Predictor, ModelSourceError>> {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend } = await import('../backend/index.js');
  const { loadModel, BinaryConv2D } = await import('../models/index.js');
  const backend = await initBackend('auto');
  if (!backend.ok) return err({ code: 'model-unloadable', message: backend.error.message });
  const model = await loadModel(dir);
  if (!model.ok) return err({ code: 'model-unloadable', message: `${dir}: ${model.error.message}` });
  if (packBluNet && model.value.layers.some((l) => l instanceof BinaryConv2D)) {
    const packed = await packedFromSaved(model.value, dir, engine);
    model.value.dispose();
    return packed;
  }
  const pools = model.value.layers.filter((l) => l.getClassName() === 'MaxPooling2D').length;
  return ok({
    description: `${model.value.name} (saved tfjs model) on ${backend.value.name}`,
    multiple: 2 ** pools,
    predict: async (pixels, height, width) => {
      const y = tf.tidy(() => model.value.predict(tf.tensor4d(pixels, [1, height, width, 1])) as InstanceType<typeof tf.Tensor>);
      const values = (await y.data()) as Float32Array;
      y.dispose();
      return values;
    },
    dispose: () => model.value.dispose(),
  });
}

/**
 * `source`: a model folder, its model.json, or a packed file. A saved BLU-Net is packed and run
 * on the binary engine unless `packBluNet` is false (then its fp32 simulation runs).
 */
export async function openPredictor(
  source: string,
  packBluNet = true,
  engine: EngineOptions = {},
): Promise<Result<Predictor, ModelSourceError>> {
  const info = await stat(source).catch(() => null);
  if (!info) return err({ code: 'model-missing', message: `${source}: no such file or folder; ${WHAT}` });
  const dir = info.isDirectory() ? source : path.basename(source) === 'model.json' ? path.dirname(source) : null;
  if (dir !== null) {
    const hasModelJson = await stat(path.join(dir, 'model.json')).then(
      (s) => s.isFile(),
      () => false,
    );
    if (!hasModelJson) return err({ code: 'not-a-model', message: `${source}: a folder without model.json is not a model; ${WHAT}` });
    return tfjsPredictor(dir, packBluNet, engine);
  }
  if (!(await startsWithMagic(source))) return err({ code: 'not-a-model', message: `${source}: not a model file; ${WHAT}` });
  return packedPredictor(source, engine);
}
