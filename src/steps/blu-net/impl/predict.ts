/** `predict` step: the model of an upstream training step segments a folder of images. */
import path from 'node:path';
import { checkTiling, listImages, openPredictor, predictImages, type Predictor } from '../../../ml/predict/index.js';
import { ok } from '../../../base/result.js';
import type { StepImplementation, StepRunContext } from '../../../runtime/kinds/kind.js';
import { ARTIFACT, withOf } from '../common.js';
import type { PredictWith } from '../predict-kind.js';
import { artifactOf, failure, ownArtifact, startBackend, upstreamsOf, writeJson, type StepResult } from './context.js';

/** The upstream model as a predictor (a BLU-Net packed for the binary engine unless `packed: false`). */
async function predictorFor(ctx: StepRunContext, w: PredictWith): Promise<StepResult<Predictor>> {
  const [upstream, ...rest] = upstreamsOf(ctx, w.model);
  if (!upstream || rest.length > 0) return failure(`expected exactly one model step '${w.model}'`);
  const dir = artifactOf(ctx, upstream, ARTIFACT.model);
  if (!dir.ok) return dir;
  const predictor = await openPredictor(dir.value, w.packed !== false);
  return predictor.ok ? predictor : failure(predictor.error.message);
}

export const predictStep: StepImplementation = {
  async run(ctx): Promise<StepResult<void>> {
    const w = withOf<PredictWith>(ctx.spec.with);
    const backend = await startBackend(ctx);
    if (!backend.ok) return backend;
    const files = await listImages([ctx.resolve(w.images)]);
    if (!files.ok) return failure(files.error);
    const predictor = await predictorFor(ctx, w);
    if (!predictor.ok) return predictor;
    const tile = w.tile ?? 512;
    const overlap = w.overlap ?? 64;
    const tiling = checkTiling(tile, overlap, predictor.value.multiple);
    if (!tiling.ok) return failure(tiling.error);
    ctx.log(`segmenting ${files.value.length} image(s) with ${predictor.value.description}`);
    const summary = await predictImages(
      predictor.value,
      files.value,
      { outDir: ownArtifact(ctx, ARTIFACT.masks), overlay: w.overlay === true, tile, overlap, scale: w.scale ?? 1 },
      (e) => {
        if (e.kind === 'failed') ctx.log(`error: ${e.error.message}`);
        else ctx.log(`${path.basename(e.file)}: ${e.tiles} tile(s), ${e.ms.toFixed(0)} ms`);
        ctx.report.progress({ label: 'image', current: e.index + 1, total: e.total });
      },
    );
    predictor.value.dispose();
    await writeJson(ownArtifact(ctx, ARTIFACT.predictions), {
      model: predictor.value.description,
      images: files.value.length,
      segmented: summary.done,
      failed: summary.failed,
    });
    if (summary.failed.length > 0)
      return failure(
        `${summary.failed.length} of ${files.value.length} image(s) could not be segmented: ${summary.failed.map((f) => f.message).join('; ')}`,
      );
    return ok(undefined);
  },
};
