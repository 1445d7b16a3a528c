/** The title of an aggregating step's outputs, naming the data set they are on (report, pareto). */
import { ok } from '../../../base/result.js';
import type { StepRunContext } from '../../../runtime/kinds/kind.js';
import { ARTIFACT } from '../common.js';
import { isRecord, readJson, upstreamArtifact, type StepResult } from './context.js';
import { datasetName, type DatasetSummary } from './report-fair.js';

const isSummary = (v: unknown): v is DatasetSummary => isRecord(v) && typeof v.source === 'string';

/** `title` (or `fallback`), plus " on <data set>" when `data` names the dataset step. */
export async function titleOnData(
  ctx: StepRunContext,
  w: { readonly title?: string; readonly data?: string },
  fallback: string,
): Promise<StepResult<string>> {
  const title = w.title ?? fallback;
  if (w.data === undefined) return ok(title);
  const file = upstreamArtifact(ctx, w.data, ARTIFACT.summary);
  if (!file.ok) return file;
  const summary = await readJson(file.value, isSummary);
  if (!summary.ok) return summary;
  return ok(`${title} on ${datasetName(summary.value)}`);
}
