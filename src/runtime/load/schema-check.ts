import { createRequire } from 'node:module';
import { ajvLib } from '../lazy-deps.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Diagnostic, PathSegment, SourceMap } from './diagnostics.js';
import { suggestion } from './diagnostics.js';
import { AJV_OPTIONS, SHIPPED_SCHEMAS, type ShippedSchemaName } from '../../schemas/index.js';

/** The one set of options, for validators compiled here and those generated at build time. */

/** What src/schemas/build-validators.ts writes next to the compiled schemas module. */
export type GeneratedValidators = Readonly<Record<ShippedSchemaName, ValidateFunction>> & {
  readonly sourceHashes: Readonly<Record<string, string>>;
};

let ajv: InstanceType<ReturnType<typeof ajvLib>['Ajv']> | null = null;
const compiled = new WeakMap<object, ValidateFunction>();
let generatedModule: GeneratedValidators | null | undefined;

/**
 * The build-time validator of a shipped schema, when one was generated from its current text.
 * Compiling the pipeline schema cost ~140 ms (ajv's load included) of every run after an edit of
 * the pipeline file. Missing (running from the TypeScript sources) means: compile here.
 */
function generated(schema: object): ValidateFunction | undefined {
  const shipped = SHIPPED_SCHEMAS.find((s) => s.schema === schema);
  if (shipped === undefined) return undefined;
  if (generatedModule === undefined) {
    try {
      generatedModule = createRequire(import.meta.url)('../../schemas/validators.cjs') as GeneratedValidators;
    } catch {
      generatedModule = null;
    }
  }
  return generatedModule?.sourceHashes[shipped.name] === shipped.sha256 ? generatedModule[shipped.name] : undefined;
}

function compile(schema: object): ValidateFunction {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = generated(schema);
    if (!fn) {
      ajv ??= new (ajvLib().Ajv)(AJV_OPTIONS);
      fn = ajv.compile(schema);
    }
    compiled.set(schema, fn);
  }
  return fn;
}

/**
 * Validates `value` against `schema` and reports every problem at once, each at the exact node.
 * `basePath` is where `value` sits in the source document (e.g. ['steps','pretrain','with']).
 */
export function checkSchema(
  schema: object,
  value: unknown,
  source: SourceMap,
  basePath: readonly PathSegment[] = [],
  related?: RelatedOf,
): Diagnostic[] {
  const validate = compile(schema);
  if (validate(value)) return [];
  // Errors about a bad property name come twice (the inner pattern error and propertyNames): keep one.
  const errors = simplify((validate.errors ?? []).filter((e) => (e as { propertyName?: string }).propertyName === undefined));
  return errors.map((e) => {
    const d = toDiagnostic(e, source, basePath);
    const also = related?.(pathOf(e.instancePath));
    return also ? { ...d, related: [...(d.related ?? []), also] } : d;
  });
}

/** A further position for the problem at `path` (relative to the checked value), e.g. where its value was written. */
export type RelatedOf = (path: readonly PathSegment[]) => NonNullable<Diagnostic['related']>[number] | null;

function pathOf(instancePath: string): PathSegment[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** anyOf produces one error per branch; keep the most specific ones, else one summary. */
function simplify(errors: readonly ErrorObject[]): ErrorObject[] {
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const specific = (e: ErrorObject): boolean =>
    !['type', 'const', 'anyOf', 'pattern', 'exclusiveMinimum', 'minimum', 'minLength', 'minItems'].includes(e.keyword);
  const out: ErrorObject[] = [];
  for (const e of errors) {
    const owner = [...anyOfPaths].find((p) => e.instancePath === p || (e.instancePath.startsWith(`${p}/`) && e.keyword !== 'anyOf'));
    if (owner === undefined) {
      out.push(e);
      continue;
    }
    const siblings = errors.filter((x) => x.instancePath === owner || x.instancePath.startsWith(`${owner}/`));
    const hasSpecific = siblings.some((x) => x.keyword !== 'anyOf' && specific(x));
    if (hasSpecific ? specific(e) && e.keyword !== 'anyOf' : e.keyword === 'anyOf') out.push(e);
  }
  return dedupe(out);
}

function dedupe(errors: ErrorObject[]): ErrorObject[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const id = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function describePath(path: readonly PathSegment[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function toDiagnostic(e: ErrorObject, source: SourceMap, basePath: readonly PathSegment[]): Diagnostic {
  const path = [...basePath, ...pathOf(e.instancePath)];
  const display = describePath(path);
  const where = path.length === 0 ? 'the document' : `'${display}'`;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const props = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
      const inside = path.length === 0 ? '' : ` in ${where}`;
      return source.diagnostic('BLU_UNKNOWN_KEY', `unknown key '${key}'${inside}${suggestion(key, props)}`, [...path, key], { key: true });
    }
    case 'required': {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      return source.diagnostic('BLU_MISSING_KEY', `${where} is missing the required key '${missing}'`, path);
    }
    case 'anyOf': {
      const description = (e.parentSchema as { description?: string }).description;
      return source.diagnostic('BLU_INVALID_VALUE', `${where} is not valid${description ? `: ${lowerFirst(description)}` : ''}`, path);
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ');
      return source.diagnostic('BLU_INVALID_VALUE', `${where} must be one of ${allowed}`, path);
    }
    case 'propertyNames': {
      const name = String((e.params as { propertyName: string }).propertyName);
      return source.diagnostic(
        'BLU_INVALID_NAME',
        `invalid name '${name}' in ${where}: use letters, digits, '_' and '-', starting with a letter or '_'`,
        [...path, name],
        { key: true },
      );
    }
    default:
      return source.diagnostic('BLU_INVALID_VALUE', `${where} ${e.message ?? 'is invalid'}`, path);
  }
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
