import type { JsonObject, JsonValue } from '../../base/result.js';
import type { RawStep } from '../../schemas/types.js';
import type { Diagnostic, PathSegment, SourceMap } from './diagnostics.js';
import { suggestion } from './diagnostics.js';
import { lookupPath, paramPaths } from './interpolate.js';

/** The values of every matrix key, in declaration order. */
export type MatrixAxes = Readonly<Record<string, readonly JsonValue[]>>;

/** A step whose matrix has no combinations (a `${params.…}` list is empty): it has no instances. */
export interface EmptyStep {
  readonly name: string;
  /** The matrix keys whose lists are empty, with the param each came from. */
  readonly axes: readonly { readonly key: string; readonly param: string | null }[];
}

/**
 * Where a param's value was written: the pipeline file or the overlay that set it last (its data
 * path is `['params', ...dotted path]`), or null when a `--set` gave it (no file position).
 */
export type ParamOrigin = (param: string) => SourceMap | null;

export interface MatrixContext {
  readonly params: JsonObject;
  readonly source: SourceMap;
  readonly paramOrigin?: ParamOrigin;
}

/** What a named mapping's `name` may be: it becomes part of instance ids, hence of output paths. */
export const MATRIX_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

const PARAM_REF = /^\$\{\s*params\.([A-Za-z0-9_.-]+)\s*\}$/;

/**
 * The values of every matrix key; a `${params.<path>}` key takes the list from that param. The
 * param is deliberately not part of the instances' keys (each instance has its own value in its
 * key), so adding a value to the list adds instances without invalidating the others. A value is a
 * scalar or a mapping with a `name`; a param list may be empty (the step then has no instances).
 * Undefined when a problem was reported.
 */
export function matrixAxes(
  matrix: RawStep['matrix'],
  ctx: MatrixContext,
  stepPath: PathSegment[],
  diagnostics: Diagnostic[],
): MatrixAxes | null | undefined {
  if (!matrix) return null;
  const axes: Record<string, readonly JsonValue[]> = {};
  let bad = false;
  for (const [key, values] of Object.entries(matrix)) {
    const keyPath = [...stepPath, 'matrix', key];
    const list = axisValues(key, values as JsonValue, ctx, keyPath, diagnostics);
    if (list === undefined) bad = true;
    else axes[key] = list;
  }
  return bad ? undefined : axes;
}

function axisValues(
  key: string,
  values: JsonValue,
  ctx: MatrixContext,
  keyPath: PathSegment[],
  diagnostics: Diagnostic[],
): readonly JsonValue[] | undefined {
  const at = valuesWrittenAt(values, ctx, keyPath);
  if (typeof values !== 'string') return checkValues(`matrix '${key}'`, values as readonly JsonValue[], at, [], diagnostics);
  const param = PARAM_REF.exec(values)?.[1] ?? '';
  const list = lookupPath(ctx.params, param);
  if (!Array.isArray(list)) {
    const what =
      list === undefined
        ? `unknown param '${param}'${suggestion(param, paramPaths(ctx.params))}`
        : `param '${param}' must be a list of distinct strings, numbers, booleans or mappings with a 'name' (it is ${JSON.stringify(list)})`;
    diagnostics.push(ctx.source.diagnostic('BLU_BAD_MATRIX', `matrix '${key}': ${what}`, keyPath));
    return undefined;
  }
  // A bad value is shown where it was written (the pipeline's or an overlay's params), and the
  // matrix that uses it as a related position.
  const matrixAt = ctx.source.diagnostic('', '', keyPath);
  const related = [{ message: `used by matrix '${key}' here`, file: matrixAt.file, line: matrixAt.line, col: matrixAt.col }];
  const bySet = at(0).note !== undefined;
  return checkValues(`matrix '${key}' (params.${param})`, list, at, bySet ? [] : related, diagnostics);
}

interface WhereAt {
  readonly source: SourceMap;
  readonly path: PathSegment[];
  readonly note?: string;
}

/**
 * Where value `i` of a matrix list (and its `field`) was written: inline in the step, or in the
 * params of the pipeline or an overlay for a `${params.…}` list; for a list `--set` gave, the
 * matrix itself, with a note saying so.
 */
function valuesWrittenAt(
  written: JsonValue | undefined,
  ctx: MatrixContext,
  keyPath: PathSegment[],
): (i: number, field?: string) => WhereAt {
  const tail = (i: number, field?: string): PathSegment[] => [i, ...(field ? [field] : [])];
  if (typeof written !== 'string') return (i, field) => ({ source: ctx.source, path: [...keyPath, ...tail(i, field)] });
  const param = PARAM_REF.exec(written)?.[1] ?? '';
  const origin = ctx.paramOrigin ? ctx.paramOrigin(param) : ctx.source;
  if (origin === null) return () => ({ source: ctx.source, path: keyPath, note: ' (the list is given by --set)' });
  return (i, field) => ({ source: origin, path: ['params', ...param.split('.'), ...tail(i, field)] });
}

/**
 * Every value must be a scalar or a mapping with a valid `name`, and their labels (the scalar as
 * text, or the name) distinct: labels make the instance ids. Reports every bad value.
 */
function checkValues(
  what: string,
  list: readonly JsonValue[],
  at: (i: number, field?: string) => WhereAt,
  related: NonNullable<Diagnostic['related']>,
  diagnostics: Diagnostic[],
): readonly JsonValue[] | undefined {
  const seen = new Map<string, number>();
  let bad = false;
  const report = (i: number, field: string | undefined, message: string): void => {
    const where = at(i, field);
    const d = where.source.diagnostic('BLU_BAD_MATRIX', `${what}, value ${i + 1}: ${message}${where.note ?? ''}`, where.path);
    diagnostics.push(related.length > 0 ? { ...d, related } : d);
    bad = true;
  };
  list.forEach((value, i) => {
    const label = valueLabel(value);
    if (!label.ok) return report(i, label.field, label.message);
    const first = seen.get(label.label);
    if (first !== undefined)
      return report(i, isMapping(value) ? 'name' : undefined, `'${label.label}' repeats value ${first + 1}; values must be distinct`);
    seen.set(label.label, i);
  });
  return bad ? undefined : list;
}

function isMapping(value: JsonValue | undefined): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

type Label = { ok: true; label: string } | { ok: false; field?: string; message: string };

function valueLabel(value: JsonValue): Label {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return { ok: true, label: String(value) };
  if (!isMapping(value))
    return { ok: false, message: `must be a string, number, boolean or a mapping with a 'name' (it is ${JSON.stringify(value)})` };
  const name = value.name;
  if (name === undefined) return { ok: false, message: `a mapping needs a 'name' (it names the instances, e.g. name: sep_a3)` };
  if (typeof name !== 'string' || !MATRIX_NAME.test(name))
    return {
      ok: false,
      field: 'name',
      message: `name ${JSON.stringify(name)} must be letters, digits, '_', '.' or '-' (not first: '.' or '-'), as it becomes part of instance ids`,
    };
  return { ok: true, label: name };
}

/** Every combination of the axes; one null combination for a step without a matrix, none when a list is empty. */
export function expandMatrix(matrix: MatrixAxes | null): (Record<string, JsonValue> | null)[] {
  if (!matrix) return [null];
  let combos: Record<string, JsonValue>[] = [{}];
  for (const [key, values] of Object.entries(matrix)) {
    combos = combos.flatMap((combo) => values.map((v) => ({ ...combo, [key]: v })));
  }
  return combos;
}

/** The matrix keys with empty lists, and their params, for a step that has no instances. */
export function emptyAxes(raw: RawStep['matrix'], axes: MatrixAxes): EmptyStep['axes'] {
  return Object.entries(axes)
    .filter(([, values]) => values.length === 0)
    .map(([key]) => {
      const written = raw?.[key];
      return { key, param: typeof written === 'string' ? (PARAM_REF.exec(written)?.[1] ?? null) : null };
    });
}

export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/**
 * Where value `index` of matrix key `key` was written (see valuesWrittenAt), or the part of it at
 * `inside` (its nearest written ancestor); null when `--set` gave the list.
 */
export function matrixValueAt(
  matrix: RawStep['matrix'],
  key: string,
  index: number,
  ctx: MatrixContext,
  stepPath: PathSegment[],
  inside: readonly PathSegment[] = [],
): SourcePosition | null {
  const where = valuesWrittenAt(matrix?.[key] as JsonValue | undefined, ctx, [...stepPath, 'matrix', key])(index);
  if (where.note !== undefined) return null;
  const { file, line, col } = where.source.diagnostic('', '', [...where.path, ...inside]);
  return { file, line, col };
}

/** A matrix value as instance ids show it: a mapping as its `name`. */
export function idLabel(value: JsonValue | undefined): string {
  return isMapping(value) ? String(value.name) : String(value);
}

/** `name@k=v,…`; a mapping value appears as its `name`. */
export function instanceId(name: string, matrix: Readonly<Record<string, JsonValue>> | null): string {
  if (!matrix) return name;
  return `${name}@${Object.entries(matrix)
    .map(([k, v]) => `${k}=${idLabel(v)}`)
    .join(',')}`;
}

/** `binarise_variant: no instances (matrix 'variant' is params.variant_list, which is empty)`, for status, dag and targets. */
export function describeEmptyStep(step: EmptyStep): string {
  const lists = step.axes.map((a) => `matrix '${a.key}'${a.param === null ? '' : ` is params.${a.param}, which`} is empty`);
  return `${step.name}: no instances (${lists.join('; ')})`;
}
