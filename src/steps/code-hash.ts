/**
 * The hash of a step kind's implementation as built: SHA-256 over every module reachable from the
 * kind's entry module through relative imports (static and dynamic), each named by its path
 * relative to the entry. It is part of every key of that kind, so editing code a kind uses reruns
 * exactly the kinds whose module graph contains the edit. Packages (bare specifiers such as
 * `@tensorflow/tfjs`) are not followed: their versions are pinned by package-lock.json.
 *
 * Cheap on no-op reruns: module contents are hashed through a stat cache (one lstat per unchanged
 * module) and each module's import list is remembered by content hash, so unchanged code is
 * neither read nor lexed. Running from the TypeScript sources (the tests), `./x.js` means `./x.ts`.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJsonFile, writeFileAtomic } from '../artifacts/atomic.js';
import { sha256Hex } from '../artifacts/canonical.js';
import { moduleLexer } from '../runtime/lazy-deps.js';
import type { StepKindRegistry } from './kind.js';

/** Content hash of a file, or null when it cannot be read. */
export type FileHasher = (absPath: string) => Promise<string | null>;

interface ModuleFacts {
  readonly hash: string;
  /** Absolute paths of the local modules it imports. */
  readonly imports: readonly string[];
}

const readAndHash: FileHasher = async (absPath) => {
  const text = await readFile(absPath).catch(() => null);
  return text === null ? null : sha256Hex(text);
};

/** What the memo file remembers: import lists by module content hash, and each graph's modules. */
export interface CodeMemo {
  /** Relative import specifiers by module content hash. */
  readonly specifiers: Map<string, readonly string[]>;
  /** Entry module → its graph. */
  readonly graphs: Map<string, GraphMemo>;
}

/** A graph's modules with their content hashes, and the graph hash. */
interface GraphMemo {
  readonly modules: readonly (readonly [string, string])[];
  readonly hash: string;
}

/** Hashes module graphs; each module is looked at once per instance, however many kinds share it. */
export class CodeHasher {
  readonly #modules = new Map<string, Promise<ModuleFacts>>();
  readonly #contentHashes = new Map<string, Promise<string | null>>();
  #dirty = false;

  constructor(
    readonly hashFile: FileHasher = readAndHash,
    readonly memo: CodeMemo = { specifiers: new Map(), graphs: new Map() },
    readonly memoFile: string | null = null,
  ) {}

  static async open(memoFile: string, hashFile: FileHasher): Promise<CodeHasher> {
    const saved = await readJsonFile<{ specifiers?: unknown; graphs?: unknown }>(memoFile);
    const specifiers = Object.entries(isRecord(saved?.specifiers) ? saved.specifiers : {}).filter((e): e is [string, string[]] => isStringList(e[1]));
    const graphs = Object.entries(isRecord(saved?.graphs) ? saved.graphs : {}).filter((e): e is [string, GraphMemo] => isGraphMemo(e[1]));
    return new CodeHasher(hashFile, { specifiers: new Map(specifiers), graphs: new Map(graphs) }, memoFile);
  }

  async save(): Promise<void> {
    if (!this.#dirty || this.memoFile === null) return;
    const body = { specifiers: Object.fromEntries(this.memo.specifiers), graphs: Object.fromEntries(this.memo.graphs) };
    await writeFileAtomic(this.memoFile, JSON.stringify(body));
    this.#dirty = false;
  }

  /**
   * Hex SHA-256 of the graph rooted at `entry` (an absolute file path). When every module of the
   * graph remembered for `entry` still has the same content, so do its imports: the graph and its
   * hash are unchanged, and nothing is resolved again.
   */
  async graphHash(entry: string): Promise<string> {
    const known = this.memo.graphs.get(entry);
    if (known !== undefined && (await Promise.all(known.modules.map(async ([f, h]) => (await this.#contentHash(f)) === h))).every(Boolean)) return known.hash;
    const files = await this.graphFiles(entry);
    const root = path.dirname(entry);
    const modules = await Promise.all(files.map(async (f) => [f, (await this.#facts(f)).hash] as const));
    const hash = sha256Hex(modules.map(([f, h]) => `${path.relative(root, f).split(path.sep).join('/')} ${h}`).join('\n'));
    this.memo.graphs.set(entry, { modules, hash });
    this.#dirty = true;
    return hash;
  }

  /** Every module of the graph rooted at `entry`, sorted. */
  async graphFiles(entry: string): Promise<string[]> {
    const seen = new Set<string>([entry]);
    for (let frontier = [entry]; frontier.length > 0; ) {
      const facts = await Promise.all(frontier.map((f) => this.#facts(f)));
      frontier = [];
      for (const f of facts.flatMap((x) => x.imports)) if (!seen.has(f)) (seen.add(f), frontier.push(f));
    }
    return [...seen].sort();
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
    // A module that cannot be read fails the step when it loads; here it only hashes as such.
    const hash = await this.#contentHash(file);
    if (hash === null) return { hash: 'unreadable', imports: [] };
    let specifiers = this.memo.specifiers.get(hash);
    if (specifiers === undefined) {
      specifiers = await localSpecifiers(await readFile(file, 'utf8'), file);
      this.memo.specifiers.set(hash, specifiers);
      this.#dirty = true;
    }
    return { hash, imports: [...new Set(specifiers.map((s) => sourceFile(path.resolve(path.dirname(file), s))))] };
  }
}

/** Code hash per kind name, for the kinds in `names` that declare their implementation module. */
export async function kindCodeHashes(registry: StepKindRegistry, names: Iterable<string>, hasher = new CodeHasher()): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  await Promise.all(
    [...new Set(names)].map(async (name) => {
      const implementation = registry.get(name)?.implementation;
      if (implementation !== undefined) hashes.set(name, await hasher.graphHash(sourceFile(fileURLToPath(implementation))));
    }),
  );
  return hashes;
}

/** Relative specifiers a module imports at run time (type-only imports are erased in the build). */
async function localSpecifiers(text: string, file: string): Promise<string[]> {
  const { init, parse } = moduleLexer();
  await init();
  const [imports] = parse(text, file);
  const specifiers = imports
    .filter((i) => i.type !== 'import-meta' && !(i.type === 'dynamic' ? i.probablyTypeOnly : i.typeOnly))
    .map((i) => i.specifier)
    .filter((s): s is string => typeof s === 'string' && (s.startsWith('./') || s.startsWith('../')));
  return [...new Set(specifiers)];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((s) => typeof s === 'string');
}

function isGraphMemo(value: unknown): value is GraphMemo {
  return isRecord(value) && typeof value.hash === 'string' && Array.isArray(value.modules) && value.modules.every((m) => isStringList(m) && m.length === 2);
}

/** `x.js` as built, or its `x.ts` source when running from the sources. */
function sourceFile(jsPath: string): string {
  if (existsSync(jsPath) || !jsPath.endsWith('.js')) return jsPath;
  const ts = `${jsPath.slice(0, -3)}.ts`;
  return existsSync(ts) ? ts : jsPath;
}
