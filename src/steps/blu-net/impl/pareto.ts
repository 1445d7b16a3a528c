/** `pareto`: reads the evaluations and latencies, writes pareto.md, pareto.json and the figure (thin I/O). */
import { writeFile } from 'node:fs/promises';
import { ok } from '../../../base/result.js';
import type { StepImplementation, StepRunContext } from '../../../runtime/kinds/kind.js';
import { ARTIFACT, withOf } from '../common.js';
import { PARETO_ARTIFACT } from '../pareto-artifacts.js';
import type { ParetoWith } from '../pareto-kind.js';
import { artifactOf, isRecord, metric, ownArtifact, readJson, upstreamsOf, writeJson, type StepResult } from './context.js';
import type { EvaluationFile } from './evaluate.js';
import { writePng } from './figure.js';
import { paretoSvg } from './figure-pareto.js';
import type { LatencyFile } from './latency.js';
import type { LatencySource } from './pareto-match.js';
import { renderPareto } from './pareto-render.js';
import { paretoTable, slug, type ParetoTable } from './pareto-table.js';
import { titleOnData } from './title.js';

const isEvaluation = (v: unknown): v is EvaluationFile =>
  isRecord(v) && isRecord(v.model) && typeof v.model.stepId === 'string' && typeof v.meanIou === 'number' && Array.isArray(v.perImage);
const isLatency = (v: unknown): v is LatencyFile => isRecord(v) && typeof v.backend === 'string' && Array.isArray(v.models);

/** Artifact `name` of every instance of every ref (a name with no instances reads nothing). */
async function readAll<T>(
  ctx: StepRunContext,
  refs: readonly string[],
  name: string,
  guard: (v: unknown) => v is T,
): Promise<StepResult<{ stepId: string; file: T }[]>> {
  const out: { stepId: string; file: T }[] = [];
  for (const upstream of refs.flatMap((r) => upstreamsOf(ctx, r))) {
    const file = artifactOf(ctx, upstream, name);
    if (!file.ok) return file;
    const value = await readJson(file.value, guard);
    if (!value.ok) return value;
    out.push({ stepId: upstream.stepId, file: value.value });
  }
  return ok(out);
}

function report(ctx: StepRunContext, table: ParetoTable): void {
  for (const r of table.rows) {
    const name = slug(r.label);
    if (Number.isFinite(r.iou.mean)) metric(ctx, `${name}_test_iou_mean`, r.iou.mean);
    if (r.width64 !== null) metric(ctx, `${name}_latency64_ms`, r.width64.medianMs);
    if (r.speedupVsUnet !== null) metric(ctx, `${name}_speedup_vs_unet`, r.speedupVsUnet);
  }
  for (const m of table.missing) ctx.log(`missing: ${m}`);
  ctx.log(
    `Pareto front: ${
      table.rows
        .filter((r) => r.onFront)
        .map((r) => r.label)
        .join(', ') || 'none'
    }`,
  );
}

export const paretoStep: StepImplementation = {
  async run(ctx) {
    const w = withOf<ParetoWith>(ctx.spec.with);
    const title = await titleOnData(ctx, w, 'BLU-Net speed and accuracy');
    if (!title.ok) return title;
    const evaluations = await readAll(ctx, w.evaluations, ARTIFACT.eval, isEvaluation);
    if (!evaluations.ok) return evaluations;
    const latency: StepResult<LatencySource[]> = await readAll(ctx, w.latency, ARTIFACT.latency, isLatency);
    if (!latency.ok) return latency;
    const latencyThesis: StepResult<LatencySource[]> = await readAll(ctx, w.latency_thesis, ARTIFACT.latency, isLatency);
    if (!latencyThesis.ok) return latencyThesis;
    const table = paretoTable({
      evaluations: evaluations.value.map((e) => e.file),
      latency: latency.value,
      latencyThesis: latencyThesis.value,
      variants: w.variants ?? [],
      ...(w.training !== undefined ? { training: w.training } : {}),
    });
    // JSON first: writeJson creates the artifact folder.
    await writeJson(ownArtifact(ctx, PARETO_ARTIFACT.json), { title: title.value, ...table });
    await writePng(ownArtifact(ctx, PARETO_ARTIFACT.figure), paretoSvg(title.value, table.rows));
    await writeFile(ownArtifact(ctx, PARETO_ARTIFACT.table), renderPareto(title.value, table, PARETO_ARTIFACT.figure));
    report(ctx, table);
    return ok(undefined);
  },
};
