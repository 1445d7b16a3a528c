/**
 * The hash of a step kind's implementation: what the kind's code does, not how it is written or
 * where its files lie. It is part of every key of the kind, so a change to code a kind runs reruns
 * exactly the kinds whose module graph holds the change, while housekeeping reruns nothing.
 *
 * What is in it (for a kind's entry module, as built in dist/):
 * - every module reachable through relative imports (static, re-export, dynamic with a literal),
 *   each as its shape (code-shape.ts): the syntax tree without comments, whitespace, positions or
 *   literal quoting, with each relative import replaced by the imported module's own shape;
 * - the bytes of assets beside a module that it names: `*.wasm` (the engine's wasm kernels) and
 *   `*.digest` (native-engine.digest: the digest of the engine's C++ sources, written at build);
 * - the entry's shape first, then the others sorted, so the hash depends on neither paths nor order.
 * What is not: packages (bare specifiers; package-lock.json pins them), and modules under
 * `runtime/`, `cli/`, `tracking/` and `artifacts/` of the source root, which move files, log and
 * track but compute no result (their imports are not followed).
 *
 * Cheap on no-op reruns: content hashes come through a stat cache, and each module's shape is
 * remembered by content hash, so unchanged code is neither read nor parsed.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJsonFile, writeFileAtomic } from '../../artifacts/atomic.js';
import { sha256Hex } from '../../artifacts/canonical.js';
import { type ModuleShape, moduleShape } from './code-shape.js';
import type { StepKindRegistry } from './kind.js';

/** Content hash of a file, or null when it cannot be read. */
export type FileHasher = (absPath: string) => Promise<string | null>;

/** Source-root folders that hold plumbing: a kind's hash does not follow imports into them. */
export const PLUMBING_DIRS: readonly string[] = ['runtime', 'cli', 'tracking', 'artifacts'];
const SOURCE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Bump when what a shape means changes, so old memos are not reused. */
const MEMO_VERSION = 3;

interface ModuleFacts {
  readonly shape: string;
  /** Absolute paths of the local modules it imports (plumbing left out), in source order. */
  readonly imports: readonly string[];
  /** Absolute paths of its binary assets. */
  readonly assets: readonly string[];
}

const readAndHash: FileHasher = async (absPath) => {
  const text = await readFile(absPath).catch(() => null);
  return text === null ? null : sha256Hex(text);
};

/** What the memo file remembers: module shapes by content hash, and each graph's files. */
export interface CodeMemo {
  readonly shapes: Map<string, ModuleShape>;
  /** Entry module → its graph. */
  readonly graphs: Map<string, GraphMemo>;
}

/** The graph's files (modules and assets) with their content hashes, and the graph hash. */
interface GraphMemo {
  readonly files: readonly (readonly [string, string])[];
  readonly hash: string;
}

/** Hashes module graphs; each module is looked at once per instance, however many kinds share it. */
export class CodeHasher {
  readonly #modules = new Map<string, Promise<ModuleFacts>>();
  readonly #contentHashes = new Map<string, Promise<string | null>>();
  #dirty = false;

  constructor(
    readonly hashFile: FileHasher = readAndHash,
    readonly memo: CodeMemo = { shapes: new Map(), graphs: new Map() },
    readonly memoFile: string | null = null,
    /** The folder whose PLUMBING_DIRS are not followed: `src/` (or `dist/src/`) of this build. */
    readonly sourceRoot: string = SOURCE_ROOT,
  ) {}

  static async open(memoFile: string, hashFile: FileHasher): Promise<CodeHasher> {
    const saved = await readJsonFile<{ version?: unknown; shapes?: unknown; graphs?: unknown }>(memoFile);
    if (saved?.version !== MEMO_VERSION) return new CodeHasher(hashFile, undefined, memoFile);
    const shapes = Object.entries(isRecord(saved.shapes) ? saved.shapes : {}).filter((e): e is [string, ModuleShape] => isShape(e[1]));
    const graphs = Object.entries(isRecord(saved.graphs) ? saved.graphs : {}).filter((e): e is [string, GraphMemo] => isGraphMemo(e[1]));
    return new CodeHasher(hashFile, { shapes: new Map(shapes), graphs: new Map(graphs) }, memoFile);
  }

  async save(): Promise<void> {
    if (!this.#dirty || this.memoFile === null) return;
    const body = { version: MEMO_VERSION, shapes: Object.fromEntries(this.memo.shapes), graphs: Object.fromEntries(this.memo.graphs) };
    await writeFileAtomic(this.memoFile, JSON.stringify(body));
    this.#dirty = false;
  }

  /**
   * Hex SHA-256 of the graph rooted at `entry` (an absolute file path). When every file of the
   * graph remembered for `entry` still has the same content, so do its imports: the graph and its
   * hash are unchanged, and nothing is resolved again.
   */
  async graphHash(entry: string): Promise<string> {
    const known = this.memo.graphs.get(entry);
    if (known !== undefined && (await this.#unchanged(known.files))) return known.hash;
    const modules = await this.graphFiles(entry);
    const facts = new Map(await Promise.all(modules.map(async (f) => [f, await this.#facts(f)] as const)));
    const line = async (f: string): Promise<string> => {
      const own = facts.get(f)!;
      const assets = await Promise.all(own.assets.map(async (a) => `${path.basename(a)}=${await this.#contentHash(a)}`));
      return [own.shape, ...own.imports.map((i) => facts.get(i)!.shape), ...assets].join(' ');
    };
    const lines = await Promise.all(modules.filter((f) => f !== entry).map(line));
    const hash = sha256Hex([await line(entry), ...lines.sort()].join('\n'));
    const files = [...modules, ...[...facts.values()].flatMap((x) => x.assets)];
    this.memo.graphs.set(entry, {
      files: await Promise.all(files.map(async (f) => [f, (await this.#contentHash(f)) ?? 'unreadable'] as const)),
      hash,
    });
    this.#dirty = true;
    return hash;
  }

  /** Every module of the graph rooted at `entry`, sorted. */
  async graphFiles(entry: string): Promise<string[]> {
    const seen = new Set<string>([entry]);
    for (let frontier = [entry]; frontier.length > 0; ) {
      const facts = await Promise.all(frontier.map((f) => this.#facts(f)));
      frontier = [];
      for (const f of facts.flatMap((x) => x.imports)) if (!seen.has(f)) seen.add(f), frontier.push(f);
    }
    return [...seen].sort();
  }

  async #unchanged(files: readonly (readonly [string, string])[]): Promise<boolean> {
    const now = await Promise.all(files.map(async ([f, h]) => ((await this.#contentHash(f)) ?? 'unreadable') === h));
    return now.every(Boolean);
  }

  #facts(file: string): Promise<ModuleFacts> {
    let facts = this.#modules.get(file);
    if (facts === undefined) {
      facts = this.#readModule(file);
      this.#modules.set(file, facts);
    }
    return facts;
  }

  #contentHash(file: string): Promise<string | null> {
    let hash = this.#contentHashes.get(file);
    if (hash === undefined) {
      hash = this.hashFile(file);
      this.#contentHashes.set(file, hash);
    }
    return hash;
  }

  async #readModule(file: string): Promise<ModuleFacts> {
    // A module that cannot be read (or parsed) fails the step when it loads; here it hashes as such.
    const content = await this.#contentHash(file);
    if (content === null) return { shape: 'unreadable', imports: [], assets: [] };
    let shape = this.memo.shapes.get(content);
    if (shape === undefined) {
      shape = await moduleShape(await readFile(file, 'utf8'), file.endsWith('.ts')).catch(() => ({
        hash: `unparsable ${content}`,
        imports: [],
        assets: [],
      }));
      this.memo.shapes.set(content, shape);
      this.#dirty = true;
    }
    const dir = path.dirname(file);
    const imports = shape.imports.map((s) => sourceFile(path.resolve(dir, s))).filter((f) => !isPlumbing(this.sourceRoot, f));
    return { shape: shape.hash, imports: [...new Set(imports)], assets: shape.assets.map((a) => assetFile(dir, a)) };
  }
}

/** Code hash per kind name, for the kinds in `names` that declare their implementation module. */
export async function kindCodeHashes(
  registry: StepKindRegistry,
  names: Iterable<string>,
  hasher = new CodeHasher(),
): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  await Promise.all(
    [...new Set(names)].map(async (name) => {
      const implementation = registry.get(name)?.implementation;
      if (implementation !== undefined) hashes.set(name, await hasher.graphHash(sourceFile(fileURLToPath(implementation))));
    }),
  );
  return hashes;
}

function isPlumbing(sourceRoot: string, file: string): boolean {
  const relative = path.relative(sourceRoot, file);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return false;
  return PLUMBING_DIRS.includes(relative.split(path.sep)[0]!);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isStringList = (value: unknown): value is string[] => Array.isArray(value) && value.every((s) => typeof s === 'string');

function isShape(value: unknown): value is ModuleShape {
  return isRecord(value) && typeof value.hash === 'string' && isStringList(value.imports) && isStringList(value.assets);
}

function isGraphMemo(value: unknown): value is GraphMemo {
  return (
    isRecord(value) &&
    typeof value.hash === 'string' &&
    Array.isArray(value.files) &&
    value.files.every((m) => isStringList(m) && m.length === 2)
  );
}

/** `x.js` as built, or its `x.ts` source when running from the sources. */
function sourceFile(jsPath: string): string {
  if (existsSync(jsPath) || !jsPath.endsWith('.js')) return jsPath;
  const ts = `${jsPath.slice(0, -3)}.ts`;
  return existsSync(ts) ? ts : jsPath;
}

/** An asset beside its module, or, running from the sources, beside the module's build in dist/. */
function assetFile(dir: string, name: string): string {
  const beside = path.join(dir, name);
  if (existsSync(beside)) return beside;
  const relative = path.relative(SOURCE_ROOT, dir);
  const built = path.join(SOURCE_ROOT, '..', 'dist', 'src', relative, name);
  return !relative.startsWith('..') && existsSync(built) ? built : beside;
}
