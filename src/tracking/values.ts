/**
 * Making arbitrary pipeline values acceptable to MLflow: key character rules, value length
 * limits, non-finite metric values and nested params. Nothing here throws: a bad value is
 * repaired, never allowed to crash a step.
 */
import { createHash } from 'node:crypto';

export const LIMITS = {
  keyLength: 250,
  paramValue: 6000,
  tagValue: 8000,
  batchMetrics: 1000,
  batchParams: 100,
  batchTags: 100,
  batchTotal: 1000,
} as const;

/** MLflow's key rule is `^[/\w.\- :]*$` (Python `\w`); we keep to the ASCII subset. */
const ILLEGAL_KEY_CHARS = /[^A-Za-z0-9_./\- :]/g;

/** Returns a key MLflow accepts: illegal characters → `_`, no `..`/`//`/leading `/`, ≤ 250 chars. */
export function sanitizeKey(raw: string): string {
  let key = raw.replace(ILLEGAL_KEY_CHARS, '_');
  // posixpath.normpath must not change the key: drop empty, `.` and `..` segments.
  const segments = key
    .split('/')
    .map((s) => (s === '.' || s === '..' ? '_' : s))
    .filter((s) => s !== '');
  key = segments.join('/');
  if (key === '') key = '_';
  if (key.length > LIMITS.keyLength) {
    // Over-long keys are rejected by MLflow; keep them unique with a short hash suffix.
    const suffix = createHash('sha256').update(raw).digest('hex').slice(0, 8);
    key = `${key.slice(0, LIMITS.keyLength - 9)}~${suffix}`;
  }
  return key;
}

/** MLflow truncates over-long values by default (MLFLOW_TRUNCATE_LONG_VALUES); do the same client-side. */
export function truncateParamValue(value: string): string {
  return value.length > LIMITS.paramValue ? value.slice(0, LIMITS.paramValue) : value;
}

export function truncateTagValue(value: string): string {
  return value.length > LIMITS.tagValue ? value.slice(0, LIMITS.tagValue) : value;
}

/** How a param value is shown: strings raw, everything else as JSON. */
function paramText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Flattens nested params to dotted keys (`model.lr`); arrays stay whole as JSON text. */
export function flattenParams(params: Readonly<Record<string, unknown>>, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const nested = flattenParams(value as Record<string, unknown>, key);
      if (Object.keys(nested).length === 0) out[key] = '{}';
      Object.assign(out, nested);
    } else {
      out[key] = paramText(value);
    }
  }
  return out;
}

/** Sanitised, truncated, de-duplicated key/value pairs (first one wins after sanitising). */
export function cleanPairs(pairs: Readonly<Record<string, string>>, kind: 'param' | 'tag'): { key: string; value: string }[] {
  const seen = new Set<string>();
  const out: { key: string; value: string }[] = [];
  for (const [rawKey, rawValue] of Object.entries(pairs)) {
    const key = sanitizeKey(rawKey);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ key, value: kind === 'param' ? truncateParamValue(rawValue) : truncateTagValue(rawValue) });
  }
  return out;
}

/** protobuf-JSON form of a metric value: `JSON.stringify(NaN)` is null, which MLflow rejects. */
export type JsonMetricValue = number | 'NaN' | 'Infinity' | '-Infinity';

export function metricValueToJson(value: number): JsonMetricValue {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

/** Accepts what MLflow answers (numbers or the strings NaN/Infinity/-Infinity, also `nan`/`inf`). */
export function metricValueFromJson(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const lower = value.trim().toLowerCase();
    if (lower === 'nan') return NaN;
    if (lower === 'infinity' || lower === 'inf' || lower === '+inf' || lower === '+infinity') return Infinity;
    if (lower === '-infinity' || lower === '-inf') return -Infinity;
    return Number(value);
  }
  return NaN;
}

/** MLflow reads steps and timestamps with `int()`: never write a fraction. */
export function toInt(value: number): number {
  return Number.isFinite(value) ? Math.trunc(value) : 0;
}
