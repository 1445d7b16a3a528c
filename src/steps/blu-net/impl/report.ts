/** `report`: the results table (markdown + JSON) from every evaluation, the sizes and the latencies. */
import { writeFile } from 'node:fs/promises';
import { ok } from '../../../base/result.js';
import type { StepImplementation, StepRunContext } from '../../../runtime/kinds/kind.js';
import { ARTIFACT, withOf } from '../common.js';
import type { ReportWith } from '../measure-kinds.js';
import {
  artifactOf,
  failure,
  isRecord,
  metric,
  ownArtifact,
  readJson,
  upstreamArtifact,
  upstreamsOf,
  writeJson,
  type StepResult,
} from './context.js';
import type { EvaluationFile } from './evaluate.js';
import type { LatencyFile } from './latency.js';
import { figureSvg, writePng } from './figure.js';
import { curvesSvg } from './figure-curves.js';
import { compareModels } from './report-fair.js';
import { renderResults, sizeOfModel, THESIS_MODELS } from './report-table.js';
import { summariseSeeds } from './seed-summary.js';
import type { SizeFile } from './size.js';
import { titleOnData } from './title.js';

const isEvaluation = (v: unknown): v is EvaluationFile =>
  isRecord(v) && isRecord(v.model) && typeof v.meanIou === 'number' && Array.isArray(v.perImage);
const isSize = (v: unknown): v is SizeFile => isRecord(v) && Array.isArray(v.trained) && Array.isArray(v.thesisWidth);
const isLatency = (v: unknown): v is LatencyFile => isRecord(v) && typeof v.backend === 'string' && Array.isArray(v.models);

async function readEvaluations(ctx: StepRunContext, refs: readonly string[]): Promise<StepResult<EvaluationFile[]>> {
  const out: EvaluationFile[] = [];
  for (const upstream of refs.flatMap((r) => upstreamsOf(ctx, r))) {
    const file = artifactOf(ctx, upstream, ARTIFACT.eval);
    if (!file.ok) return file;
    const evaluation = await readJson(file.value, isEvaluation);
    if (!evaluation.ok) return evaluation;
    out.push(evaluation.value);
  }
  return out.length > 0 ? ok(out) : failure(`no evaluations found for ${refs.join(', ')}`);
}

async function readOne<T>(ctx: StepRunContext, ref: string, name: string, guard: (v: unknown) => v is T): Promise<StepResult<T>> {
  const file = upstreamArtifact(ctx, ref, name);
  if (!file.ok) return file;
  return readJson(file.value, guard);
}

/** Merges the accounts of several size steps (e.g. trained models and the thesis width). */
async function readSizes(ctx: StepRunContext, refs: readonly string[]): Promise<StepResult<SizeFile>> {
  const merged: {
    trained: SizeFile['trained'][number][];
    thesisWidth: SizeFile['thesisWidth'][number][];
    packedCheck: SizeFile['packedCheck'];
  } = { trained: [], thesisWidth: [], packedCheck: null };
  for (const ref of refs) {
    const size = await readOne(ctx, ref, ARTIFACT.size, isSize);
    if (!size.ok) return size;
    merged.trained.push(...size.value.trained);
    merged.thesisWidth.push(...size.value.thesisWidth);
    merged.packedCheck = merged.packedCheck ?? size.value.packedCheck;
  }
  return ok(merged);
}

export const reportStep: StepImplementation = {
  async run(ctx) {
    const w = withOf<ReportWith>(ctx.spec.with);
    const title = await titleOnData(ctx, w, 'BLU-Net results');
    if (!title.ok) return title;
    const evaluations = await readEvaluations(ctx, w.evaluations);
    if (!evaluations.ok) return evaluations;
    const size = await readSizes(ctx, w.sizes);
    if (!size.ok) return size;
    const latency = await readOne(ctx, w.latency, ARTIFACT.latency, isLatency);
    if (!latency.ok) return latency;
    const latencyThesis = w.latency_thesis !== undefined ? await readOne(ctx, w.latency_thesis, ARTIFACT.latency, isLatency) : undefined;
    if (latencyThesis !== undefined && !latencyThesis.ok) return latencyThesis;
    const input = {
      title: title.value,
      params: w.params ?? ctx.spec.params,
      evaluations: evaluations.value,
      size: size.value,
      latency: latency.value,
      ...(latencyThesis !== undefined ? { latencyThesis: latencyThesis.value } : {}),
    };
    const models = summariseSeeds(input.evaluations);
    const points = models.flatMap((summary) => {
      const mib = sizeOfModel(input.size, summary)?.mib;
      return mib === undefined ? [] : [{ label: summary.label, mib, summary }];
    });
    const comparisons = compareModels(input.evaluations);
    await writePng(ownArtifact(ctx, ARTIFACT.figure), figureSvg(input.title, points, THESIS_MODELS));
    await writePng(
      ownArtifact(ctx, ARTIFACT.curves),
      curvesSvg(
        input.title,
        input.evaluations,
        models.map((m) => m.label),
      ),
    );
    await writeFile(ownArtifact(ctx, ARTIFACT.results), renderResults(input, ARTIFACT.figure, ARTIFACT.curves));
    await writeJson(ownArtifact(ctx, ARTIFACT.resultsJson), { ...input, models, comparisons });
    const headline = comparisons.find((c) => c.a === 'BLU-Net (from distilled lw_unet)' && c.b === 'U-Net');
    if (headline) {
      metric(ctx, 'blu_net_minus_unet_iou', headline.interval.mean);
      metric(ctx, 'blu_net_minus_unet_iou_low', headline.interval.low);
      metric(ctx, 'blu_net_minus_unet_iou_high', headline.interval.high);
    }
    for (const c of comparisons)
      ctx.log(
        `${c.a} − ${c.b}: ${(100 * c.interval.mean).toFixed(1)} points [${(100 * c.interval.low).toFixed(1)}, ${(100 * c.interval.high).toFixed(1)}]: ${c.claim}`,
      );
    for (const m of models) {
      const name = m.label
        .replace(/[^A-Za-z0-9]+/g, '_')
        .replace(/^_|_$/g, '')
        .toLowerCase();
      metric(ctx, `${name}_test_iou_mean`, m.iou.mean);
      if (Number.isFinite(m.iou.std)) metric(ctx, `${name}_test_iou_std`, m.iou.std);
    }
    return ok(undefined);
  },
};
