import { describe, expect, it } from 'vitest';
import { chunkBatch } from '../../src/tracking/plan.js';
import { cleanPairs, flattenParams, metricValueFromJson, metricValueToJson, sanitizeKey } from '../../src/tracking/values.js';
import { decodeLine, encodeLine } from '../../src/tracking/journal.js';
import { emitMetaYaml } from '../../src/tracking/yaml-emit.js';
import { parse } from 'yaml';

describe('MLflow value rules', () => {
  it('sanitises keys to ^[/\\w.\\- :]*$ without changing under normpath', () => {
    expect(sanitizeKey('val/acc')).toBe('val/acc');
    expect(sanitizeKey('loss (train)!')).toBe('loss _train__');
    expect(sanitizeKey('/abs//x/./y/../z')).toBe('abs/x/_/y/_/z');
    expect(sanitizeKey('')).toBe('_');
    expect(sanitizeKey('é')).toBe('_');
    const long = sanitizeKey('k'.repeat(400));
    expect(long).toHaveLength(250);
    expect(long).not.toBe(sanitizeKey(`${'k'.repeat(399)}j`)); // still unique
    for (const key of ['a?b', '..', 'x/../../y', 'a\nb']) expect(sanitizeKey(key)).toMatch(/^[/\w.\- :]+$/);
  });

  it('truncates long values like the server and keeps the first of colliding keys', () => {
    const pairs = cleanPairs({ a: 'x'.repeat(7000), 'b?': '1', b_: '2' }, 'param');
    expect(pairs.map((p) => [p.key, p.value.length])).toEqual([
      ['a', 6000],
      ['b_', 1],
    ]);
    expect(cleanPairs({ t: 'y'.repeat(9000) }, 'tag')[0]?.value).toHaveLength(8000);
  });

  it('flattens nested params with dotted keys', () => {
    expect(flattenParams({ lr: 0.1, model: { depth: 3, opts: { a: true } }, layers: [1, 2], none: null, empty: {} })).toEqual({
      lr: '0.1',
      'model.depth': '3',
      'model.opts.a': 'true',
      layers: '[1,2]',
      none: 'null',
      empty: '{}',
    });
  });

  it('sends non-finite metric values as protobuf-JSON strings and reads them back', () => {
    expect([NaN, Infinity, -Infinity, 1e21, 0.5].map(metricValueToJson)).toEqual(['NaN', 'Infinity', '-Infinity', 1e21, 0.5]);
    expect(['NaN', 'nan', 'Infinity', 'inf', '-Infinity', '1e+21', 3].map(metricValueFromJson)).toEqual([
      NaN,
      NaN,
      Infinity,
      Infinity,
      -Infinity,
      1e21,
      3,
    ]);
  });

  it('keeps NaN and infinities through the journal encoding', () => {
    const back = decodeLine(encodeLine({ value: NaN, other: [Infinity, -Infinity, 2] })) as { value: number; other: number[] };
    expect(back.value).toBeNaN();
    expect(back.other).toEqual([Infinity, -Infinity, 2]);
  });

  it('splits batches to 1000 metrics / 100 params / 100 tags / 1000 items', () => {
    const metrics = Array.from({ length: 2500 }, (_, i) => ({ key: 'm', value: i, timestamp: i, step: i }));
    const params = Array.from({ length: 250 }, (_, i) => ({ key: `p${i}`, value: 'v' }));
    const tags = Array.from({ length: 150 }, (_, i) => ({ key: `t${i}`, value: 'v' }));
    const chunks = chunkBatch(metrics, params, tags);
    for (const c of chunks) {
      expect(c.metrics.length).toBeLessThanOrEqual(1000);
      expect(c.params.length).toBeLessThanOrEqual(100);
      expect(c.tags.length).toBeLessThanOrEqual(100);
      expect(c.metrics.length + c.params.length + c.tags.length).toBeLessThanOrEqual(1000);
    }
    expect(chunks.flatMap((c) => c.metrics).map((m) => m.step)).toEqual(metrics.map((m) => m.step)); // order kept
    expect(chunks.flatMap((c) => c.params)).toHaveLength(250);
    expect(chunks.flatMap((c) => c.tags)).toHaveLength(150);
    const big = chunkBatch(
      [],
      Array.from({ length: 100 }, (_, i) => ({ key: `p${i}`, value: 'x'.repeat(6000) })),
      Array.from({ length: 100 }, (_, i) => ({ key: `t${i}`, value: 'y'.repeat(8000) })),
    );
    for (const c of big) expect(JSON.stringify(c).length).toBeLessThan(1_000_000);
  });

  it('emits meta.yaml that a YAML reader reads back with the right types', () => {
    const text = emitMetaYaml({
      run_id: '0123',
      experiment_id: '7',
      run_name: "it's: odd",
      status: 3,
      end_time: null,
      tags: [],
      user_id: '',
      name: 'yes',
    });
    expect(text.split('\n')[0]).toBe('end_time: null');
    expect(parse(text)).toEqual({
      run_id: '0123',
      experiment_id: '7',
      run_name: "it's: odd",
      status: 3,
      end_time: null,
      tags: [],
      user_id: '',
      name: 'yes',
    });
  });
});
