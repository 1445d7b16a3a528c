/**
 * The behaviour-relevant shape of one JavaScript module: its syntax tree without comments,
 * whitespace, source positions or the quoting of literals, so that a mended comment or a formatter
 * run leaves it unchanged, while any change to what the code does changes it. Relative import
 * specifiers are replaced by a placeholder (the graph hash puts the imported module's own shape
 * there), so moving a file does not change the shape of the modules that import it.
 *
 * TypeScript sources (the tests run from them) are transpiled first, which erases types.
 */
import { createRequire } from 'node:module';
import type * as AcornModule from 'acorn';
import { sha256Hex } from '../../artifacts/canonical.js';

export interface ModuleShape {
  /** SHA-256 of the normalised syntax tree. */
  readonly hash: string;
  /** Relative specifiers imported at run time (static, re-export, dynamic with a literal), in source order. */
  readonly imports: readonly string[];
  /** File names of assets beside the module that its behaviour depends on (string literals naming `*.wasm` or `*.digest`). */
  readonly assets: readonly string[];
}

const require = createRequire(import.meta.url);
// Loaded on first use: a no-op whose code is unchanged never parses anything.
let acorn: typeof AcornModule | null = null;

const isLocal = (specifier: unknown): specifier is string =>
  typeof specifier === 'string' && (specifier.startsWith('./') || specifier.startsWith('../'));
const ASSET = /^[\w.-]+\.(?:wasm|digest)$/;
/** Nodes whose `source` is a module specifier. */
const IMPORTING = new Set(['ImportDeclaration', 'ExportNamedDeclaration', 'ExportAllDeclaration', 'ImportExpression']);
/** Properties that describe layout, not behaviour. `raw` is a literal's spelling ('a' or "a"); its value stays. */
const LAYOUT_KEYS = new Set(['start', 'end', 'loc', 'range', 'raw']);

/** The shape of a module's text; `typescript` says whether it must be transpiled first. */
export async function moduleShape(text: string, typescript: boolean): Promise<ModuleShape> {
  const javascript = typescript ? await transpile(text) : text;
  acorn ??= require('acorn') as typeof AcornModule;
  const tree = acorn.parse(javascript, { ecmaVersion: 'latest', sourceType: 'module' });
  const imports: string[] = [];
  const assets = new Set<string>();
  const json = JSON.stringify(tree, function (this: unknown, key: string, value: unknown) {
    if (LAYOUT_KEYS.has(key)) return undefined;
    if (key === 'source' && isNode(this) && IMPORTING.has(this.type) && isNode(value) && value.type === 'Literal' && isLocal(value.value)) {
      imports.push(value.value);
      return '<local import>';
    }
    if (isNode(value) && value.type === 'Literal' && typeof value.value === 'string' && ASSET.test(value.value)) assets.add(value.value);
    return value;
  });
  return { hash: sha256Hex(json), imports: [...new Set(imports)], assets: [...assets].sort() };
}

interface NodeLike {
  readonly type: string;
  readonly value?: unknown;
}

function isNode(value: unknown): value is NodeLike {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

/** TypeScript → JavaScript (types erased), with the compiler the sources are developed with. */
async function transpile(text: string): Promise<string> {
  const ts = (await import('typescript')).default;
  return ts.transpileModule(text, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, verbatimModuleSyntax: false },
  }).outputText;
}
