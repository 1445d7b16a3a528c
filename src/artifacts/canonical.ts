/**
 * Canonical JSON and SHA-256 helpers: the single definition of "the same value" for step keys
 * and tree manifests. Keys are sorted by UTF-16 code unit order (what Array#sort does), there
 * is no whitespace, and values JSON cannot represent faithfully are rejected instead of being
 * silently dropped or turned into null (JSON.stringify's behaviour), because that would make two
 * different step definitions hash alike.
 */
import { createHash } from 'node:crypto';
import type { KeyComponents, StepKey } from './types.js';

/** Thrown (inside this module's callers' control) when a value has no canonical JSON form. */
export class CanonicalJsonError extends Error {
  constructor(
    readonly at: string,
    what: string,
  ) {
    super(`canonicalJson: ${what} at ${at || '<root>'} cannot be represented`);
    this.name = 'CanonicalJsonError';
  }
}

export function canonicalJson(value: unknown): string {
  return encode(value, '', new Set());
}

function encode(value: unknown, at: string, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(at, `non-finite number ${value}`);
      // -0 and 0 must hash alike; JSON.stringify already prints -0 as "0".
      return JSON.stringify(value);
    case 'object':
      if (value === null) return 'null';
      return encodeObject(value, at, seen);
    default:
      // undefined, function, symbol, bigint
      throw new CanonicalJsonError(at, typeof value);
  }
}

function encodeObject(value: object, at: string, seen: Set<object>): string {
  if (seen.has(value)) throw new CanonicalJsonError(at, 'circular reference');
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      return `[${value.map((item, i) => encode(item, `${at}[${i}]`, seen)).join(',')}]`;
    }
    if (!isPlainObject(value)) {
      throw new CanonicalJsonError(at, `instance of ${value.constructor?.name ?? 'unknown class'}`);
    }
    const record = value as Record<string, unknown>;
    const parts = Object.keys(record)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${encode(record[k], `${at}.${k}`, seen)}`);
    return `{${parts.join(',')}}`;
  } finally {
    seen.delete(value);
  }
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function computeStepKey(components: KeyComponents): StepKey {
  return sha256Hex(canonicalJson(components)) as StepKey;
}
