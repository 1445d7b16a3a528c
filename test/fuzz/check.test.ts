// The harness's own judgement of cache damage: a broken entry is excused only by damage the harness
// did itself. Real files in a temporary cache folder.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { blobPath, entryNeedsDamaged } from './check.js';

const KEY = 'ab'.repeat(32);
const DAMAGED = 'cd'.repeat(32);
const MANIFEST = 'ef'.repeat(32);
let cacheDir = '';

function writeEntry(outputs: object[]): void {
  const dir = path.join(cacheDir, 'ac', KEY.slice(0, 2));
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${KEY}.json`), JSON.stringify({ key: KEY, outputs }));
}

afterEach(() => rmSync(cacheDir, { recursive: true, force: true }));

describe('entryNeedsDamaged', () => {
  it('explains an entry by its damaged file even when a cache: false directory (no manifest in the store) comes first', () => {
    cacheDir = mkdtempSync(path.join(os.tmpdir(), 'fuzz-check-'));
    writeEntry([
      { path: 'out/d0', type: 'dir', hash: MANIFEST, size: 10, uncached: true },
      { path: 'out/o1.txt', type: 'file', hash: DAMAGED, size: 5 },
    ]);
    expect(entryNeedsDamaged(cacheDir, KEY, { hashes: new Set([DAMAGED]) })).toBe(true);
    expect(entryNeedsDamaged(cacheDir, KEY, { hashes: new Set(['00'.repeat(32)]) })).toBe(false);
  });

  it('explains an entry by a damaged file its stored manifest lists', () => {
    cacheDir = mkdtempSync(path.join(os.tmpdir(), 'fuzz-check-'));
    writeEntry([{ path: 'out/d0', type: 'dir', hash: MANIFEST, size: 10 }]);
    mkdirSync(path.dirname(blobPath(cacheDir, MANIFEST)), { recursive: true });
    writeFileSync(blobPath(cacheDir, MANIFEST), JSON.stringify([{ path: 'f', hash: DAMAGED, size: 5 }]));
    expect(entryNeedsDamaged(cacheDir, KEY, { hashes: new Set([DAMAGED]) })).toBe(true);
  });
});
