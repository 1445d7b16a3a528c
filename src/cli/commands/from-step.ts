/**
 * `predict --from <pipeline.yaml>:<step>`: the saved model of one step instance, resolved with the
 * same experiment (-e/--set) as `run`, so matrix instances, `measure_seed` and params are the ones
 * that run used. A step name with several instances means the `measure_seed` one when the pipeline
 * has that param, else the instances are listed to choose from.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { err, ok, type Result } from '../../base/result.js';
import { formatDiagnostic } from '../../runtime/load/diagnostics.js';
import { loadPipeline } from '../../runtime/load/load.js';
import { lockRefFor, readLockSection } from '../../runtime/plan/lockfile.js';
import type { Pipeline, StepInstance } from '../../runtime/pipeline.js';
import { builtinRegistry } from '../../steps/registry.js';

export interface FromStepOptions {
  readonly cwd: string;
  readonly overlays: readonly string[];
  readonly sets: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface ModelOfStep {
  readonly dir: string;
  /** Said on stderr: which instance a bare step name resolved to. */
  readonly note: string | null;
}

export async function modelFromStep(spec: string, o: FromStepOptions): Promise<Result<ModelOfStep, string>> {
  const colon = spec.lastIndexOf(':');
  if (colon <= 0 || colon === spec.length - 1) return err(`--from expects <pipeline.yaml>:<step>, got '${spec}'`);
  const file = spec.slice(0, colon);
  const wanted = spec.slice(colon + 1);
  if (!existsSync(path.resolve(o.cwd, file))) return err(`--from: pipeline file ${file} not found`);
  const loaded = await loadPipeline({ file, cwd: o.cwd, overlays: o.overlays, sets: o.sets, registry: builtinRegistry(), env: o.env });
  if (!loaded.ok) return err(`--from: ${file} does not load:\n${loaded.error.map(formatDiagnostic).join('\n')}`);
  const pipeline = loaded.value;
  const candidates = pipeline.steps.filter((s) => s.id === wanted || s.name === wanted);
  // A step that declares its outputs and none is a model (evaluate, report) has nothing to predict with.
  if (candidates.length > 0 && candidates.every((s) => s.outs.length > 0 && modelOut(s) === undefined)) {
    return err(`--from: step '${wanted}' saves no model (its outputs: ${candidates[0]!.outs.map((out) => out.path).join(', ')})`);
  }
  const instance = pickInstance(pipeline, wanted, file);
  if (!instance.ok) return instance;
  const { step, note } = instance.value;
  const rel = modelOut(step) ?? `artifacts/${step.id.replace(/[^A-Za-z0-9_.-]+/g, '_')}/model`;
  const dir = path.join(pipeline.projectDir, rel);
  if (existsSync(path.join(dir, 'model.json'))) return ok({ dir, note });
  return err(await notThere(pipeline, step, path.relative(o.cwd, dir) || dir, file, o));
}

/** The declared output a step saves its model in (`…/model`), if any. */
function modelOut(step: StepInstance): string | undefined {
  return step.outs.map((out) => out.path).find((p) => path.posix.basename(p) === 'model');
}

function pickInstance(pipeline: Pipeline, wanted: string, file: string): Result<{ step: StepInstance; note: string | null }, string> {
  const exact = pipeline.steps.find((s) => s.id === wanted);
  if (exact) return ok({ step: exact, note: null });
  const named = pipeline.steps.filter((s) => s.name === wanted);
  if (named.length === 0) return err(`--from: ${file} has no step '${wanted}'`);
  if (named.length === 1) return ok({ step: named[0]!, note: null });
  const seed = pipeline.params.measure_seed;
  const measured = named.filter((s) => s.matrix !== null && s.matrix.seed === seed && Object.keys(s.matrix).length === 1);
  if (seed !== undefined && measured.length === 1) {
    const others = named
      .filter((s) => s !== measured[0])
      .map((s) => s.id)
      .join(', ');
    return ok({
      step: measured[0]!,
      note: `--from: '${wanted}' has ${named.length} instances; using ${measured[0]!.id} (measure_seed ${JSON.stringify(seed)}); others: ${others}`,
    });
  }
  return err(
    `--from: step '${wanted}' has ${named.length} instances; name one, e.g. ${file}:${named[0]!.id}. Instances: ${named.map((s) => s.id).join(', ')}`,
  );
}

/** Why the model is absent, and the command that makes it (or brings it back), never "run it" for what ran. */
async function notThere(pipeline: Pipeline, step: StepInstance, shown: string, file: string, o: FromStepOptions): Promise<string> {
  const experiment = [...o.overlays.flatMap((e) => ['-e', e]), ...o.sets.flatMap((s) => ['--set', s])].join(' ');
  const command = `blu-pipe run ${file}${experiment ? ` ${experiment}` : ''} ${step.id}`;
  const ref = lockRefFor(pipeline);
  const recorded = (await readLockSection(ref)).steps[step.id];
  if (recorded) {
    const lock = path.relative(o.cwd, ref.file) || ref.file;
    return `--from: step '${step.id}' ran (${lock} records run ${recorded.runId}), but its model is not at ${shown}; '${command}' restores it from the cache (or recomputes it where this cache lacks it)`;
  }
  return `--from: step '${step.id}' has no saved model at ${shown}; run '${command}' first`;
}
