/** `latency`: batch-1 inference latency per model (median, p95 after warm-up) on the active backend. */
import * as tf from '@tensorflow/tfjs';
import { ok } from '../../../runtime/result.js';
import type { StepImplementation, StepRunContext } from '../../kind.js';
import { ARTIFACT, withOf, type ModelInfo } from '../common.js';
import type { LatencyWith } from '../measure-kinds.js';
import { metric, ownArtifact, startBackend, writeJson, type StepResult } from './context.js';
import { loadUpstreamModel } from './models-io.js';

export interface ModelLatency {
  readonly model: ModelInfo;
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

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
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

async function measure(ctx: StepRunContext, model: tf.LayersModel, w: LatencyWith): Promise<number[]> {
  const x = tf.randomUniform([1, w.size, w.size, 1], 0, 1, 'float32', 1);
  for (let i = 0; i < w.warmup; i++) await timeOnce(model, x);
  const times: number[] = [];
  for (let i = 0; i < w.runs && !ctx.signal.aborted; i++) times.push(await timeOnce(model, x));
  x.dispose();
  return times.sort((a, b) => a - b);
}

export const latencyStep: StepImplementation = {
  async run(ctx): Promise<StepResult<void>> {
    const w = withOf<LatencyWith>(ctx.spec.with);
    const backend = await startBackend(ctx);
    if (!backend.ok) return backend;
    const results: ModelLatency[] = [];
    for (const [i, ref] of w.models.entries()) {
      const loaded = await loadUpstreamModel(ctx, ref);
      if (!loaded.ok) return loaded;
      const times = await measure(ctx, loaded.value.model, w);
      if (ctx.signal.aborted) return { ok: false, error: { message: 'cancelled' } };
      loaded.value.model.dispose();
      const entry: ModelLatency = {
        model: loaded.value.info,
        runs: times.length,
        medianMs: percentile(times, 50),
        p95Ms: percentile(times, 95),
        meanMs: times.reduce((a, b) => a + b, 0) / times.length,
        minMs: times[0] ?? Number.NaN,
      };
      results.push(entry);
      metric(ctx, `${entry.model.architecture}_median_ms`, entry.medianMs);
      metric(ctx, `${entry.model.architecture}_p95_ms`, entry.p95Ms);
      ctx.log(`${entry.model.label}: median ${entry.medianMs.toFixed(1)} ms, p95 ${entry.p95Ms.toFixed(1)} ms over ${entry.runs} runs`);
      ctx.report.progress({ label: 'model', current: i + 1, total: w.models.length });
    }
    const file: LatencyFile = { backend: backend.value.name, size: w.size, warmup: w.warmup, models: results };
    await writeJson(ownArtifact(ctx, ARTIFACT.latency), file);
    return ok(undefined);
  },
};
