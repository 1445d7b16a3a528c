/**
 * Splits a command string into argv words like a POSIX shell would split them, but WITHOUT a shell:
 * quotes ('…', "…") and backslash escapes group words; nothing is expanded ($, *, ~, | are literal).
 */
export function splitWords(text: string): { words: string[]; error: string | null } {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else current += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) current += text[++i];
      else current += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (quote) return { words, error: `unterminated ${quote === '"' ? 'double' : 'single'} quote` };
  if (inWord) words.push(current);
  return { words, error: null };
}
