import type { StepReport } from '../executor.js';
import { LineSplitter, LogTail } from './log-tail.js';
import { parseProtocolLine } from './step-protocol.js';

/**
 * Splits a step's raw output into lines: `::blu::` protocol lines go to the report, everything
 * else to the log, and the last lines are kept for failure messages.
 */
export class OutputRouter {
  readonly #tail = new LogTail();
  readonly #lines: LineSplitter;

  /** `drop` names lines that are noise for this step (e.g. a library's start-up notices). */
  constructor(report: StepReport, output: (text: string) => void, drop?: (line: string) => boolean) {
    this.#lines = new LineSplitter((line) => {
      if (drop?.(line) === true) return;
      const message = parseProtocolLine(line);
      if (message?.type === 'progress') report.progress(message.progress);
      else if (message?.type === 'metric') report.metric(message.name, message.value, message.step, message.timestamp);
      else if (message?.type === 'tag') report.tag(message.key, message.value);
      else {
        output(`${line}\n`);
        this.#tail.add(line);
      }
    });
  }

  readonly push = (chunk: Buffer | string): void => this.#lines.push(chunk.toString());

  flush(): void {
    this.#lines.flush();
  }

  tail(): string {
    return this.#tail.text();
  }
}
