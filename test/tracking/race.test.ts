/**
 * Two (and more) real processes create the same experiment in one file store at the same moment.
 * Each process runs the built FileStore (dist/, made by `npm run build` before the tests).
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const projectRoot = path.resolve(import.meta.dirname, '../..');
const fileStoreModule = pathToFileURL(path.join(projectRoot, 'dist/src/tracking/file-store.js')).href;
let build = '';

beforeAll(async () => {
  build = await fs.mkdtemp(path.join(os.tmpdir(), 'blu-race-'));
});

afterAll(async () => {
  if (build !== '') await fs.rm(build, { recursive: true, force: true });
});

describe('file store experiment creation across processes', () => {
  it('ends with one experiment when 4 processes create it at once', async () => {
    const root = path.join(build, 'mlruns');
    const startAt = Date.now() + 1_500; // every process waits for the same moment, then races
    const script = `
      import { FileStore } from '${fileStoreModule}';
      while (Date.now() < ${startAt}) await new Promise((r) => setTimeout(r, 1));
      const r = await new FileStore(${JSON.stringify(root)}).ensureExperiment('raced');
      console.log(r.ok ? r.value : 'ERR ' + r.error.message);`;
    const results = await Promise.all(
      Array.from({ length: 4 }, () => execa('node', ['--input-type=module', '-e', script], { cwd: build })),
    );
    const ids = results.map((r) => r.stdout.trim());
    expect(ids[0]).toMatch(/^\d{18}$/);
    expect(new Set(ids).size).toBe(1);
    const dirs = (await fs.readdir(root)).filter((d) => d !== '.trash').sort();
    expect(dirs).toEqual(['0', ids[0]].sort());
    expect(await fs.readFile(path.join(root, ids[0]!, 'meta.yaml'), 'utf8')).toMatch(/\nname: raced\n$/);
  });
});
