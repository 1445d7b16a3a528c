import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import ts from 'typescript';
import { afterEach, describe, expect, it } from 'vitest';
import { CodeHasher, kindCodeHashes } from '../../src/runtime/kinds/code-hash.js';
import { NATIVE_SOURCES_DIGEST } from '../../src/ml/engine/native-build.js';
import { cppShape, nativeEngineShapeDigest } from '../../src/ml/engine/native-shape.js';
import { builtinRegistry } from '../../src/steps/registry.js';
import { REPO } from '../rig/project.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** a → b (static), c (dynamic), a package; b → d; d → b (a cycle); x → d; e is imported by nobody. */
function graph(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blu-code-'));
  dirs.push(dir);
  const files: Record<string, string> = {
    'a.js':
      "import { b } from './b.js';\nimport path from 'node:path';\nexport async function run() { return (await import('./lazy/c.js')).c + b + path.sep; }\n",
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

  it('changes exactly for the graphs whose code changes, not for comments or formatting', async () => {
    const dir = graph();
    const before = { a: await fresh(dir, 'a.js'), x: await fresh(dir, 'x.js') };
    appendFileSync(path.join(dir, 'e.js'), 'export const f = 5;\n');
    expect({ a: await fresh(dir, 'a.js'), x: await fresh(dir, 'x.js') }).toEqual(before);
    writeFileSync(path.join(dir, 'd.js'), '/* why d */\nimport "./b.js" ;\n\n   export const d = (3); // three\n');
    expect({ a: await fresh(dir, 'a.js'), x: await fresh(dir, 'x.js') }).toEqual(before);
    writeFileSync(path.join(dir, 'lazy/c.js'), 'export const c = 3;\n');
    const afterC = { a: await fresh(dir, 'a.js'), x: await fresh(dir, 'x.js') };
    expect(afterC.a).not.toBe(before.a);
    expect(afterC.x).toBe(before.x);
    writeFileSync(path.join(dir, 'd.js'), "import './b.js';\nexport const d = 4;\n");
    expect(await fresh(dir, 'a.js')).not.toBe(afterC.a);
    expect(await fresh(dir, 'x.js')).not.toBe(afterC.x);
  });

  it('a moved module keeps the hash; importing a different module changes it', async () => {
    const dir = graph();
    const before = await fresh(dir, 'a.js');
    mkdirSync(path.join(dir, 'deep/er'), { recursive: true });
    renameSync(path.join(dir, 'lazy/c.js'), path.join(dir, 'deep/er/c.js'));
    writeFileSync(path.join(dir, 'a.js'), readFileSync(path.join(dir, 'a.js'), 'utf8').replace('./lazy/c.js', './deep/er/c.js'));
    expect(await fresh(dir, 'a.js')).toBe(before);
    // e exports the same name with another value: a now runs other code.
    writeFileSync(path.join(dir, 'e.js'), 'export const c = 4;\n');
    writeFileSync(path.join(dir, 'a.js'), readFileSync(path.join(dir, 'a.js'), 'utf8').replace('./deep/er/c.js', './e.js'));
    expect(await fresh(dir, 'a.js')).not.toBe(before);
  });

  it('hashes the bytes of a wasm module a module loads, and does not follow plumbing folders', async () => {
    const dir = graph();
    writeFileSync(path.join(dir, 'k.wasm'), Buffer.from([0, 97, 115, 109, 1]));
    writeFileSync(path.join(dir, 'b.js'), "export { d } from './d.js';\nexport const b = 1;\nexport const kernels = 'k.wasm';\n");
    mkdirSync(path.join(dir, 'runtime'));
    writeFileSync(path.join(dir, 'runtime/log.js'), 'export const log = 1;\n');
    writeFileSync(
      path.join(dir, 'x.js'),
      "import { d } from './d.js';\nimport { log } from './runtime/log.js';\nexport const x = d + log;\n",
    );
    const hasher = (): CodeHasher => new CodeHasher(undefined, undefined, null, dir);
    const before = { a: await hasher().graphHash(path.join(dir, 'a.js')), x: await hasher().graphHash(path.join(dir, 'x.js')) };
    expect((await hasher().graphFiles(path.join(dir, 'x.js'))).map((f) => path.relative(dir, f))).toEqual(['b.js', 'd.js', 'x.js']);
    writeFileSync(path.join(dir, 'runtime/log.js'), 'export const log = 2;\n');
    expect(await hasher().graphHash(path.join(dir, 'x.js'))).toBe(before.x);
    writeFileSync(path.join(dir, 'k.wasm'), Buffer.from([0, 97, 115, 109, 2]));
    expect(await hasher().graphHash(path.join(dir, 'a.js'))).not.toBe(before.a);
  });

  it('a saved memo answers unchanged graphs without reading them, and never hides an edit', async () => {
    const dir = graph();
    const memoFile = path.join(dir, 'memo.json');
    const first = await CodeHasher.open(memoFile, new CodeHasher().hashFile);
    const hash = await first.graphHash(path.join(dir, 'a.js'));
    await first.save();
    expect(Object.keys((JSON.parse(readFileSync(memoFile, 'utf8')) as { graphs: object }).graphs)).toEqual([path.join(dir, 'a.js')]);

    const asked: string[] = [];
    const counting = async (file: string): Promise<string | null> => (
      asked.push(path.relative(dir, file)), new CodeHasher().hashFile(file)
    );
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
    for (const name of ['pretrain', 'hint', 'binarise', 'ablation'])
      expect(trainingFile(await hasher.graphFiles(entry(name))), name).toBe(true);
    for (const name of ['dataset', 'report']) expect(trainingFile(await hasher.graphFiles(entry(name))), name).toBe(false);
    const hashes = await kindCodeHashes(registry, registry.names(), hasher);
    expect(new Set(hashes.values()).size).toBeGreaterThan(4); // shared implementation modules share a hash, others differ
  });
});

/** A copy of the built code, edited as housekeeping or a kernel change would edit it. */
describe.skipIf(!existsSync(path.join(REPO, 'dist/src/steps/registry.js')))('code hashes of the built kinds', () => {
  const registry = builtinRegistry();
  const kindHashes = async (root: string): Promise<Record<string, string>> => {
    const hasher = new CodeHasher(undefined, undefined, null, root);
    const entries = registry
      .names()
      .map(
        (name) => [name, path.join(root, 'steps/blu-net/impl', path.basename(fileURLToPath(registry.get(name)!.implementation!)))] as const,
      );
    return Object.fromEntries(await Promise.all(entries.map(async ([name, entry]) => [name, await hasher.graphHash(entry)] as const)));
  };
  const copyBuild = (): string => {
    const root = path.join(mkdtempSync(path.join(os.tmpdir(), 'blu-built-')), 'src');
    dirs.push(path.dirname(root));
    cpSync(path.join(REPO, 'dist/src'), root, { recursive: true, filter: (f) => !f.endsWith('.map') });
    return root;
  };
  const changed = (a: Record<string, string>, b: Record<string, string>): string[] => Object.keys(a).filter((k) => a[k] !== b[k]);

  it('comments, reformatting and moving a module keep every key', async () => {
    const root = copyBuild();
    const before = await kindHashes(root);
    const printer = ts.createPrinter({ newLine: ts.NewLineKind.CarriageReturnLineFeed });
    for (const file of jsFiles(root)) {
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
      writeFileSync(file, `/* housekeeping: a mended comment */\n${printer.printFile(source)}\n// the end\n`);
    }
    moveModule(root, 'ml/engine/forward.js', 'ml/engine/run/forward-pass.js');
    moveModule(root, 'ml/kernels/conv2d-backprop.js', 'ml/gradients/conv2d.js');
    expect(changed(before, await kindHashes(root))).toEqual([]);
  });

  it('a one-character change in an engine kernel changes the keys of the kinds that run the engine, only', async () => {
    const root = copyBuild();
    const before = await kindHashes(root);
    const kernels = readFileSync(path.join(REPO, 'src/ml/engine/assembly/kernels.ts'), 'utf8');
    const edited = path.join(path.dirname(root), 'kernels.ts');
    const at = kernels.indexOf('(k - 1) >> 1');
    expect(at).toBeGreaterThan(0);
    writeFileSync(edited, `${kernels.slice(0, at)}(k - 2) >> 1${kernels.slice(at + 12)}`);
    const asc = path.join(REPO, 'node_modules/.bin/asc');
    await execa(
      asc,
      [edited, '--config', path.join(REPO, 'asconfig.json'), '--target', 'simd', '-o', path.join(root, 'ml/engine/kernels.wasm')],
      { cwd: REPO },
    );
    expect(changed(before, await kindHashes(root))).toEqual(['latency', 'predict']);
  });

  /** Gives the build copy native sources with `edit` applied to kernels.h, and their digest as the build step writes it. */
  function editedNativeBuild(root: string, edit: (kernels: string) => string): void {
    const sources = path.join(path.dirname(root), 'native-engine');
    cpSync(path.join(REPO, 'native/engine'), sources, { recursive: true, filter: (f) => !f.includes(`${path.sep}build`) });
    const file = path.join(sources, 'src/kernels.h');
    const text = readFileSync(file, 'utf8');
    const edited = edit(text);
    expect(edited).not.toBe(text);
    writeFileSync(file, edited);
    writeFileSync(path.join(root, 'ml/engine', NATIVE_SOURCES_DIGEST), `${nativeEngineShapeDigest(sources)}\n`);
  }

  it('a one-character change in a native C++ kernel changes the keys of the kinds that run the engine, only', async () => {
    const root = copyBuild();
    const before = await kindHashes(root);
    editedNativeBuild(root, (text) => text.replace('(k - 1) >> 1', '(k - 2) >> 1'));
    expect(changed(before, await kindHashes(root))).toEqual(['latency', 'predict']);
  });

  it('a comment, an indent or a blank line in a native C++ kernel changes no key', async () => {
    const root = copyBuild();
    const before = await kindHashes(root);
    editedNativeBuild(root, (text) =>
      text.replace('// ', '// mended: ').replace('(k - 1) >> 1', '(k - 1)  >>  1 /* why */').replace('\n', '\n\n  \n'),
    );
    expect(changed(before, await kindHashes(root))).toEqual([]);
  });

  it('the C++ shape keeps literals, tokens, directives and line breaks, and drops comments and layout', () => {
    expect(cppShape('a = "// x  y";  b = \'"\'; // end\n#define F (x) /* y */\n\n  c/*z*/d = e - -f ;\n')).toBe(
      'a="// x  y";b=\'"\';\n#define F (x)\nc d=e- -f;',
    );
    expect(cppShape('x = a--b;')).not.toBe(cppShape('x = a - -b;'));
  });

  it('a one-character change in a training gradient kernel changes every kind that loads the backend', async () => {
    const root = copyBuild();
    const before = await kindHashes(root);
    const file = path.join(root, 'ml/kernels/conv2d-backprop.js');
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf('a * b, 1)');
    expect(at).toBeGreaterThan(0);
    writeFileSync(file, `${text.slice(0, at)}a * b, 2)${text.slice(at + 9)}`);
    const graphs = await Promise.all(
      registry
        .names()
        .map(async (name) =>
          (
            await new CodeHasher(undefined, undefined, null, root).graphFiles(
              path.join(root, 'steps/blu-net/impl', path.basename(fileURLToPath(registry.get(name)!.implementation!))),
            )
          ).includes(file),
        ),
    );
    expect(changed(before, await kindHashes(root))).toEqual(registry.names().filter((_, i) => graphs[i]));
    expect(graphs.some(Boolean)).toBe(true);
  });
});

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.js'))
    .map((f) => path.join(dir, f));
}

/** Moves a module and rewrites every relative specifier that named it, and its own. */
function moveModule(root: string, from: string, to: string): void {
  const [oldPath, newPath] = [path.join(root, from), path.join(root, to)];
  const relative = (fromFile: string, target: string): string => {
    const r = path.relative(path.dirname(fromFile), target).split(path.sep).join('/');
    return r.startsWith('.') ? r : `./${r}`;
  };
  for (const file of jsFiles(root)) {
    const text = readFileSync(file, 'utf8');
    const rewritten = text.replace(/(['"])(\.\.?\/[^'"]+\.js)\1/g, (whole, quote: string, spec: string) => {
      const target = path.resolve(path.dirname(file), spec);
      const home = file === oldPath ? newPath : file;
      if (target === oldPath) return `${quote}${relative(home, newPath)}${quote}`;
      return file === oldPath ? `${quote}${relative(newPath, target)}${quote}` : whole;
    });
    if (rewritten !== text) writeFileSync(file, rewritten);
  }
  mkdirSync(path.dirname(newPath), { recursive: true });
  renameSync(oldPath, newPath);
}
