/** Keeps the last lines of a step's output for failure messages, without holding the whole log. */
export class LogTail {
  readonly #lines: string[] = [];
  #partial = '';
  constructor(readonly limit = 30) {}

  push(text: string): void {
    const parts = (this.#partial + text).split('\n');
    this.#partial = parts.pop() ?? '';
    for (const line of parts) this.#add(line);
  }

  #add(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.limit) this.#lines.shift();
  }

  text(): string {
    const lines = this.#partial ? [...this.#lines, this.#partial] : this.#lines;
    return lines.slice(-this.limit).join('\n');
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
