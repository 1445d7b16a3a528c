/**
 * `latency`: batch-1 inference latency per model (median, p95 after warm-up) on the active
 * backend; every BLU-Net is also packed and timed on the binary engine (src/ml/engine). The models
 * are timed in rounds, one call of each per round, so that a change in the machine's load during
 * the step moves every model's times alike and their ratios stay put.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { computeThreads } from '../../../ml/backend/threads.js';
import { loadEngineKernels, loadEngineModel, runEngine, type EngineModel, type WasmKernels } from '../../../ml/engine/index.js';
import { withGenericWeights } from '../../../ml/models/generic-weights.js';
import { buildModel, exportPackedBluNet } from '../../../ml/models/index.js';
import { resolveBluNetOptions, type BluNetOptions } from '../../../ml/models/blu-net.js';
import { ok } from '../../../base/result.js';
import { percentile } from '../../../base/stats.js';
import type { StepImplementation, StepRunContext } from '../../../runtime/kinds/kind.js';
import { ARCHITECTURES, ARTIFACT, withOf, type ModelInfo } from '../common.js';
import { checkText } from './report-table.js';
import type { LatencyWith } from '../measure-kinds.js';
import { failure, metric, ownArtifact, startBackend, writeJson, type StepResult } from './context.js';
import { loadUpstreamModel, type LoadedModel } from './models-io.js';

export interface ModelLatency {
  readonly model: ModelInfo;
  /** Absent in files from before the engine: tfjs. */
  readonly runtime?: 'tfjs' | 'binary-engine';
  readonly threads?: number;
  /** Engine only: which kernels ran (e.g. "wasm SIMD", "native AVX2+FMA"); absent in older files: wasm SIMD. */
  readonly engine?: string;
  /** The process's peak resident memory over the step (all its models are loaded together; older files: after this model's runs). */
  readonly peakRssBytes?: number;
  /** Bytes of the model as shipped: the packed file (engine), or the fp32 weights (tfjs). */
  readonly fileBytes?: number;
  /** Engine only: bytes of its resident weights and of its wasm working memory. */
  readonly weightBytes?: number;
  readonly workingBytes?: number;
  /** The packed model against the fp32 simulation on the same input; `maskDiffsBeyondTies` counts the differing mask pixels whose probabilities differ by more than SAME_PROBABILITY. */
  readonly check?: {
    readonly pixels: number;
    readonly maskDiffs: number;
    readonly maskDiffsBeyondTies?: number;
    readonly maxAbsDiff: number;
  };
  readonly runs: number;
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly meanMs: number;
  readonly minMs: number;
}

/** Contents of latency.json (read by the report step). */
export interface LatencyFile {
  readonly backend: string;
  readonly size: number;
  readonly warmup: number;
  readonly models: readonly ModelLatency[];
}

const peakRss = () => process.resourceUsage().maxRSS * 1024;

/**
 * Threads an fp32 model computes with: the backend's own count, or (0: TensorFlow sizes its own pools)
 * TensorFlow's intra-op pool, TF_NUM_INTRAOP_THREADS when set, else one thread per core.
 */
function summary(times: number[]): Pick<ModelLatency, 'runs' | 'medianMs' | 'p95Ms' | 'meanMs' | 'minMs'> {
  return {
    runs: times.length,
    medianMs: percentile(times, 50),
    p95Ms: percentile(times, 95),
    meanMs: times.reduce((a, b) => a + b, 0) / times.length,
    minMs: times[0] ?? Number.NaN,
  };
}

/** One model's timed call, and its entry from the times of all rounds; set up before the rounds. */
interface TimedModel {
  readonly once: () => Promise<number>;
  /** The entry for these times (sorted); releases what the timer holds. */
  readonly finish: (times: number[]) => Promise<ModelLatency>;
  /** Releases what the timer holds when the step stops early. */
  readonly close: () => Promise<void>;
}

/** One timed call: predict and wait until the values are on the CPU (a real sync on every backend). */
async function timeOnce(model: tf.LayersModel, x: tf.Tensor): Promise<number> {
  const started = performance.now();
  const y = model.predict(x) as tf.Tensor;
  await y.data();
  const ms = performance.now() - started;
  y.dispose();
  return ms;
}

function tfjsTimer(model: tf.LayersModel, info: ModelInfo, x: tf.Tensor, threads: number): TimedModel {
  return {
    once: () => timeOnce(model, x),
    finish: async (times) => ({
      model: info,
      runtime: 'tfjs',
      threads,
      ...summary(times),
      peakRssBytes: peakRss(),
      fileBytes: 4 * model.countParams(),
    }),
    close: async () => undefined,
  };
}

/**
 * Runs `warmup` rounds, then `runs` timed rounds; each round calls every model once, in order.
 * Returns each model's times, sorted (fewer when `signal` aborts).
 */
export async function timeInRounds(
  timers: readonly Pick<TimedModel, 'once'>[],
  rounds: { readonly warmup: number; readonly runs: number },
  signal: AbortSignal,
  onRound: (done: number, total: number) => void = () => undefined,
): Promise<number[][]> {
  for (let i = 0; i < rounds.warmup; i++) for (const timer of timers) await timer.once();
  const times: number[][] = timers.map(() => []);
  for (let round = 0; round < rounds.runs && !signal.aborted; round++) {
    for (const [k, timer] of timers.entries()) times[k]?.push(await timer.once());
    onRound(round + 1, rounds.runs);
  }
  return times.map((t) => t.sort((a, b) => a - b));
}

/**
 * Probabilities this close are the same (issue 13 asks for 1e-4). A mask pixel that differs between
 * two such values is a tie at 0.5, as on an untrained model whose output is 0.5 everywhere.
 */
const SAME_PROBABILITY = 1e-4;

function compare(engine: Float32Array, simulation: Float32Array): NonNullable<ModelLatency['check']> {
  let maskDiffs = 0;
  let maskDiffsBeyondTies = 0;
  let maxAbsDiff = 0;
  simulation.forEach((p, i) => {
    const q = engine[i] as number;
    if (p > 0.5 !== q > 0.5) {
      maskDiffs++;
      if (Math.abs(p - q) > SAME_PROBABILITY) maskDiffsBeyondTies++;
    }
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(p - q));
  });
  return { pixels: simulation.length, maskDiffs, maskDiffsBeyondTies, maxAbsDiff };
}

/** Packs a BLU-Net into `file` and loads it on the binary engine. */
async function loadPacked(
  loaded: Pick<LoadedModel, 'model' | 'info'>,
  file: string,
  w: LatencyWith,
  threads: number,
): Promise<StepResult<{ engine: EngineModel; kernels: WasmKernels; why: string }>> {
  const packed = await exportPackedBluNet(loaded.model, file);
  if (!packed.ok) return failure(`packing ${loaded.info.label}: ${packed.error.message}`);
  const engine = await loadEngineModel(file);
  if (!engine.ok) return failure(engine.error.message);
  const choice = w.engine ?? 'wasm';
  const kernels = await loadEngineKernels(choice, { threads });
  if (!kernels.ok) return failure(`binary engine (engine: ${choice}): ${kernels.error.message}`);
  return ok({ engine: engine.value, kernels: kernels.value.kernels, why: kernels.value.why });
}

/**
 * A BLU-Net packed (to a temporary file) and loaded on the binary engine, to be timed there and
 * checked against the simulation. The engine gets as many threads as the fp32 models compute with,
 * so the two are compared at equal thread counts.
 */
async function packedTimer(
  ctx: StepRunContext,
  loaded: Pick<LoadedModel, 'model' | 'info'>,
  w: LatencyWith,
  x: tf.Tensor,
  threads: number,
): Promise<StepResult<TimedModel>> {
  const { model, info } = loaded;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'blu-latency-'));
  const removeDir = () => rm(dir, { recursive: true, force: true });
  const file = path.join(dir, 'model.blupack');
  const prepared = await loadPacked(loaded, file, w, threads);
  if (!prepared.ok) {
    await removeDir();
    return prepared;
  }
  const { engine, kernels, why } = prepared.value;
  ctx.log(`binary engine: ${why}`);
  const image = { height: w.size, width: w.size, pixels: x.dataSync() as Float32Array };
  let probabilities: Float32Array = new Float32Array(0);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await kernels.close();
    await removeDir();
  };
  return ok({
    once: async () => {
      const started = performance.now();
      probabilities = runEngine(engine, kernels, image);
      return performance.now() - started;
    },
    finish: async (times) => {
      const fileBytes = (await stat(file)).size;
      await close();
      const simulated = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
      return {
        model: { ...info, label: `${info.label}, packed, binary engine` },
        runtime: 'binary-engine',
        engine: kernels.name,
        threads: kernels.threads,
        ...summary(times),
        peakRssBytes: peakRss(),
        fileBytes,
        weightBytes: engine.weightBytes + kernels.decodedWeightBytes(),
        workingBytes: kernels.memoryBytes(),
        check: compare(probabilities, simulated),
      };
    },
    close,
  });
}

function report(ctx: StepRunContext, entry: ModelLatency, backend: string): void {
  const suffix = entry.runtime === 'binary-engine' ? '_packed' : '';
  metric(ctx, `${entry.model.architecture}${suffix}_median_ms`, entry.medianMs);
  metric(ctx, `${entry.model.architecture}${suffix}_p95_ms`, entry.p95Ms);
  const check = entry.check ? `; ${checkText(entry.check, backend)}` : '';
  ctx.log(
    `${entry.model.label}: median ${entry.medianMs.toFixed(1)} ms, p95 ${entry.p95Ms.toFixed(1)} ms over ${entry.runs} runs, ${entry.threads} thread(s), peak RSS ${((entry.peakRssBytes ?? 0) / 2 ** 20).toFixed(0)} MiB${check}`,
  );
}

/** buildBluNet options of an untrained variant (unset: the thesis's, as buildBluNet defaults). */
function variantOptions(w: LatencyWith): BluNetOptions {
  const levels = w.levels ?? {};
  const chosen: BluNetOptions = {
    activationLevels: levels.activation,
    convLevels: levels.conv,
    depthwiseLevels: levels.depthwise,
    pointwiseLevels: levels.pointwise,
    separableBinarise: w.separable_binarise,
  };
  return Object.fromEntries(Object.entries(chosen).filter(([, v]) => v !== undefined));
}

/** "a1c1d1p1, separable binarised" for a variant; "" for the thesis's. */
function variantLabel(options: BluNetOptions): string {
  const o = resolveBluNetOptions(options);
  const levels = `a${o.activationLevels}c${o.convLevels}d${o.depthwiseLevels}p${o.pointwiseLevels}`;
  if (levels === 'a3c3d3p3' && !o.separableBinarise) return '';
  return `, ${levels}${o.separableBinarise ? ', separable binarised' : ''}`;
}

/** The models to time: the upstream steps' trained models, or untrained ones built at `thesis_width`. */
function modelSources(ctx: StepRunContext, w: LatencyWith): Array<() => Promise<StepResult<Pick<LoadedModel, 'model' | 'info'>>>> {
  const width = w.thesis_width ?? 0;
  if (width > 0) {
    const variant = variantOptions(w);
    return ARCHITECTURES.map((architecture) => async () => {
      const blu = architecture === 'blu_net';
      const built = buildModel(architecture, { baseFilters: width, ...(blu ? variant : {}) });
      if (!built.ok) return failure(built.error.message);
      const suffix = blu ? variantLabel(variant) : '';
      return ok({
        model: blu ? withGenericWeights(built.value) : built.value,
        info: { architecture, label: `${architecture} (width ${width}, untrained${suffix})`, width, stepId: ctx.spec.id },
      });
    });
  }
  return (w.models ?? []).map((ref) => () => loadUpstreamModel(ctx, ref));
}

/** A model's timers: on tfjs (unless a BLU-Net's simulation is off) and, for a BLU-Net, packed on the binary engine. */
async function timersOf(
  ctx: StepRunContext,
  loaded: Pick<LoadedModel, 'model' | 'info'>,
  w: LatencyWith,
  x: tf.Tensor,
  threads: number,
): Promise<StepResult<TimedModel[]>> {
  const blu = loaded.info.architecture === 'blu_net';
  const timers: TimedModel[] = [];
  if (!blu || w.simulation !== false) timers.push(tfjsTimer(loaded.model, loaded.info, x, threads));
  if (blu) {
    const packed = await packedTimer(ctx, loaded, w, x, threads);
    if (!packed.ok) return packed;
    timers.push(packed.value);
  }
  return ok(timers);
}

/** Loads every model and sets up its timers; on failure, releases what was set up. */
async function setUp(
  ctx: StepRunContext,
  w: LatencyWith,
  x: tf.Tensor,
  threads: number,
  held: { models: tf.LayersModel[]; timers: TimedModel[] },
): Promise<StepResult<void>> {
  for (const source of modelSources(ctx, w)) {
    const loaded = await source();
    if (!loaded.ok) return loaded;
    held.models.push(loaded.value.model);
    const timers = await timersOf(ctx, loaded.value, w, x, threads);
    if (!timers.ok) return timers;
    held.timers.push(...timers.value);
  }
  return ok(undefined);
}

export const latencyStep: StepImplementation = {
  async run(ctx): Promise<StepResult<void>> {
    const w = withOf<LatencyWith>(ctx.spec.with);
    const backend = await startBackend(ctx);
    if (!backend.ok) return backend;
    const threads = computeThreads(backend.value.threads, process.env, os.availableParallelism());
    const x = tf.randomUniform([1, w.size, w.size, 1], 0, 1, 'float32', 1);
    const held: { models: tf.LayersModel[]; timers: TimedModel[] } = { models: [], timers: [] };
    const results: ModelLatency[] = [];
    try {
      const ready = await setUp(ctx, w, x, threads, held);
      if (!ready.ok) return ready;
      const progress = (current: number, total: number) => ctx.report.progress({ label: 'round', current, total });
      const times = await timeInRounds(held.timers, w, ctx.signal, progress);
      if (ctx.signal.aborted) return failure('cancelled');
      for (const [k, timer] of [...held.timers].entries()) {
        const entry = await timer.finish(times[k] ?? []);
        results.push(entry);
        report(ctx, entry, backend.value.name);
      }
    } finally {
      // Finished timers have released theirs already (closing twice is a no-op).
      await Promise.all(held.timers.map((timer) => timer.close()));
      for (const model of held.models) model.dispose();
      x.dispose();
    }
    const file: LatencyFile = { backend: backend.value.name, size: w.size, warmup: w.warmup, models: results };
    await writeJson(ownArtifact(ctx, ARTIFACT.latency), file);
    return ok(undefined);
  },
};
