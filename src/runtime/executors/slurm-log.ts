/**
 * Follows a Slurm job's log file as it grows (it is written on the compute node; we read it over
 * the shared filesystem) and forwards `::blu::` protocol lines to the step report.
 */
import { open, stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import type { StepReport } from '../executor.js';
import { PROTOCOL_PREFIX, parseProtocolLine } from '../exec/step-protocol.js';

const TAIL_BYTES = 64 * 1024;
const READ_CHUNK = 256 * 1024;

export class LogFollower {
  private offset = 0;
  private partial = '';
  // Reads may end inside a multi-byte character; the decoder carries it over.
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    private readonly logPath: string,
    private readonly report: StepReport,
  ) {}

  /** Reads what was appended since the last call and forwards complete protocol lines. */
  async drain(): Promise<void> {
    const size = await fileSize(this.logPath);
    if (size === null || size <= this.offset) return;
    const handle = await open(this.logPath, 'r');
    try {
      while (this.offset < size) {
        const buffer = Buffer.alloc(Math.min(READ_CHUNK, size - this.offset));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        this.consume(this.decoder.write(buffer.subarray(0, bytesRead)));
      }
    } finally {
      await handle.close();
    }
  }

  /** Call once the job ended: a last line without a newline still counts. */
  async finish(): Promise<void> {
    await this.drain();
    this.partial += this.decoder.end();
    if (this.partial !== '') this.forward(this.partial);
    this.partial = '';
  }

  private consume(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.forward(line);
  }

  private forward(rawLine: string): void {
    const message = parseProtocolLine(rawLine.replace(/\r$/, ''));
    if (message === null) return;
    if (message.type === 'progress') this.report.progress(message.progress);
    else if (message.type === 'tag') this.report.tag(message.key, message.value);
    else this.report.metric(message.name, message.value, message.step, message.timestamp);
  }
}

async function fileSize(filePath: string): Promise<number | null> {
  try {
    return (await stat(filePath)).size;
  } catch {
    return null; // not created yet: the job has not started
  }
}

/**
 * The last `lines` human lines of a log (read from its end only; `::blu::` protocol lines left out,
 * as in local runs), or '' when it does not exist.
 */
export async function readLogTail(logPath: string, lines = 30): Promise<string> {
  const size = await fileSize(logPath);
  if (size === null || size === 0) return '';
  const start = Math.max(0, size - TAIL_BYTES);
  const handle = await open(logPath, 'r');
  try {
    const buffer = Buffer.alloc(size - start);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    const text = buffer.subarray(0, bytesRead).toString('utf8').replace(/\n$/, '');
    return text
      .split('\n')
      .filter((line) => !line.startsWith(PROTOCOL_PREFIX))
      .slice(-lines)
      .join('\n');
  } finally {
    await handle.close();
  }
}
