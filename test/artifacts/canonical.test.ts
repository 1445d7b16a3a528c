import { describe, expect, it } from 'vitest';
import { canonicalJson, computeStepKey, sha256Hex, CanonicalJsonError } from '../../src/artifacts/canonical.js';
import type { KeyComponents } from '../../src/artifacts/types.js';

function components(overrides: Partial<KeyComponents> = {}): KeyComponents {
  return {
    keySchema: 1,
    kind: 'run',
    kindVersion: '1',
    command: ['python', 'train.py', '--lr', '0.01'],
    with: null,
    params: { lr: 0.01, epochs: 3 },
    deps: { 'data/train': 'a'.repeat(64), 'train.py': 'b'.repeat(64) },
    upstream: {},
    env: { SEED: '1', CUDA_VISIBLE_DEVICES: null },
    outs: ['model'],
    ...overrides,
  };
}

describe('canonicalJson', () => {
  it('sorts keys at every depth and emits no whitespace', () => {
    const a = { b: 1, a: { d: [1, 'x', true], c: null } };
    const b = { a: { c: null, d: [1, 'x', true] }, b: 1 };
    expect(canonicalJson(a)).toBe('{"a":{"c":null,"d":[1,"x",true]},"b":1}');
    expect(canonicalJson(b)).toBe(canonicalJson(a));
  });

  it('keeps array order, escapes strings like JSON, and maps -0 to 0', () => {
    expect(canonicalJson([3, 1, 2])).toBe('[3,1,2]');
    expect(canonicalJson({ 'é"\n': 'ü' })).toBe('{"é\\"\\n":"ü"}');
    expect(canonicalJson(-0)).toBe('0');
    expect(canonicalJson(1e21)).toBe('1e+21');
  });

  it('accepts shared (non-circular) references', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });

  it.each([
    ['undefined', { a: undefined }, '.a'],
    ['a function', { f: () => 1 }, '.f'],
    ['NaN', { n: [1, Number.NaN] }, '.n[1]'],
    ['Infinity', Number.POSITIVE_INFINITY, '<root>'],
    ['a bigint', { b: 1n }, '.b'],
    ['a Date', { d: new Date(0) }, '.d'],
    ['a Map', new Map(), '<root>'],
  ])('rejects %s and names where it is', (_label, value, where) => {
    expect(() => canonicalJson(value)).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(value)).toThrow(where);
  });

  it('rejects circular structures', () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => canonicalJson(loop)).toThrow(/circular/);
  });
});

describe('sha256Hex', () => {
  it('matches the FIPS 180-2 test vector for strings and bytes alike', () => {
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(sha256Hex('abc')).toBe(abc);
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe(abc);
  });
});

describe('computeStepKey', () => {
  it('is the sha256 of the canonical components and ignores key order', () => {
    const c = components();
    expect(computeStepKey(c)).toBe(sha256Hex(canonicalJson(c)));
    const reordered = components({ deps: { 'train.py': 'b'.repeat(64), 'data/train': 'a'.repeat(64) } });
    expect(computeStepKey(reordered)).toBe(computeStepKey(c));
  });

  it('changes with any component', () => {
    const base = computeStepKey(components());
    expect(computeStepKey(components({ params: { lr: 0.02, epochs: 3 } }))).not.toBe(base);
    expect(computeStepKey(components({ env: { SEED: '2', CUDA_VISIBLE_DEVICES: null } }))).not.toBe(base);
    expect(computeStepKey(components({ outs: ['model', 'metrics.json'] }))).not.toBe(base);
    expect(computeStepKey(components({ command: ['python', 'train.py'] }))).not.toBe(base);
  });
});
