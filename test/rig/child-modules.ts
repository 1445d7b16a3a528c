/** Transpiles source modules into a directory so plain `node` children (real processes) can import them. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { REPO } from './project.js';

/** Writes `sources` (repo paths under src/) as ESM JavaScript under `dir` (`src/a/b.ts` → `dir/a/b.js`), and `child.mjs`. */
export async function childFixture(dir: string, sources: readonly string[], childSource: string): Promise<string> {
  for (const src of sources) {
    const code = await readFile(join(REPO, src), 'utf8');
    const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    const dest = join(dir, src.replace(/^src\//, '').replace(/\.ts$/, '.js'));
    await mkdir(dirname(dest), { recursive: true });
    await writeFile(dest, js);
  }
  await writeFile(join(dir, 'package.json'), '{"type":"module"}');
  const child = join(dir, 'child.mjs');
  await writeFile(child, childSource);
  return child;
}
