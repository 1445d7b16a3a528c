import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Alias, Document, LineCounter } from 'yaml';
import { yamlLib } from '../lazy-deps.js';
import { readJsonFile, writeFileAtomic } from '../../artifacts/atomic.js';
import { sha256Hex } from '../../artifacts/canonical.js';
import type { Diagnostic } from './diagnostics.js';
import { SourceMap } from './diagnostics.js';
import type { Result } from '../../base/result.js';
import { err, ok } from '../../base/result.js';

export interface ParsedYaml {
  readonly source: SourceMap;
  readonly value: unknown;
  /** True when the value came from the parse cache: the same text was parsed and validated before. */
  readonly cached: boolean;
}

/**
 * Reads and parses a YAML file keeping node ranges; syntax errors become positioned diagnostics.
 * With `cacheDir`, text that was parsed and validated before is read back from JSON, which skips
 * the (slow) YAML parse on no-op reruns of big pipelines; positions are still parsed on demand.
 */
export async function readYamlFile(
  file: string,
  displayName: string,
  cacheDir: string | null = null,
): Promise<Result<ParsedYaml, Diagnostic[]>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(code ?? error);
    return err([{ code: 'BLU_FILE_UNREADABLE', message: `cannot read '${displayName}': ${why}`, file: displayName, line: 0, col: 0 }]);
  }
  if (cacheDir) {
    const hit = await readJsonFile<{ value: unknown }>(cachePath(cacheDir, text));
    if (hit && 'value' in hit)
      return ok({ source: new SourceMap(displayName, text, () => parseText(text)), value: hit.value, cached: true });
  }
  return parseYamlText(text, displayName);
}

/** Records that `text` parsed to `value` and passed validation. Values JSON cannot hold are not cached. */
export async function rememberParsed(cacheDir: string, text: string, value: unknown): Promise<void> {
  if (!jsonSafe(value)) return;
  await mkdir(cacheDir, { recursive: true });
  await writeFileAtomic(cachePath(cacheDir, text), JSON.stringify({ value }));
}

function cachePath(cacheDir: string, text: string): string {
  return path.join(cacheDir, `${sha256Hex(text)}.json`);
}

function jsonSafe(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (Array.isArray(value)) return value.every(jsonSafe);
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) return Object.values(value as object).every(jsonSafe);
  return false;
}

function parseText(text: string): { doc: Document.Parsed; lines: LineCounter } {
  const { LineCounter: Counter, parseDocument } = yamlLib();
  const lines = new Counter();
  return { doc: parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true }) as Document.Parsed, lines };
}

export function parseYamlText(text: string, displayName: string): Result<ParsedYaml, Diagnostic[]> {
  const parsed = parseText(text);
  const { doc, lines } = parsed;
  const source = new SourceMap(displayName, text, () => parsed);
  if (doc.errors.length > 0) {
    return err(
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        const lineText = text.split('\n')[pos.line - 1] ?? '';
        // `${…}` inside [ ] or { } reads as a YAML flow map: the most common cause of this error.
        const hint = /\[[^\]]*\$\{|\{[^}]*\$\{/.test(lineText)
          ? "; quote values that contain ${…} inside [ ] or { }, e.g. ['out/${matrix.k}.txt']"
          : '';
        return {
          code: 'BLU_YAML_SYNTAX',
          message: `YAML syntax error: ${firstLine(e.message)}${hint}`,
          file: displayName,
          line: pos.line,
          col: pos.col,
        };
      }),
    );
  }
  try {
    return ok({ source, value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown, cached: false });
  } catch (error) {
    // yaml throws a ReferenceError when aliases of aliases would expand past the limit ("billion laughs").
    if (!(error instanceof ReferenceError)) throw error;
    const at = nestedAlias(doc);
    const pos = lines.linePos(at?.range?.[0] ?? 0);
    const name = at ? `*${at.source}` : 'aliases';
    const message = `YAML aliases expand too much: ${name} refers to an anchor that itself holds aliases, and the nesting would expand past ${MAX_ALIAS_COUNT} nodes (a "billion laughs" pattern); write the values out or nest anchors less deeply`;
    return err([{ code: 'BLU_YAML_ALIASES', message, file: displayName, line: pos.line, col: pos.col }]);
  }
}

/** Enough for any real pipeline; an exponential alias nesting goes past it within a few levels. */
const MAX_ALIAS_COUNT = 1000;

/** The first alias whose anchor contains further aliases: where a nested expansion starts. */
function nestedAlias(doc: Document.Parsed): Alias | undefined {
  const { isAlias, visit } = yamlLib();
  let found: Alias | undefined;
  visit(doc, {
    Alias(_, node) {
      const target = node.resolve(doc);
      let nested = false;
      if (target !== undefined) visit(target, { Alias: () => ((nested = true), visit.BREAK) });
      if (nested && isAlias(node)) {
        found = node;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}
