import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import type { Diagnostic } from './diagnostics.js';
import { SourceMap } from './diagnostics.js';
import type { Result } from './result.js';
import { err, ok } from './result.js';

export interface ParsedYaml {
  readonly source: SourceMap;
  readonly value: unknown;
}

/** Reads and parses a YAML file keeping node ranges; syntax errors become positioned diagnostics. */
export async function readYamlFile(file: string, displayName: string): Promise<Result<ParsedYaml, Diagnostic[]>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(code ?? error);
    return err([{ code: 'BLU_FILE_UNREADABLE', message: `cannot read '${displayName}': ${why}`, file: displayName, line: 0, col: 0 }]);
  }
  return parseYamlText(text, displayName);
}

export function parseYamlText(text: string, displayName: string): Result<ParsedYaml, Diagnostic[]> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const source = new SourceMap(displayName, text, doc, lines);
  if (doc.errors.length > 0) {
    return err(
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        const lineText = text.split('\n')[pos.line - 1] ?? '';
        // `${…}` inside [ ] or { } reads as a YAML flow map: the most common cause of this error.
        const hint = /\[[^\]]*\$\{|\{[^}]*\$\{/.test(lineText) ? "; quote values that contain ${…} inside [ ] or { }, e.g. ['out/${matrix.k}.txt']" : '';
        return { code: 'BLU_YAML_SYNTAX', message: `YAML syntax error: ${firstLine(e.message)}${hint}`, file: displayName, line: pos.line, col: pos.col };
      }),
    );
  }
  return ok({ source, value: doc.toJS({ maxAliasCount: 1000 }) as unknown });
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}
