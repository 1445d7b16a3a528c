/** Keeps the last lines of a step's output for failure messages, without holding the whole log. */
export class LogTail {
  readonly #lines: string[] = [];
  constructor(readonly limit = 30) {}

  /** One complete line (split by a LineSplitter), without its newline. */
  add(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.limit) this.#lines.shift();
  }

  text(): string {
    return this.#lines.join('\n');
  }
}

/** Splits a byte stream into lines, calling `onLine` for each complete one. */
export class LineSplitter {
  #partial = '';
  constructor(readonly onLine: (line: string) => void) {}

  push(text: string): void {
    const parts = (this.#partial + text).split('\n');
    this.#partial = parts.pop() ?? '';
    for (const line of parts) this.onLine(line.replace(/\r$/, ''));
  }

  flush(): void {
    if (this.#partial) this.onLine(this.#partial);
    this.#partial = '';
  }
}
