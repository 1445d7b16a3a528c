import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseSetValue, plainSetValue } from '../../src/runtime/load/params.js';

// The no-op rerun of `--set data_dir=/…` must not load the yaml module, yet read every value as YAML does.
const SAMPLES = [
  '/work/shared/data/bbbc030',
  'data/raw',
  'lw_unet',
  'a-b.c_d',
  '_x',
  'x1.5',
  'a..b',
  'Yes',
  'yes',
  'no',
  'on',
  'off',
  'y',
  'n',
  'null',
  'Null',
  'NULL',
  'nULL',
  'true',
  'True',
  'TRUE',
  'tRUE',
  'false',
  'False',
  'FALSE',
  'nan',
  'inf',
  'Infinity',
  'NaN',
  '0',
  '3',
  '007',
  '123456789012345',
  '1234567890123456',
  '1.5',
  '1e3',
  '0x1F',
  '0o17',
  '-1',
  '+1',
  '.5',
  '.inf',
  '.nan',
  '~',
  '',
  'a:b',
  'a: b',
  'a #b',
  '[1, 2]',
  '{a: 1}',
  '"quoted"',
  "'single'",
  '- item',
  '---',
  '...',
  'a b',
  '*alias',
  '&anchor x',
  '%x',
  '@x',
  '`x',
];

describe('--set values', () => {
  it("that YAML cannot read are an error with the parser's message, not a string", () => {
    expect(parseSetValue('[1,')).toEqual({ ok: false, error: 'Flow sequence must end with a ] at line 1, column 4' });
    expect(parseSetValue('@x')).toMatchObject({ ok: false, error: expect.stringMatching(/reserved character @/) });
  });

  it('are read as the YAML parser reads them, with or without the fast path', () => {
    for (const text of SAMPLES) {
      let expected: unknown;
      try {
        expected = { ok: true, value: parse(text, { logLevel: 'error' }) };
      } catch {
        expected = { ok: false, error: expect.any(String) }; // not YAML: an error, never the text as a string
      }
      expect(parseSetValue(text), text).toEqual(expected);
      const plain = plainSetValue(text);
      if (plain !== undefined) expect({ ok: true, value: plain }, text).toEqual(expected);
    }
  });

  it('skip the parser for paths, names and small integers', () => {
    expect(plainSetValue('/work/shared/data/bbbc030')).toBe('/work/shared/data/bbbc030');
    expect(plainSetValue('lw_unet')).toBe('lw_unet');
    expect(plainSetValue('3')).toBe(3);
    expect(plainSetValue('true')).toBeUndefined();
    expect(plainSetValue('1.5')).toBeUndefined();
  });
});
