import path from 'node:path';
import type { RawOutput, RawPipeline, RawStep } from '../../schemas/types.js';
import type { StepKindRegistry } from '../kinds/kind.js';
import type { Diagnostic, PathSegment, SourceMap } from './diagnostics.js';
import { suggestion } from './diagnostics.js';
import { parseDuration } from '../durations.js';
import type { InterpolationError, Scope } from './interpolate.js';
import { interpolateValue, lookupPath, paramPaths, resolveRef, wholeReference } from './interpolate.js';
import type { StepInstance } from '../pipeline.js';
import type { JsonObject, JsonValue } from '../../base/result.js';
import { checkSchema, type RelatedOf } from './schema-check.js';
import type { OutputDecl, StepResources } from '../step-spec.js';
import { splitWords } from './words.js';
import { linkInstances } from './link.js';
import { ValidationMemo } from './validation-memo.js';
import type { EmptyStep, ParamOrigin } from './matrix.js';
import { emptyAxes, expandMatrix, idLabel, instanceId, matrixAxes, matrixValueAt, type SourcePosition } from './matrix.js';

export interface ResolveContext {
  readonly params: JsonObject;
  readonly projectDir: string;
  readonly registry: StepKindRegistry;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly source: SourceMap;
  readonly memo: ValidationMemo;
  /** Where each param was written, to place errors in its values (default: the pipeline file). */
  readonly paramOrigin?: ParamOrigin;
  /** The `--set` that wrote a param, when one did (it has no file position). */
  readonly setOf?: (param: string) => string | undefined;
}

/** Expands matrices, interpolates, applies step kinds' declarations and links `needs:`. */
export function resolveSteps(
  raw: RawPipeline,
  ctx: ResolveContext,
): { steps: StepInstance[]; emptySteps: EmptyStep[]; diagnostics: Diagnostic[] } {
  const drafts: Draft[] = [];
  const emptySteps: EmptyStep[] = [];
  const diagnostics: Diagnostic[] = [];
  const unresolved = new Set<string>();
  for (const [name, step] of Object.entries(raw.steps)) {
    const stepPath = ['steps', name];
    if ((step.run === undefined) === (step.uses === undefined)) {
      diagnostics.push(
        ctx.source.diagnostic('BLU_STEP_KIND', `step '${name}' needs exactly one of 'run' (a command) or 'uses' (a step kind)`, stepPath, {
          key: true,
        }),
      );
      continue;
    }
    if (step.with !== undefined && step.uses === undefined) {
      diagnostics.push(
        ctx.source.diagnostic(
          'BLU_WITH_WITHOUT_USES',
          `'with' only applies to 'uses:' steps; pass values to a 'run:' command as arguments`,
          [...stepPath, 'with'],
          { key: true },
        ),
      );
      continue;
    }
    const axes = matrixAxes(step.matrix, ctx, stepPath, diagnostics);
    if (axes === undefined) continue; // reported
    const combos = expandMatrix(axes);
    if (combos.length === 0 && axes) emptySteps.push({ name, axes: emptyAxes(step.matrix, axes) });
    for (const matrix of combos) {
      const valueAt = (key: string, inside?: readonly PathSegment[]) =>
        matrixValueAt(step.matrix, key, axes?.[key]?.indexOf(matrix?.[key] ?? null) ?? -1, ctx, stepPath, inside);
      const draft = resolveInstance(name, step, matrix, raw, ctx, diagnostics, valueAt);
      if (draft) drafts.push(draft);
      else unresolved.add(instanceId(name, matrix));
    }
  }
  // Every declared name links: a step without instances (an empty matrix list, or one whose problems
  // are reported above) is an empty set to the steps that need it, not an unknown step; nor is an
  // instance whose problems are reported above.
  const linked = linkInstances(drafts, ctx, Object.keys(raw.steps), unresolved);
  return { steps: linked.steps, emptySteps, diagnostics: dedupe([...diagnostics, ...linked.diagnostics]) };
}

/**
 * For a `with:` value that is one whole reference (`train: ${matrix.variant.train ?? params.binarise}`),
 * where the part of it a schema problem is about was written: in the matrix value or the param
 * (an overlay, say) that supplied it, since the problem's own position is the reference.
 */
function valueOrigins(raw: RawStep['with'], r: InstanceResolver, ctx: ResolveContext): RelatedOf {
  return ([key, ...inside]) => {
    const text = raw !== null && typeof raw === 'object' && !Array.isArray(raw) && typeof key === 'string' ? raw[key] : undefined;
    const ref = typeof text === 'string' ? wholeReference(text) : undefined;
    if (ref === undefined) return null;
    const { value, from } = resolveRef(ref, r.scope, ctx.env);
    if (value === undefined || from.scope === 'env') return null;
    const [head = '', ...field] = from.path.split('.');
    if (from.scope === 'matrix') {
      const at = r.valueAt(head, [...field, ...inside]);
      return at && { ...at, message: `the value comes from matrix '${head}' (${idLabel(r.scope.matrix[head])}), written here` };
    }
    // The bad part's own path: an overlay or --set may have written only it.
    const exact = [from.path, ...inside].join('.');
    const origin = ctx.paramOrigin ? ctx.paramOrigin(exact) : ctx.source;
    if (origin === null) {
      const item = ctx.setOf?.(exact);
      return item === undefined ? null : { file: `--set ${item}`, line: 0, col: 0, message: 'the value comes from this --set' };
    }
    const { file, line, col } = origin.diagnostic('', '', ['params', ...from.path.split('.'), ...inside]);
    return { file, line, col, message: `the value comes from params.${exact}, written here` };
  };
}

/** A resolved instance before `needs:` are linked to instance ids. */
export interface Draft extends Omit<StepInstance, 'needs' | 'needsAt'> {
  readonly needNames: readonly { readonly text: string; readonly path: PathSegment[] }[];
}

class InstanceResolver {
  readonly used = new Set<string>();
  constructor(
    readonly scope: Scope,
    readonly ctx: ResolveContext,
    readonly stepPath: PathSegment[],
    readonly diagnostics: Diagnostic[],
    /** Where the instance's value of a matrix key (or the part of it at `inside`) was written. */
    readonly valueAt: (key: string, inside?: readonly PathSegment[]) => SourcePosition | null = () => null,
  ) {}

  value(value: JsonValue, rel: PathSegment[]): JsonValue {
    const r = interpolateValue(value, this.scope, this.ctx.env, this.used);
    for (const { path: at, error } of r.errors) this.report([...this.stepPath, ...rel, ...at], error);
    return r.value;
  }

  string(value: string, rel: PathSegment[]): string {
    const out = this.value(value, rel);
    return typeof out === 'string' ? out : JSON.stringify(out);
  }

  report(at: PathSegment[], error: InterpolationError): void {
    const raw = this.ctx.source.rawText(at) ?? '';
    const needle = error.kind === 'bad-syntax' || error.kind === 'unclosed' ? error.text : `\${${error.ref.scope}.${error.ref.path}`;
    const found = raw.indexOf(needle);
    // An alternative after `??` has no `${` of its own.
    const alternative = found < 0 && error.kind === 'unknown-reference' ? raw.indexOf(`${error.ref.scope}.${error.ref.path}`) : -1;
    const offset = Math.max(0, found >= 0 ? found : alternative);
    const missing = error.kind === 'unknown-reference' ? this.missingField(error.ref.path) : undefined;
    const message =
      missing?.message ??
      (error.kind === 'unclosed'
        ? `unclosed '\${' in '${error.text}': end the reference with '}' (or write $\${ for a literal \${)`
        : error.kind === 'bad-syntax'
          ? `bad reference '${error.text}': write \${params.<path>}, \${matrix.<key>} or \${env.<NAME>}, or alternatives as in \${matrix.<key> ?? params.<path>} (or $\${ for a literal \${)`
          : error.kind === 'not-scalar'
            ? `'\${${error.ref.scope}.${error.ref.path}}' is a list or map and cannot be placed inside a string${error.ref.scope === 'matrix' ? ` (a named matrix value's name is \${${error.ref.scope}.${error.ref.path}.name})` : ''}`
            : `unknown ${error.ref.scope === 'params' ? 'param' : error.ref.scope === 'matrix' ? 'matrix key' : 'environment variable'} '${error.ref.path}'${suggestion(error.ref.path, error.candidates)}`);
    const d = this.ctx.source.diagnostic('BLU_BAD_REFERENCE', message, at, { offsetInValue: offset });
    this.diagnostics.push(missing?.related ? { ...d, related: [missing.related] } : d);
  }

  /** For `${matrix.variant.x}` where the variant is a named mapping without `x`: which value lacks what, and what it has. */
  missingField(refPath: string): { message: string; related?: NonNullable<Diagnostic['related']>[number] } | undefined {
    const [key = '', ...field] = refPath.split('.');
    const value = this.scope.matrix[key];
    if (field.length === 0 || value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const name = field.join('.');
    const label = idLabel(value);
    const message = `matrix '${key}': value '${label}' has no '${name}'${suggestion(name, paramPaths(value))}; it has ${Object.keys(value).join(', ')}`;
    const at = this.valueAt(key);
    return at === null ? { message } : { message, related: { ...at, message: `value '${label}' is written here` } };
  }
}

function resolveInstance(
  name: string,
  step: RawStep,
  matrix: Record<string, JsonValue> | null,
  raw: RawPipeline,
  ctx: ResolveContext,
  diagnostics: Diagnostic[],
  valueAt?: (key: string, inside?: readonly PathSegment[]) => SourcePosition | null,
): Draft | null {
  const stepPath: PathSegment[] = ['steps', name];
  const r = new InstanceResolver({ params: ctx.params, matrix: matrix ?? {} }, ctx, stepPath, diagnostics, valueAt);
  const id = instanceId(name, matrix);
  const command = step.run === undefined ? null : resolveCommand(step.run, r);
  const reported = diagnostics.length;
  let withValue: JsonValue = step.with === undefined ? null : r.value(step.with, ['with']);
  let deps = (step.deps ?? []).map((d, i) => r.string(d, ['deps', i]));
  let outs = (step.outs ?? []).map((o, i) => resolveOutput(o, i, r));
  let resources: StepResources = { ...(raw.defaults?.resources ?? {}), ...(step.resources ?? {}) };
  const kindNeeds: string[] = [];
  let kindVersion = '1';
  let trackedWith: JsonValue | undefined;
  if (step.uses !== undefined) {
    const kind = ctx.registry.get(step.uses);
    if (!kind) {
      diagnostics.push(
        ctx.source.diagnostic(
          'BLU_UNKNOWN_KIND',
          `unknown step kind '${step.uses}'${suggestion(step.uses, ctx.registry.names())}; known kinds: ${ctx.registry.names().join(', ')}`,
          [...stepPath, 'uses'],
        ),
      );
      return null;
    }
    // A `with:` whose references failed holds their text; its schema errors would only repeat them.
    if (diagnostics.length > reported) return null;
    withValue = withValue ?? {};
    const memoKey = ValidationMemo.key(kind.name, kind.version, withValue);
    if (!ctx.memo.has(memoKey)) {
      const problems = checkSchema(kind.withSchema, withValue, ctx.source, [...stepPath, 'with'], valueOrigins(step.with, r, ctx));
      diagnostics.push(...problems);
      if (problems.length > 0) return null;
      ctx.memo.add(memoKey);
    }
    const declared = kind.declare({ stepId: id, name, with: withValue });
    deps = [...deps, ...declared.deps];
    outs = [...outs, ...declared.outs];
    kindNeeds.push(...declared.needs);
    resources = { ...resources, ...(declared.resources ?? {}), ...(step.resources ?? {}) };
    kindVersion = kind.version;
    trackedWith = kind.effectiveWith ? kind.effectiveWith(withValue) : withValue;
  }
  for (const [i, p] of (step.params ?? []).entries()) {
    if (lookupPath(ctx.params, p) === undefined) {
      diagnostics.push(
        ctx.source.diagnostic('BLU_UNKNOWN_PARAM', `unknown param '${p}'${suggestion(p, paramPaths(ctx.params))}`, [
          ...stepPath,
          'params',
          i,
        ]),
      );
    } else r.used.add(p);
  }
  const env = resolveEnv({ ...envObject(raw.defaults?.env), ...envObject(step.env) }, ctx.env);
  const timeout = step.timeout ?? raw.defaults?.timeout;
  const needNames = [
    ...(step.needs ?? []).map((n, i) => ({ text: r.string(n, ['needs', i]), path: [...stepPath, 'needs', i] })),
    ...kindNeeds.map((n) => ({ text: n, path: [...stepPath, 'with'] })),
  ];
  const params = Object.fromEntries([...r.used].sort().map((p) => [p, lookupPath(ctx.params, p) ?? null]));
  return {
    id,
    name,
    matrix,
    kind: step.uses ?? 'run',
    kindVersion,
    command,
    with: withValue,
    params,
    trackedParams: trackedParams(matrix, trackedWith, params),
    deps: deps.map((d) => normaliseDep(d, ctx.projectDir)),
    outs: outs.map((o) => ({ ...o, path: path.posix.normalize(o.path.replace(/\\/g, '/')).replace(/\/$/, '') })),
    env: env.values,
    envKey: env.key,
    resources,
    timeoutMs: timeout === undefined ? null : parseDuration(timeout),
    retries: step.retries ?? raw.defaults?.retries ?? 0,
    cache: step.cache ?? true,
    alwaysRun: step.always_run ?? false,
    at: stepPath,
    needNames,
  };
}

/** Matrix values (`matrix.<key>`) and the used `with:` values (`with.<path>`); a `run:` step's params. */
function trackedParams(
  matrix: Record<string, JsonValue> | null,
  usedWith: JsonValue | undefined,
  params: Record<string, JsonValue>,
): Record<string, JsonValue> {
  const base: Record<string, JsonValue> = usedWith === undefined ? { ...params } : { with: usedWith };
  return matrix === null ? base : { ...base, matrix };
}

function resolveCommand(run: string | readonly (string | number)[], r: InstanceResolver): string[] {
  if (typeof run === 'string') {
    const split = splitWords(run);
    if (split.error)
      r.diagnostics.push(r.ctx.source.diagnostic('BLU_BAD_COMMAND', `cannot split the command: ${split.error}`, [...r.stepPath, 'run']));
    // Interpolate word by word so a param value with spaces stays one argument.
    return split.words.map((w) => r.string(w, ['run']));
  }
  return run.map((w, i) => r.string(String(w), ['run', i]));
}

function resolveOutput(o: RawOutput, i: number, r: InstanceResolver): OutputDecl {
  if (typeof o === 'string') return { path: r.string(o, ['outs', i]), cache: true, persist: false, track: false };
  return { path: r.string(o.path, ['outs', i, 'path']), cache: o.cache ?? true, persist: o.persist ?? false, track: o.track ?? false };
}

/**
 * Project-relative POSIX form, also for relative paths that leave the project (`../data`), so
 * keys survive moving the checkout together with its data. Only deps written as absolute paths
 * outside the project stay absolute.
 */
function normaliseDep(dep: string, projectDir: string): string {
  const abs = path.resolve(projectDir, dep);
  const rel = path.relative(projectDir, abs);
  const outside = rel.startsWith('..') || path.isAbsolute(rel);
  return outside && path.isAbsolute(dep) ? abs : rel.split(path.sep).join('/');
}

function envObject(env: RawStep['env']): Record<string, string | null> {
  if (!env) return {};
  if (Array.isArray(env)) return Object.fromEntries((env as readonly string[]).map((n) => [n, null]));
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

/** Explicit values are set; `null` means pass the variable through from the caller's environment. */
function resolveEnv(
  declared: Record<string, string | null>,
  env: Readonly<Record<string, string | undefined>>,
): { values: Record<string, string>; key: Record<string, string | null> } {
  const values: Record<string, string> = {};
  const key: Record<string, string | null> = {};
  for (const [name, value] of Object.entries(declared)) {
    const resolved = value ?? env[name] ?? null;
    key[name] = resolved;
    if (resolved !== null) values[name] = resolved;
  }
  return { values, key };
}

function dedupe(list: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const id = `${d.file}:${d.line}:${d.col}:${d.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
