import type { Reporter, RunEvent } from '../events.js';
import { formatDuration } from '../durations.js';
import { EventLines, progressText } from './format.js';

type Write = (text: string) => void;

function clock(time: number): string {
  return new Date(time).toISOString().slice(11, 19);
}

/** Non-TTY (CI, pipes): plain timestamped lines; step progress at most every few seconds per step. */
export class PlainReporter implements Reporter {
  readonly #lastProgress = new Map<string, number>();
  readonly #lines = new EventLines();
  constructor(
    readonly write: Write,
    readonly progressEveryMs = 5000,
  ) {}

  onEvent(event: RunEvent): void {
    if (event.type === 'step-progress') {
      const last = this.#lastProgress.get(event.stepId) ?? 0;
      if (event.time - last < this.progressEveryMs) return;
      this.#lastProgress.set(event.stepId, event.time);
      this.write(`${clock(event.time)} · ${event.stepId}: ${progressText(event.progress)}\n`);
      return;
    }
    const line = this.#lines.line(event);
    if (line) this.write(`${clock(event.time)} ${line}\n`);
  }
}

/** TTY: finished lines scroll, a live block shows each running step with elapsed time and progress. */
export class LiveReporter implements Reporter {
  readonly #running = new Map<string, { since: number; progress: string }>();
  #drawn = 0;
  readonly #timer: NodeJS.Timeout;
  readonly #frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  #frame = 0;
  readonly #lines = new EventLines();

  constructor(
    readonly write: Write,
    readonly columns: () => number = () => process.stderr.columns || 100,
  ) {
    this.#timer = setInterval(() => this.#redraw([]), 120);
    this.#timer.unref();
  }

  onEvent(event: RunEvent): void {
    const lines: string[] = [];
    if (event.type === 'step-start') this.#running.set(event.stepId, { since: event.time, progress: '' });
    if (event.type === 'step-progress') {
      const r = this.#running.get(event.stepId);
      if (r) r.progress = progressText(event.progress);
    }
    if (event.type === 'step-end') this.#running.delete(event.stepId);
    const line = this.#lines.line(event);
    if (line) lines.push(line);
    if (lines.length > 0 || event.type === 'step-start' || event.type === 'step-end') this.#redraw(lines);
  }

  #redraw(permanent: readonly string[]): void {
    const width = Math.max(20, this.columns() - 1);
    let out = this.#drawn > 0 ? `\x1b[${this.#drawn}A\x1b[J` : '';
    for (const l of permanent) out += `${l}\n`;
    this.#frame = (this.#frame + 1) % this.#frames.length;
    const live = [...this.#running].map(([id, r]) =>
      `${this.#frames[this.#frame]} ${id}  ${formatDuration(Date.now() - r.since)}  ${r.progress}`.slice(0, width),
    );
    for (const l of live) out += `${l}\n`;
    this.#drawn = live.length;
    if (out) this.write(out);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#running.clear();
    this.#redraw([]);
  }
}

/** `--json`: one JSON object per event per line, for scripts. */
export class JsonLinesReporter implements Reporter {
  constructor(readonly write: Write) {}
  onEvent(event: RunEvent): void {
    this.write(`${JSON.stringify(event)}\n`);
  }
}

/** Sends each event to every reporter; one reporter's failure never stops the run. */
export class FanOut implements Reporter {
  constructor(
    readonly reporters: readonly Reporter[],
    readonly onError: (error: unknown) => void = () => {},
  ) {}
  onEvent(event: RunEvent): void {
    for (const r of this.reporters) {
      try {
        r.onEvent(event);
      } catch (error) {
        this.onError(error);
      }
    }
  }
  async close(): Promise<void> {
    await Promise.all(this.reporters.map((r) => r.close?.().catch(this.onError)));
  }
}
