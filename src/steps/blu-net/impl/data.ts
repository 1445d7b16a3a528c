/** Loads the dataset artifact of an upstream `dataset` step. */
import { loadDataset, type DatasetSplit } from '../../../ml/data/index.js';
import { ok } from '../../../base/result.js';
import type { StepRunContext } from '../../../runtime/kinds/kind.js';
import { ARTIFACT } from '../common.js';
import { failure, upstreamArtifact, type StepResult } from './context.js';

export async function loadUpstreamData(ctx: StepRunContext, ref: string): Promise<StepResult<DatasetSplit>> {
  const dir = upstreamArtifact(ctx, ref, ARTIFACT.data);
  if (!dir.ok) return dir;
  const split = await loadDataset(dir.value, { layout: 'split-folders' });
  if (!split.ok) return failure(split.error.message);
  ctx.log(`data: ${split.value.train.length} train, ${split.value.validation.length} validation, ${split.value.test.length} test images`);
  return ok(split.value);
}
