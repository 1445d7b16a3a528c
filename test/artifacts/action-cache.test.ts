import { afterEach, describe, expect, it } from 'vitest';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ActionCache } from '../../src/artifacts/action-cache.js';
import type { ActionCacheEntry, Sha256, StepKey } from '../../src/artifacts/types.js';
import { makeEntry } from './entries.js';
import { ageBy, removeTempDirs, tempDir } from './helpers.js';

afterEach(removeTempDirs);

const fileOut = { path: 'model.bin', type: 'file', hash: 'c'.repeat(64) as Sha256, size: 3, executable: false } as const;

async function cacheWith(...entries: ActionCacheEntry[]): Promise<{ ac: ActionCache; dir: string }> {
  const dir = await tempDir('ac');
  const ac = new ActionCache(dir);
  for (const e of entries) await ac.put(e);
  return { ac, dir };
}

async function listAll(ac: ActionCache): Promise<ActionCacheEntry[]> {
  const all: ActionCacheEntry[] = [];
  for await (const e of ac.list()) all.push(e);
  return all;
}

describe('ActionCache', () => {
  it('round-trips an entry stored at ac/ab/<key>.json', async () => {
    const entry = makeEntry('train', [fileOut], { logHash: 'd'.repeat(64) as Sha256 });
    const { ac, dir } = await cacheWith(entry);
    expect(ac.entryPath(entry.key)).toBe(join(dir, 'ac', entry.key.slice(0, 2), `${entry.key}.json`));
    expect(await ac.get(entry.key)).toEqual(entry);
    expect(await readdir(join(dir, 'ac', entry.key.slice(0, 2)))).toEqual([`${entry.key}.json`]);
  });

  it('returns undefined for missing keys and non-keys', async () => {
    const { ac } = await cacheWith();
    expect(await ac.get('e'.repeat(64) as StepKey)).toBeUndefined();
    expect(await ac.get('../../etc/passwd' as StepKey)).toBeUndefined();
  });

  it.each([
    ['truncated JSON', (text: string) => text.slice(0, text.length / 2)],
    ['empty file', () => ''],
    ['wrong shape', (text: string) => JSON.stringify({ ...JSON.parse(text), outputs: 'nope' })],
    ['bad output hash', (text: string) => text.replace('c'.repeat(64), 'xyz')],
    ['a different key inside', (text: string) => JSON.stringify({ ...JSON.parse(text), key: 'f'.repeat(64) })],
  ])('treats a corrupt entry (%s) as missing, in get and list', async (_label, corrupt) => {
    const good = makeEntry('good', [fileOut]);
    const bad = makeEntry('bad', [fileOut]);
    const { ac } = await cacheWith(good, bad);
    const path = ac.entryPath(bad.key);
    await writeFile(path, corrupt(await readFile(path, 'utf8')));
    expect(await ac.get(bad.key)).toBeUndefined();
    expect((await listAll(ac)).map((e) => e.stepId)).toEqual(['good']);
  });

  it('refuses to write a malformed entry', async () => {
    const { ac } = await cacheWith();
    const broken = { ...makeEntry('x', [fileOut]), durationMs: 'slow' } as unknown as ActionCacheEntry;
    await expect(ac.put(broken)).rejects.toThrow(/malformed/);
  });

  it('touch moves the access stamp forward; remove deletes', async () => {
    const entry = makeEntry('eval', [fileOut]);
    const { ac } = await cacheWith(entry);
    await ageBy(ac.entryPath(entry.key), 3600);
    const before = await ac.accessedAt(entry.key);
    await ac.touch(entry.key);
    const after = await ac.accessedAt(entry.key);
    expect(after!.getTime() - before!.getTime()).toBeGreaterThan(3500_000);
    await ac.remove(entry.key);
    await ac.remove(entry.key); // idempotent
    await ac.touch(entry.key); // missing: ignored
    expect(await ac.get(entry.key)).toBeUndefined();
    expect(await listAll(ac)).toEqual([]);
  });
});
