import { afterEach, describe, expect, it } from 'vitest';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson } from '../../src/artifacts/canonical.js';
import { manifestJson, parseManifest, walkFiles } from '../../src/artifacts/tree.js';
import type { Sha256, TreeEntry } from '../../src/artifacts/types.js';
import { removeTempDirs, tempDir } from './helpers.js';

afterEach(removeTempDirs);

const h = (c: string): Sha256 => c.repeat(64) as Sha256;

describe('manifestJson', () => {
  it('is byte-identical to canonicalJson of the path-sorted entries', () => {
    const entries: TreeEntry[] = [
      { path: 'z/ü "quoted".txt', hash: h('a'), size: 0, executable: false },
      { path: 'a/b\\c', hash: h('b'), size: 12345678901, executable: true },
      { path: 'B', hash: h('c'), size: 7, executable: false },
    ];
    const sorted = [...entries].sort((x, y) => (x.path < y.path ? -1 : 1));
    expect(manifestJson(entries)).toBe(canonicalJson(sorted));
    expect(manifestJson([])).toBe('[]');
  });

  it('parses back only safe manifests', () => {
    const good: TreeEntry[] = [{ path: 'd/f.txt', hash: h('a'), size: 1, executable: false }];
    expect(parseManifest(manifestJson(good))).toEqual(good);
    for (const path of ['../up', '/abs', 'a//b', 'a/./b', '']) {
      expect(parseManifest(JSON.stringify([{ ...good[0], path }]))).toBeUndefined();
    }
    expect(parseManifest('{"not":"a list"}')).toBeUndefined();
  });
});

describe('walkFiles', () => {
  it('lists nested files and terminates on a symlink loop', async () => {
    const root = await tempDir('walk');
    await mkdir(join(root, 'a', 'b'), { recursive: true });
    await writeFile(join(root, 'a', 'b', 'f.txt'), 'f');
    await writeFile(join(root, 'top.txt'), 't');
    await symlink(join(root, 'a'), join(root, 'a', 'b', 'loop'));
    await symlink(root, join(root, 'a', 'to-root'));
    const rels = (await walkFiles(root)).map((f) => f.rel).sort();
    expect(rels).toEqual(['a/b/f.txt', 'top.txt']);
  });

  it('lists a directory reached through two symlinks under both names', async () => {
    const root = await tempDir('walk2');
    await mkdir(join(root, 'shared'));
    await writeFile(join(root, 'shared', 'x.txt'), 'x');
    await mkdir(join(root, 'out'));
    await symlink(join(root, 'shared'), join(root, 'out', 'one'));
    await symlink(join(root, 'shared'), join(root, 'out', 'two'));
    const rels = (await walkFiles(join(root, 'out'))).map((f) => f.rel).sort();
    expect(rels).toEqual(['one/x.txt', 'two/x.txt']);
  });
});
