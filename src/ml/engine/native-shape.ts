/**
 * The behaviour-relevant shape of the native engine's C++ sources, for the code hash: each source
 * without comments, blank lines or the blanks a formatter moves (line breaks stay: they end
 * preprocessor directives). A mended comment, an indent or a re-spaced line leaves the digest as
 * it was, as they do in a TypeScript module (runtime/kinds/code-shape.ts). The addon's build
 * cache keeps the byte-level digest (native-build.ts). Build-time only: runtime modules must not
 * import this (decomment is a dev dependency).
 */
import decomment from 'decomment';
import { digestEngineSources } from './native-build.js';

// Characters that join into one token with a word character beside them; a literal's quotes count
// as such, so `u8"x"` and `u8 "x"` stay apart while `= "x"` is `="x"`.
const WORD = /[\w$"']/;

/** Index just past the string or character literal that opens at `start`. */
function literalEnd(line: string, start: number): number {
  const quote = line[start];
  let i = start + 1;
  while (i < line.length && line[i] !== quote) i += line[i] === '\\' ? 2 : 1;
  return Math.min(i + 1, line.length);
}

/**
 * One line without layout: literals verbatim; a run of blanks is dropped between a word character
 * and punctuation (`a + b` is `a+b`) and kept as one space between two words or two punctuation
 * marks (`a - -b` must not become `a--b`). A directive keeps its spaces (`#define F (x)` is not
 * `#define F(x)`).
 */
function shapeLine(line: string): string {
  const text = line.trim();
  if (text.startsWith('#')) return text.replace(/\s+/g, ' ');
  let out = '';
  let blank = false;
  for (let i = 0; i < text.length; ) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      blank = true;
      i++;
      continue;
    }
    const end = c === '"' || c === "'" ? literalEnd(text, i) : i + 1;
    if (blank && WORD.test(out.at(-1) ?? '') === WORD.test(c)) out += ' ';
    out += text.slice(i, end);
    blank = false;
    i = end;
  }
  return out;
}

/** C/C++ text without comments or layout, one non-empty line per source line that has code. */
export function cppShape(text: string): string {
  return decomment
    .text(text, { space: true })
    .split(/\r?\n/)
    .map(shapeLine)
    .filter((line) => line !== '')
    .join('\n');
}

/** The sources' digest (digestEngineSources) with binding.gyp as bytes and every C++ file as its shape; null without sources. */
export function nativeEngineShapeDigest(sources: string): string | null {
  return digestEngineSources(sources, (file, bytes) => (file === 'binding.gyp' ? bytes : cppShape(bytes.toString('utf8'))));
}
