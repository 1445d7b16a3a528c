import { yamlLib } from '../lazy-deps.js';
import type { Diagnostic, SourceMap } from './diagnostics.js';
import { suggestion } from './diagnostics.js';
import { lookupPath, paramPaths } from './interpolate.js';
import { err, ok, type JsonObject, type JsonValue, type Result } from '../../base/result.js';
import type { KindKeys } from './kind-keys.js';

function isObject(value: JsonValue | undefined): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const NO_KIND_KEYS: KindKeys = () => new Set();

/**
 * Deep-merges an overlay's params into `base`. Every overlay key must exist in the pipeline's
 * params, or be a key a step kind lists for the mapping it is passed as (kind-keys.ts): a typo
 * would otherwise silently add an unused parameter.
 */
export function mergeOverlayParams(
  base: JsonObject,
  overlay: JsonObject,
  source: SourceMap,
  path: string[] = [],
  kindKeys: KindKeys = NO_KIND_KEYS,
): { params: JsonObject; diagnostics: Diagnostic[] } {
  const out: JsonObject = { ...base };
  const diagnostics: Diagnostic[] = [];
  for (const [key, value] of Object.entries(overlay)) {
    const here = [...path, key];
    const current = base[key];
    if (current === undefined && path.length > 0 && kindKeys(path.join('.')).has(key)) {
      out[key] = value;
      continue;
    }
    if (current === undefined) {
      const dotted = here.join('.');
      diagnostics.push(
        source.diagnostic(
          'BLU_UNKNOWN_PARAM',
          `unknown param '${dotted}': the pipeline declares no such param${suggestion(dotted, [
            ...paramPaths(base).map((p) => [...path, p].join('.')),
            ...kindKeyPaths(path, kindKeys),
          ])}${declareFirst(path, key)}`,
          ['params', ...here],
          { key: true },
        ),
      );
      continue;
    }
    if (isObject(current) && isObject(value)) {
      const merged = mergeOverlayParams(current, value, source, here, kindKeys);
      out[key] = merged.params;
      diagnostics.push(...merged.diagnostics);
    } else {
      out[key] = value;
    }
  }
  return { params: out, diagnostics };
}

/** `binarise.loss` for each key a kind lists for the mapping at `parent`: did-you-mean candidates too. */
function kindKeyPaths(parent: readonly string[], kindKeys: KindKeys): string[] {
  return parent.length === 0 ? [] : [...kindKeys(parent.join('.'))].map((k) => [...parent, k].join('.'));
}

/** For a new key in a declared mapping that no kind lists for it: declare it in the pipeline first. */
function declareFirst(parent: readonly string[], key: string): string {
  return parent.length === 0
    ? ''
    : `; no step kind given params.${parent.join('.')} lists '${key}': to add it anyway, declare it there in the pipeline first`;
}

/**
 * Applies `--set a.b=value` overrides; values are read as YAML scalars (3 → number, true → boolean).
 * Like an overlay, a set may add a key a step kind lists for the mapping (kind-keys.ts).
 */
export function applySets(
  params: JsonObject,
  sets: readonly string[],
  kindKeys: KindKeys = NO_KIND_KEYS,
): { params: JsonObject; diagnostics: Diagnostic[] } {
  let out = params;
  const diagnostics: Diagnostic[] = [];
  for (const item of sets) {
    const eq = item.indexOf('=');
    if (eq <= 0) {
      diagnostics.push(setError(item, `expected --set <param.path>=<value>, e.g. --set train.epochs=3`));
      continue;
    }
    const path = item.slice(0, eq).replace(/^params\./, '');
    const parts = path.split('.');
    const parent = parts.slice(0, -1);
    const inMapping = parent.length > 0 && isObject(lookupPath(out, parent.join('.')));
    const last = parts[parts.length - 1] ?? '';
    if (lookupPath(out, path) === undefined && !(inMapping && kindKeys(parent.join('.')).has(last))) {
      const hint = inMapping ? declareFirst(parent, last) : '';
      const candidates = [...paramPaths(out), ...(inMapping ? kindKeyPaths(parent, kindKeys) : [])];
      diagnostics.push(setError(item, `unknown param '${path}'${suggestion(path, candidates)}${hint}`));
      continue;
    }
    const value = parseSetValue(item.slice(eq + 1));
    if (!value.ok) {
      diagnostics.push(setError(item, `the value is not valid YAML: ${value.error} (quote it to pass a string, e.g. --set '${path}="…"')`));
      continue;
    }
    out = setPath(out, path.split('.'), value.value);
  }
  return { params: out, diagnostics };
}

/** The value as YAML reads it; a value YAML cannot read is an error (its parse message), not a string. */
export function parseSetValue(text: string): Result<JsonValue, string> {
  const plain = plainSetValue(text);
  if (plain !== undefined) return ok(plain);
  try {
    return ok(yamlLib().parse(text, { logLevel: 'error' }) as JsonValue);
  } catch (error) {
    // The parser's message ends with a caret drawing of the value; its first line says what and where.
    return err((error instanceof Error ? error.message : String(error)).split('\n')[0]!.replace(/:$/, ''));
  }
}

/** The YAML 1.2 core-schema words that a name-like plain scalar can spell: all of them are not strings. */
const YAML_WORDS = new Set(['null', 'Null', 'NULL', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE']);

/**
 * What YAML reads `text` as when that is certain without the parser: paths and names (a letter, `_`
 * or `/` first, then only letters, digits and `_ / . -`) are strings unless they are one of
 * YAML_WORDS, and short unsigned decimals are integers. Undefined for anything else. Loading the
 * yaml module costs a no-op rerun with `--set data_dir=…` tens of milliseconds.
 */
export function plainSetValue(text: string): JsonValue | undefined {
  if (/^[A-Za-z_/][A-Za-z0-9_/.-]*$/.test(text)) return YAML_WORDS.has(text) ? undefined : text;
  if (/^[0-9]{1,15}$/.test(text)) return Number(text);
  return undefined;
}

function setError(item: string, message: string): Diagnostic {
  return { code: 'BLU_BAD_SET', message, file: `--set ${item}`, line: 0, col: 0 };
}

function setPath(obj: JsonObject, path: readonly string[], value: JsonValue): JsonObject {
  const [head, ...rest] = path;
  if (head === undefined) return obj;
  const child = obj[head];
  return { ...obj, [head]: rest.length === 0 ? value : setPath(isObject(child) ? child : {}, rest, value) };
}
