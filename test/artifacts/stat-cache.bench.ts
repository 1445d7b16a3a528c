/**
 * Benchmark (run with `npx vitest bench test/artifacts`): the no-op rerun hot path.
 * 1000 steps × (1 dep + 1 output) = 2000 unchanged files checked through the stat cache, plus
 * a 10k-file directory dep, and loading/saving a 10k-entry cache file.
 */
import { afterAll, bench, describe } from 'vitest';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatCache } from '../../src/artifacts/stat-cache.js';
import { ageBy } from './helpers.js';

// A fixed path, wiped on start: bench mode may skip afterAll, so at most one copy is ever left.
const root = join(tmpdir(), 'blu-artifacts-bench');
await rm(root, { recursive: true, force: true });
await mkdir(root);
const files: string[] = [];
for (let i = 0; i < 10_000; i++) {
  const dir = join(root, 'data', String(i % 100));
  if (i < 100) await mkdir(dir, { recursive: true });
  const file = join(dir, `f${i}.txt`);
  await writeFile(file, `file number ${i}\n`.repeat(20));
  await ageBy(file, 60); // outside the racy window, as after any real previous run
  files.push(file);
}
const cacheFile = join(root, 'cache', 'state', 'hashes.json');
const warm = await StatCache.open(cacheFile);
for (const f of files) await warm.hashPath(f);
await warm.save();
const noopSet = files.slice(0, 2000);

describe('stat cache', () => {
  afterAll(() => rm(root, { recursive: true, force: true }));
  bench('no-op rerun: hashPath on 2000 unchanged files (sequential)', async () => {
    for (const f of noopSet) await warm.hashPath(f);
  });
  bench('no-op rerun: hashPath on 2000 unchanged files (Promise.all)', async () => {
    await Promise.all(noopSet.map((f) => warm.hashPath(f)));
  });
  bench('hashPath on a directory tree of 10k unchanged files', async () => {
    await warm.hashPath(join(root, 'data'));
  });
  bench('open a 10k-entry cache file', async () => {
    await StatCache.open(cacheFile);
  });
  bench('open + save a 10k-entry cache file (dirty)', async () => {
    const c = await StatCache.open(cacheFile);
    await writeFile(files[0]!, 'changed\n');
    await c.hashPath(files[0]!);
    await c.save();
  });
});
