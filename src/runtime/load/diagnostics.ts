import type { Document, LineCounter, Node as YamlNode } from 'yaml';
import { yamlLib } from '../lazy-deps.js';

/** One problem in a user's input, with an exact source position and a stable code. */
export interface Diagnostic {
  readonly code: string;
  readonly message: string;
  readonly file: string; // as given by the user (relative paths stay relative)
  readonly line: number; // 1-based; 0 when the problem has no position (e.g. --set)
  readonly col: number; // 1-based
  /** Optional further positions (e.g. every edge of a cycle). */
  readonly related?: readonly { readonly message: string; readonly line: number; readonly col: number; readonly file: string }[];
}

export type PathSegment = string | number;

/** A parsed YAML source that can map a data path back to line:col. */
export class SourceMap {
  #parsed: { doc: Document.Parsed; lines: LineCounter } | null = null;

  /** `parse` runs at most once, and only when a position is needed (a cached pipeline may never need one). */
  constructor(
    readonly file: string,
    readonly text: string,
    readonly parse: () => { doc: Document.Parsed; lines: LineCounter },
  ) {}

  get doc(): Document.Parsed {
    this.#parsed ??= this.parse();
    return this.#parsed.doc;
  }

  get lines(): LineCounter {
    this.#parsed ??= this.parse();
    return this.#parsed.lines;
  }

  /** Node at `path`, or the deepest ancestor that exists. */
  nodeAt(path: readonly PathSegment[]): YamlNode | null {
    let node: unknown = this.doc.contents;
    for (const segment of path) {
      const next = childNode(node, segment);
      if (next === undefined) break;
      node = next;
    }
    return yamlLib().isNode(node) ? node : null;
  }

  /** Position of the value at `path` (or of its key when `key` is true). */
  position(path: readonly PathSegment[], options: { key?: boolean; offsetInValue?: number } = {}): { line: number; col: number } {
    const parentPath = path.slice(0, -1);
    const last = path[path.length - 1];
    if (options.key && last !== undefined) {
      const parent = this.nodeAt(parentPath);
      if (yamlLib().isMap(parent)) {
        const pair = parent.items.find((item) => yamlLib().isScalar(item.key) && String(item.key.value) === String(last));
        if (pair && yamlLib().isNode(pair.key) && pair.key.range) return this.offsetToPos(pair.key.range[0]);
      }
    }
    const node = this.nodeAt(path);
    const start = node?.range?.[0] ?? 0;
    return this.offsetToPos(start + (options.offsetInValue ?? 0));
  }

  /** Raw source text of the scalar at `path` (to place a column inside a string). */
  rawText(path: readonly PathSegment[]): string | null {
    const node = this.nodeAt(path);
    if (!node?.range) return null;
    return this.text.slice(node.range[0], node.range[1]);
  }

  offsetToPos(offset: number): { line: number; col: number } {
    const pos = this.lines.linePos(offset);
    return { line: pos.line, col: pos.col };
  }

  diagnostic(
    code: string,
    message: string,
    path: readonly PathSegment[],
    options: { key?: boolean; offsetInValue?: number } = {},
  ): Diagnostic {
    const pos = this.position(path, options);
    return { code, message, file: this.file, line: pos.line, col: pos.col };
  }
}

// Position lookups happen for every step of big pipelines: index each map's keys once.
const mapIndex = new WeakMap<object, Map<string, unknown>>();

function childNode(node: unknown, segment: PathSegment): unknown {
  if (yamlLib().isMap(node)) {
    let index = mapIndex.get(node);
    if (!index) {
      index = new Map();
      for (const item of node.items)
        if (yamlLib().isPair(item) && yamlLib().isScalar(item.key)) index.set(String(item.key.value), item.value ?? undefined);
      mapIndex.set(node, index);
    }
    return index.get(String(segment));
  }
  if (yamlLib().isSeq(node) && typeof segment === 'number') return node.items[segment];
  return undefined;
}

export function formatDiagnostic(d: Diagnostic): string {
  // Line 0: no position (e.g. a --set); the file field then names the source.
  const where = (p: { file: string; line: number; col: number }) => (p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file);
  const related = (d.related ?? []).map((r) => `\n  ${where(r)}: ${r.message}`).join('');
  return `${where(d)}: ${d.message}${related}`;
}

/** Closest candidate by edit distance, if it is close enough to be a likely typo. */
export function didYouMean(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return best !== null && bestDistance <= limit ? best : null;
}

export function suggestion(word: string, candidates: Iterable<string>): string {
  const best = didYouMean(word, candidates);
  return best === null ? '' : ` (did you mean '${best}'?)`;
}

/** Edit distance where swapping two neighbours counts as one edit (typos like 'dpes' for 'deps'). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** Sorts diagnostics by file, then position, so output is stable. */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col || a.message.localeCompare(b.message));
}
