import { existsSync } from 'node:fs';
import path from 'node:path';
import type { RawOverlay, RawPipeline } from '../../schemas/types.js';
import type { StepKindRegistry } from '../kinds/kind.js';
import type { Diagnostic, SourceMap } from './diagnostics.js';
import { sortDiagnostics } from './diagnostics.js';
import { detectCycles } from '../graph.js';
import { applySets, mergeOverlayParams } from './params.js';
import { kindKeysOf } from './kind-keys.js';
import type { Pipeline } from '../pipeline.js';
import { resolveSteps } from './resolve.js';
import type { JsonObject, Result } from '../../base/result.js';
import { err, ok } from '../../base/result.js';
import { checkSchema } from './schema-check.js';
import { PIPELINE_SCHEMA, OVERLAY_SCHEMA } from '../../schemas/index.js';
import { readYamlFile, rememberParsed } from './yaml-source.js';
import { ValidationMemo } from './validation-memo.js';
import { lookupPath } from './interpolate.js';
import type { ParamOrigin } from './matrix.js';

export interface LoadInput {
  readonly file: string; // as given on the command line
  readonly cwd: string;
  readonly projectDir?: string;
  readonly overlays: readonly string[];
  readonly sets: readonly string[];
  readonly registry: StepKindRegistry;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Project root: nearest ancestor of the pipeline file holding .git, package.json, blu.lock or .blu. */
export function findProjectDir(pipelineFile: string): string {
  const start = path.dirname(pipelineFile);
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (['.git', 'package.json', 'blu.lock', '.blu'].some((marker) => existsSync(path.join(dir, marker)))) return dir;
    if (path.dirname(dir) === dir) return start;
  }
}

/** The project directory a pipeline loads with: the one given, else findProjectDir's. */
export function projectDirOf(input: { readonly file: string; readonly cwd: string; readonly projectDir?: string | null }): string {
  return input.projectDir ? path.resolve(input.cwd, input.projectDir) : findProjectDir(path.resolve(input.cwd, input.file));
}

/** Reads, validates and resolves a pipeline; reports every problem at once. */
export async function loadPipeline(input: LoadInput): Promise<Result<Pipeline, Diagnostic[]>> {
  const file = path.resolve(input.cwd, input.file);
  const projectDir = projectDirOf(input);
  const parseCache = path.join(projectDir, '.blu', 'state', 'parsed');
  const parsed = await readYamlFile(file, input.file, parseCache);
  if (!parsed.ok) return parsed;
  const { source, value, cached } = parsed.value;
  const diagnostics = cached ? [] : checkSchema(PIPELINE_SCHEMA, value, source);
  if (!cached && diagnostics.length === 0) await rememberParsed(parseCache, source.text, value).catch(() => undefined);
  const overlays = await loadOverlays(input, parseCache);
  diagnostics.push(...overlays.diagnostics);
  if (diagnostics.length > 0) return err(sortDiagnostics(diagnostics));

  const raw = value as RawPipeline;
  const kindKeys = kindKeysOf(raw, input.registry);
  let params: JsonObject = raw.params ?? {};
  for (const overlay of overlays.loaded) {
    const merged = mergeOverlayParams(params, overlay.raw.params ?? {}, overlay.source, [], kindKeys);
    params = merged.params;
    diagnostics.push(...merged.diagnostics);
  }
  const set = applySets(params, input.sets, kindKeys);
  diagnostics.push(...set.diagnostics);
  params = set.params;

  const memo = await ValidationMemo.open(parseCache);
  const paramOrigin = paramOriginOf(source, overlays.loaded, input.sets);
  const resolved = resolveSteps(raw, {
    params,
    projectDir,
    registry: input.registry,
    env: input.env,
    source,
    memo,
    paramOrigin,
    setOf: (param) => setOf(input.sets, param),
  });
  if (resolved.diagnostics.length === 0) await memo.save().catch(() => undefined);
  diagnostics.push(...resolved.diagnostics);
  if (diagnostics.length === 0) diagnostics.push(...detectCycles(resolved.steps, source));
  if (diagnostics.length > 0) return err(sortDiagnostics(diagnostics));

  const experimentOverride = [...overlays.loaded].reverse().find((o) => o.raw.mlflow?.experiment)?.raw.mlflow?.experiment;
  const name = raw.name ?? path.basename(file).replace(/\.ya?ml$/, '');
  return ok({
    file,
    displayFile: input.file,
    projectDir,
    name,
    params,
    tracking: {
      experiment: experimentOverride ?? raw.mlflow?.experiment ?? name,
      trackingUri: raw.mlflow?.tracking_uri ?? null,
      enabled: raw.mlflow?.enabled ?? true,
    },
    overlays: input.overlays,
    overlayFiles: input.overlays.map((o) => path.resolve(input.cwd, o)),
    steps: resolved.steps,
    emptySteps: resolved.emptySteps,
    source,
  });
}

/**
 * The file that wrote a param's value last: a `--set` of it (or of a path around it) wins (null: no
 * position), then the last overlay that sets it, then the pipeline. Overlays replace lists whole.
 */
function paramOriginOf(
  pipeline: SourceMap,
  overlays: readonly { raw: RawOverlay; source: SourceMap }[],
  sets: readonly string[],
): ParamOrigin {
  return (param) => {
    if (setOf(sets, param) !== undefined) return null;
    const overlay = [...overlays].reverse().find((o) => lookupPath(o.raw.params ?? {}, param) !== undefined);
    return overlay?.source ?? pipeline;
  };
}

/** The last `--set` that wrote `param` or a path around or inside it. */
function setOf(sets: readonly string[], param: string): string | undefined {
  const touches = (p: string): boolean => p === param || param.startsWith(`${p}.`) || p.startsWith(`${param}.`);
  return [...sets].reverse().find((item) => touches(item.slice(0, Math.max(0, item.indexOf('='))).replace(/^params\./, '')));
}

async function loadOverlays(
  input: LoadInput,
  parseCache: string,
): Promise<{ loaded: { raw: RawOverlay; source: SourceMap }[]; diagnostics: Diagnostic[] }> {
  const loaded: { raw: RawOverlay; source: SourceMap }[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const overlay of input.overlays) {
    const parsed = await readYamlFile(path.resolve(input.cwd, overlay), overlay, parseCache);
    if (!parsed.ok) {
      diagnostics.push(...parsed.error);
      continue;
    }
    const problems = parsed.value.cached ? [] : checkSchema(OVERLAY_SCHEMA, parsed.value.value ?? {}, parsed.value.source);
    if (!parsed.value.cached && problems.length === 0)
      await rememberParsed(parseCache, parsed.value.source.text, parsed.value.value).catch(() => undefined);
    diagnostics.push(...problems);
    if (problems.length === 0) loaded.push({ raw: (parsed.value.value ?? {}) as RawOverlay, source: parsed.value.source });
  }
  return { loaded, diagnostics };
}
