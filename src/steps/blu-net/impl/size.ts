/** `size`: thesis size accounting per model, a real bit-packed BLU-Net export and compression ratios. */
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { evalPatch } from '../../../ml/data/index.js';
import { buildModel, exportPackedBluNet, loadPackedBluNet, thesisSize, type ModelName, type ThesisSize } from '../../../ml/models/index.js';
import { ok } from '../../../base/result.js';
import type { StepImplementation, StepRunContext } from '../../../runtime/kinds/kind.js';
import { ARCHITECTURES, ARTIFACT, withOf, type ModelInfo } from '../common.js';
import type { SizeWith } from '../measure-kinds.js';
import { failure, metric, ownArtifact, startBackend, writeJson, type StepResult } from './context.js';
import { loadUpstreamData } from './data.js';
import { loadUpstreamModel, type LoadedModel } from './models-io.js';

export interface ModelSize extends ThesisSize {
  readonly label: string;
  readonly architecture: ModelInfo['architecture'];
  readonly width: number;
  /** Step that trained it; absent for the untrained thesis-width models. */
  readonly stepId?: string;
  /** Bytes of the saved tfjs model (model.json + weights.bin, fp32 latent weights). */
  readonly savedBytes?: number;
  /** Bytes of the bit-packed export (BLU-Net only). */
  readonly packedBytes?: number;
  /** U-Net thesis size / this model's thesis size. */
  readonly ratioThesis: number;
  /** U-Net thesis size / packed file size (BLU-Net only). */
  readonly ratioPacked?: number;
}

/** Contents of size.json (read by the report step). */
export interface SizeFile {
  readonly trained: readonly ModelSize[];
  readonly thesisWidth: readonly ModelSize[];
  readonly packedCheck: { readonly identical: boolean; readonly maxAbsDiff: number; readonly pixels: number } | null;
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? await dirBytes(p) : (await stat(p)).size;
  }
  return total;
}

/** Same prediction from the trained BLU-Net and its packed reload, on one test crop. */
async function comparePredictions(a: tf.LayersModel, b: tf.LayersModel, x: tf.Tensor4D): Promise<NonNullable<SizeFile['packedCheck']>> {
  const [pa, pb] = [a.predict(x) as tf.Tensor, b.predict(x) as tf.Tensor];
  const [va, vb] = await Promise.all([pa.data(), pb.data()]);
  tf.dispose([pa, pb]);
  let maxAbsDiff = 0;
  let sameMask = true;
  for (let i = 0; i < va.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs((va[i] ?? 0) - (vb[i] ?? 0)));
    if ((va[i] ?? 0) > 0.5 !== (vb[i] ?? 0) > 0.5) sameMask = false;
  }
  return { identical: sameMask && maxAbsDiff === 0, maxAbsDiff, pixels: va.length };
}

function withRatio(base: Omit<ModelSize, 'ratioThesis'>, unetBytes: number | undefined): ModelSize {
  const ratioThesis = unetBytes === undefined ? Number.NaN : unetBytes / base.bytes;
  const ratioPacked = base.packedBytes !== undefined && unetBytes !== undefined ? unetBytes / base.packedBytes : undefined;
  return { ...base, ratioThesis, ...(ratioPacked !== undefined ? { ratioPacked } : {}) };
}

interface Packed {
  readonly bytes: number;
  readonly reloaded: tf.LayersModel;
}

async function packTo(model: tf.LayersModel, file: string): Promise<StepResult<Packed>> {
  const exported = await exportPackedBluNet(model, file);
  if (!exported.ok) return failure(exported.error.message);
  const reloaded = await loadPackedBluNet(file);
  if (!reloaded.ok) return failure(reloaded.error.message);
  return ok({ bytes: exported.value.fileBytes, reloaded: reloaded.value });
}

/** The untrained thesis-width models (built, counted, BLU-Net packed to a temp file, disposed). */
async function thesisWidthSizes(width: number): Promise<StepResult<ModelSize[]>> {
  const out: Omit<ModelSize, 'ratioThesis'>[] = [];
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'blu-size-'));
  try {
    for (const name of ARCHITECTURES) {
      const built = buildModel(name as ModelName, { baseFilters: width });
      if (!built.ok) return failure(built.error.message);
      const size = thesisSize(built.value);
      let packedBytes: number | undefined;
      if (name === 'blu_net') {
        const packed = await packTo(built.value, path.join(tmp, 'blu.packed'));
        if (!packed.ok) return packed;
        packedBytes = packed.value.bytes;
        packed.value.reloaded.dispose();
      }
      built.value.dispose();
      out.push({
        ...size,
        label: `${name} (width ${width}, untrained)`,
        architecture: name,
        width,
        ...(packedBytes !== undefined ? { packedBytes } : {}),
      });
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const unet = out.find((m) => m.architecture === 'unet')?.bytes;
  return ok(out.map((m) => withRatio(m, unet)));
}

async function trainedSizes(
  ctx: StepRunContext,
  models: readonly LoadedModel[],
  x: tf.Tensor4D,
): Promise<StepResult<Pick<SizeFile, 'trained' | 'packedCheck'>>> {
  const out: Omit<ModelSize, 'ratioThesis'>[] = [];
  let packedCheck: SizeFile['packedCheck'] = null;
  for (const m of models) {
    let packedBytes: number | undefined;
    if (m.info.architecture === 'blu_net') {
      const packed = await packTo(m.model, ownArtifact(ctx, ARTIFACT.packed));
      if (!packed.ok) return packed;
      packedBytes = packed.value.bytes;
      packedCheck = await comparePredictions(m.model, packed.value.reloaded, x);
      packed.value.reloaded.dispose();
      if (!packedCheck.identical) ctx.log(`warning: packed BLU-Net predictions differ (max |diff| ${packedCheck.maxAbsDiff})`);
    }
    const { stepId, label, architecture, width } = m.info;
    out.push({
      ...thesisSize(m.model),
      label,
      architecture,
      width,
      stepId,
      savedBytes: await dirBytes(m.dir),
      ...(packedBytes !== undefined ? { packedBytes } : {}),
    });
  }
  const unet = out.find((m) => m.architecture === 'unet')?.bytes;
  return ok({ trained: out.map((m) => withRatio(m, unet)), packedCheck });
}

async function loadAll(ctx: StepRunContext, refs: readonly string[]): Promise<StepResult<LoadedModel[]>> {
  const models: LoadedModel[] = [];
  for (const ref of refs) {
    const loaded = await loadUpstreamModel(ctx, ref);
    if (!loaded.ok) return loaded;
    models.push(loaded.value);
  }
  return ok(models);
}

function reportSizes(ctx: StepRunContext, prefix: string, sizes: readonly ModelSize[]): void {
  for (const s of sizes) {
    metric(ctx, `${prefix}${s.architecture}_mib`, s.mib);
    if (Number.isFinite(s.ratioThesis)) metric(ctx, `${prefix}${s.architecture}_ratio`, s.ratioThesis);
    if (s.packedBytes !== undefined) metric(ctx, `${prefix}${s.architecture}_packed_bytes`, s.packedBytes);
    if (s.ratioPacked !== undefined) metric(ctx, `${prefix}${s.architecture}_packed_ratio`, s.ratioPacked);
  }
}

/** Trained models: thesis accounting, saved size, packed BLU-Net export checked on a test crop. */
async function accountTrained(
  ctx: StepRunContext,
  w: SizeWith,
  refs: readonly string[],
): Promise<StepResult<Pick<SizeFile, 'trained' | 'packedCheck'>>> {
  if (w.data === undefined) return failure(`'models' needs 'data' (a test crop checks the packed BLU-Net)`);
  const data = await loadUpstreamData(ctx, w.data);
  if (!data.ok) return data;
  const sample = data.value.test[0];
  if (!sample) return failure('the test split is empty');
  const models = await loadAll(ctx, refs);
  if (!models.ok) return models;
  if (!models.value.some((m) => m.info.architecture === 'blu_net')) return failure('no BLU-Net among the models: nothing to pack');
  const crop = w.check_crop ?? 64;
  const x = tf.tensor4d(evalPatch(sample, crop).image, [1, crop, crop, 1]);
  const trained = await trainedSizes(ctx, models.value, x);
  x.dispose();
  return trained;
}

export const sizeStep: StepImplementation = {
  async run(ctx) {
    const w = withOf<SizeWith>(ctx.spec.with);
    const backend = await startBackend(ctx);
    if (!backend.ok) return backend;
    const refs = w.models ?? [];
    const trained = refs.length > 0 ? await accountTrained(ctx, w, refs) : ok({ trained: [], packedCheck: null });
    if (!trained.ok) return trained;
    const thesis = (w.thesis_width ?? 0) > 0 ? await thesisWidthSizes(w.thesis_width ?? 0) : ok([]);
    if (!thesis.ok) return thesis;
    const file: SizeFile = { ...trained.value, thesisWidth: thesis.value };
    reportSizes(ctx, '', file.trained);
    reportSizes(ctx, 'thesis_', file.thesisWidth);
    if (file.packedCheck) metric(ctx, 'packed_identical', file.packedCheck.identical ? 1 : 0);
    await writeJson(ownArtifact(ctx, ARTIFACT.size), file);
    if (file.packedCheck && !file.packedCheck.identical) return failure('the packed BLU-Net does not reproduce the trained predictions');
    return ok(undefined);
  },
};
