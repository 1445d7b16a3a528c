import type { JsonValue } from '../../base/result.js';

/** A `${scope.path}` reference found in a string. */
export interface Reference {
  readonly scope: 'params' | 'matrix' | 'env';
  readonly path: string; // dotted, e.g. train.lr
  readonly offset: number; // index of '$' in the string
  /** What `${a ?? b ?? c}` names after `a`, tried in order while the one before is not set. */
  readonly fallbacks?: readonly Pick<Reference, 'scope' | 'path'>[];
}

export type InterpolationError =
  | { readonly kind: 'unknown-reference'; readonly ref: Reference; readonly candidates: readonly string[] }
  | { readonly kind: 'bad-syntax'; readonly offset: number; readonly text: string }
  | { readonly kind: 'unclosed'; readonly offset: number; readonly text: string }
  | { readonly kind: 'not-scalar'; readonly ref: Reference };

// The last alternative is a `${` no `}` closes: an error, not text that happens to look like one.
const PATTERN = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const REF = /^(params|matrix|env)\.([A-Za-z0-9_.-]+)$/;
const PATTERN_WHOLE = /^\$\{[^}]*\}$/;

export interface Scope {
  readonly params: JsonValue;
  readonly matrix: Readonly<Record<string, JsonValue>>;
}

/** Every `${…}` in a string (escaped `$${` is skipped). */
export function findReferences(text: string): { refs: Reference[]; errors: InterpolationError[] } {
  const refs: Reference[] = [];
  const errors: InterpolationError[] = [];
  for (const m of text.matchAll(PATTERN)) {
    if (m[0] === '$${') continue;
    if (m[1] === undefined) {
      const at = m.index ?? 0;
      errors.push({ kind: 'unclosed', offset: at, text: text.slice(at, at + 30) });
      continue;
    }
    const parsed = (m[1] ?? '').split('??').map((alternative) => REF.exec(alternative.trim()));
    const [first, ...rest] = parsed.map((p) => (p ? { scope: p[1] as Reference['scope'], path: p[2]! } : null));
    if (!first || rest.some((r) => r === null)) errors.push({ kind: 'bad-syntax', offset: m.index ?? 0, text: m[0] });
    else
      refs.push({ ...first, offset: m.index ?? 0, ...(rest.length > 0 ? { fallbacks: rest as Pick<Reference, 'scope' | 'path'>[] } : {}) });
  }
  return { refs, errors };
}

/** The reference a string consists of entirely (its value then keeps its type), if it does. */
export function wholeReference(text: string): Reference | undefined {
  if (!PATTERN_WHOLE.test(text)) return undefined;
  const { refs } = findReferences(text);
  return refs.length === 1 ? refs[0] : undefined;
}

export function lookupPath(root: JsonValue | undefined, path: string): JsonValue | undefined {
  let node: JsonValue | undefined = root;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = node[part];
  }
  return node;
}

/** Dotted paths of every leaf (and inner object) in a params tree, for did-you-mean. */
export function paramPaths(root: JsonValue, prefix = ''): string[] {
  if (root === null || typeof root !== 'object' || Array.isArray(root)) return prefix ? [prefix] : [];
  const out: string[] = prefix ? [prefix] : [];
  for (const [k, v] of Object.entries(root)) out.push(...paramPaths(v, prefix ? `${prefix}.${k}` : k));
  return out;
}

function lookupRef(
  ref: Pick<Reference, 'scope' | 'path'>,
  scope: Scope,
  env: Readonly<Record<string, string | undefined>>,
): JsonValue | undefined {
  if (ref.scope === 'params') return lookupPath(scope.params, ref.path);
  // A named mapping's fields: `${matrix.variant.levels.activation}`.
  if (ref.scope === 'matrix') return lookupPath(scope.matrix, ref.path);
  return env[ref.path];
}

/** The first alternative of a reference that is set, and its value; the last alternative when none is. */
export function resolveRef(
  ref: Reference,
  scope: Scope,
  env: Readonly<Record<string, string | undefined>>,
): { value: JsonValue | undefined; from: Pick<Reference, 'scope' | 'path'> } {
  const alternatives = [ref, ...(ref.fallbacks ?? [])];
  for (const from of alternatives) {
    const value = lookupRef(from, scope, env);
    if (value !== undefined) return { value, from };
  }
  return { value: undefined, from: alternatives[alternatives.length - 1]! };
}

function candidatesFor(ref: Pick<Reference, 'scope'>, scope: Scope): string[] {
  return ref.scope === 'params' ? paramPaths(scope.params) : ref.scope === 'matrix' ? paramPaths(scope.matrix) : [];
}

/**
 * Replaces references in one string. A string that is exactly one reference keeps the value's type
 * (`${params.epochs}` → 20), so numbers stay numbers in `with:` and argv.
 */
export function interpolateString(
  text: string,
  scope: Scope,
  env: Readonly<Record<string, string | undefined>>,
  used: Set<string>,
): { value: JsonValue; errors: InterpolationError[] } {
  const { refs, errors } = findReferences(text);
  const resolved = new Map(refs.map((ref) => [ref.offset, resolveRef(ref, scope, env)]));
  for (const ref of refs) {
    const { value, from } = resolved.get(ref.offset)!;
    // With alternatives, the error names the last one: the one the author meant to be always set.
    if (value === undefined)
      errors.push({ kind: 'unknown-reference', ref: { ...from, offset: ref.offset }, candidates: candidatesFor(from, scope) });
    else if (from.scope === 'params') used.add(from.path);
  }
  if (errors.length > 0) return { value: text, errors };
  const whole = refs.length === 1 && PATTERN_WHOLE.test(text);
  if (whole) return { value: resolved.get(refs[0]!.offset)!.value!, errors };
  const notScalar: InterpolationError[] = [];
  const out = text.replace(PATTERN, (match: string, _inner: string | undefined, offset: number) => {
    if (match === '$${') return '${';
    const { value, from } = resolved.get(offset)!;
    if (value !== null && typeof value === 'object') notScalar.push({ kind: 'not-scalar', ref: { ...from, offset } });
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
  return { value: out, errors: notScalar };
}

/** Interpolates every string inside a JSON value; errors carry the data path where they occurred. */
export function interpolateValue(
  value: JsonValue,
  scope: Scope,
  env: Readonly<Record<string, string | undefined>>,
  used: Set<string>,
  path: (string | number)[] = [],
): { value: JsonValue; errors: { path: (string | number)[]; error: InterpolationError }[] } {
  if (typeof value === 'string') {
    const r = interpolateString(value, scope, env, used);
    return { value: r.value, errors: r.errors.map((error) => ({ path, error })) };
  }
  const errors: { path: (string | number)[]; error: InterpolationError }[] = [];
  if (Array.isArray(value)) {
    const items = value.map((item, i) => {
      const r = interpolateValue(item, scope, env, used, [...path, i]);
      errors.push(...r.errors);
      return r.value;
    });
    return { value: items, errors };
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = interpolateValue(v, scope, env, used, [...path, k]);
      errors.push(...r.errors);
      out[k] = r.value;
    }
    return { value: out, errors };
  }
  return { value, errors };
}
