import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CodeHasher, kindCodeHashes } from '../../src/steps/code-hash.js';
import { builtinRegistry } from '../../src/steps/registry.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** a → b (static), c (dynamic), a package; b → d; d → b (a cycle); x → d; e is imported by nobody. */
function graph(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blu-code-'));
  dirs.push(dir);
  const files: Record<string, string> = {
    'a.js': "import { b } from './b.js';\nimport path from 'node:path';\nexport async function run() { return (await import('./lazy/c.js')).c + b + path.sep; }\n",
    'b.js': "export { d } from './d.js';\nexport const b = 1;\n",
    'lazy/c.js': 'export const c = 2;\n',
    'd.js': "import './b.js';\nexport const d = 3;\n",
    'x.js': "import { d } from './d.js';\nexport const x = d;\n",
    'e.js': 'export const e = 4;\n',
  };
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return dir;
}

const fresh = (dir: string, name: string): Promise<string> => new CodeHasher().graphHash(path.join(dir, name));

describe('code hash of a module graph', () => {
  it('follows static, re-export and dynamic relative imports (not packages), through cycles', async () => {
    const dir = graph();
    const files = await new CodeHasher().graphFiles(path.join(dir, 'a.js'));
    expect(files.map((f) => path.relative(dir, f))).toEqual(['a.js', 'b.js', 'd.js', 'lazy/c.js']);
  });

  it('changes exactly for the graphs that contain the edited module', async () => {
    const dir = graph();
    const before = { a: await fresh(dir, 'a.js'), x: await fresh(dir, 'x.js') };
    appendFileSync(path.join(dir, 'e.js'), '// unrelated\n');
    expect({ a: await fresh(dir, 'a.js'), x: await fresh(dir, 'x.js') }).toEqual(before);
    appendFileSync(path.join(dir, 'lazy/c.js'), '// only a imports this\n');
    const afterC = { a: await fresh(dir, 'a.js'), x: await fresh(dir, 'x.js') };
    expect(afterC.a).not.toBe(before.a);
    expect(afterC.x).toBe(before.x);
    appendFileSync(path.join(dir, 'd.js'), '// both\n');
    expect(await fresh(dir, 'a.js')).not.toBe(afterC.a);
    expect(await fresh(dir, 'x.js')).not.toBe(afterC.x);
  });

  it('a saved memo answers unchanged graphs without reading them, and never hides an edit', async () => {
    const dir = graph();
    const memoFile = path.join(dir, 'memo.json');
    const first = await CodeHasher.open(memoFile, new CodeHasher().hashFile);
    const hash = await first.graphHash(path.join(dir, 'a.js'));
    await first.save();
    expect(Object.keys((JSON.parse(readFileSync(memoFile, 'utf8')) as { graphs: object }).graphs)).toEqual([path.join(dir, 'a.js')]);

    const asked: string[] = [];
    const counting = async (file: string): Promise<string | null> => (asked.push(path.relative(dir, file)), new CodeHasher().hashFile(file));
    expect(await (await CodeHasher.open(memoFile, counting)).graphHash(path.join(dir, 'a.js'))).toBe(hash);
    expect(asked.sort()).toEqual(['a.js', 'b.js', 'd.js', 'lazy/c.js']); // one content check each, no graph walk beyond

    // A new import in an edited module is followed: the memo is only a shortcut for unchanged content.
    writeFileSync(path.join(dir, 'lazy/c.js'), "export { e as c } from '../e.js';\n");
    const again = await CodeHasher.open(memoFile, counting);
    expect(await again.graphHash(path.join(dir, 'a.js'))).toBe(await fresh(dir, 'a.js'));
    expect((await again.graphFiles(path.join(dir, 'a.js'))).map((f) => path.relative(dir, f))).toContain('e.js');
  });
});

describe('built-in kinds', () => {
  const registry = builtinRegistry();
  const entry = (name: string): string => fileURLToPath(registry.get(name)!.implementation!).replace(/\.js$/, '.ts');

  it('every kind names its implementation module, and load() imports that very module', () => {
    for (const name of registry.names()) {
      const kind = registry.get(name)!;
      expect(kind.implementation, name).toBeInstanceOf(URL);
      // The test runner rewrites './impl/x.js' to '/src/steps/blu-net/impl/x.ts': compare the module name.
      expect(kind.load.toString(), name).toContain(`/impl/${path.basename(fileURLToPath(kind.implementation!), '.js')}.`);
    }
  });

  it('training code is in the graphs of the training kinds only', async () => {
    const hasher = new CodeHasher();
    const trainingFile = (files: string[]): boolean => files.some((f) => f.includes(`${path.sep}ml${path.sep}train${path.sep}`));
    for (const name of ['pretrain', 'hint', 'binarise', 'ablation']) expect(trainingFile(await hasher.graphFiles(entry(name))), name).toBe(true);
    for (const name of ['dataset', 'report']) expect(trainingFile(await hasher.graphFiles(entry(name))), name).toBe(false);
    const hashes = await kindCodeHashes(registry, registry.names(), hasher);
    expect(new Set(hashes.values()).size).toBeGreaterThan(4); // shared implementation modules share a hash, others differ
  });
});
