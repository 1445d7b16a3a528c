/**
 * Local, durable record of a run's tracking: the event journal (written before anything is
 * sent), the acknowledgements of operations the store confirmed, and the blu→MLflow run index.
 * Layout under `<projectDir>/.blu/tracking/`:
 *   journal/<runId>.jsonl        header line, then one event per line (fsync'd in batches)
 *   journal/<runId>.acks.jsonl   one line per acknowledged operation, per store URI
 *   index.jsonl                  (store, blu run, step) → MLflow run id, for restored steps
 */
import { appendFileSync, closeSync, fstatSync, promises as fs, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { PipelineRunInfo } from './tracker.js';
import type { JournalEvent } from './plan.js';
import type { CreatedRun } from './store.js';
import { type Result, ok, err } from '../base/result.js';
import { openCreatingDir, writeCreatingDir } from '../base/files.js';
import { fsyncAsync } from '../artifacts/atomic.js';
import { journalDir, trackingDir } from './paths.js';

/**
 * Appends lines to a file; failures come back as data (the caller decides how loud to be).
 * Synchronous: an acknowledgement is one short line per operation, and a thread-pool round trip
 * for each made a tracked no-op wait on a busy machine. The directory is made only when missing.
 */
async function appendLines(file: string, text: string): Promise<Result<void, string>> {
  try {
    writeCreatingDir(file, (f) => appendFileSync(f, text));
    return ok(undefined);
  } catch (cause) {
    return err(`cannot write ${file}: ${String(cause)}`);
  }
}

export interface JournalHeader {
  readonly type: 'header';
  readonly version: 1;
  readonly info: PipelineRunInfo;
  readonly experimentName: string;
  readonly user: string;
  /** The store the run was tracked to (no credentials); `mlflow sync` replays there. Absent in older journals. */
  readonly trackingUri?: string;
}

/** JSON cannot hold NaN/±Infinity: keep them as tagged objects so replays see the same numbers. */
function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return { $num: String(value) };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const num = (value as Record<string, unknown>)['$num'];
    if (keys.length === 1 && typeof num === 'string') return Number(num);
  }
  return value;
}

export const encodeLine = (value: unknown): string => `${JSON.stringify(value, replacer)}\n`;
export const decodeLine = (line: string): unknown => JSON.parse(line, reviver);

/**
 * Append-only journal file; each `append` is one write plus one fsync. Only the fsync goes to the
 * thread pool: opening and the small writes are synchronous, since on a busy machine every
 * thread-pool round trip of a tracked no-op waited for the CPU again.
 */
export class JournalWriter {
  private closed = false;
  private constructor(
    private readonly fd: number,
    readonly file: string,
  ) {}

  static async open(projectDir: string, header: JournalHeader): Promise<Result<JournalWriter, string>> {
    const file = path.join(journalDir(projectDir), `${safeName(header.info.runId)}.jsonl`);
    try {
      const writer = new JournalWriter(openCreatingDir(file, 'a'), file);
      const empty = fstatSync(writer.fd).size === 0;
      const written = empty ? await writer.append([header]) : ok(undefined);
      return written.ok ? ok(writer) : written;
    } catch (cause) {
      return err(`cannot open the tracking journal ${file}: ${String(cause)}`);
    }
  }

  /** One write and one fsync for the whole batch. */
  async append(entries: readonly unknown[]): Promise<Result<void, string>> {
    if (entries.length === 0) return ok(undefined);
    try {
      writeAll(this.fd, entries.map(encodeLine).join(''));
      await fsyncAsync(this.fd);
      return ok(undefined);
    } catch (cause) {
      return err(`tracking journal write failed (${this.file}): ${String(cause)}`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch {
      // already unusable: nothing left to release
    }
  }
}

/** writeSync may write less than asked (as FileHandle.write would): loop until all is written. */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset);
}

/** A small local file's text, or '' when it cannot be read (read synchronously, as appendLines writes). */
function readTextOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function safeName(runId: string): string {
  return runId.replace(/[^A-Za-z0-9_.-]/g, '_');
}

export interface JournalContents {
  readonly header: JournalHeader;
  readonly events: JournalEvent[];
}

/** Reads a journal; a torn last line (a crash mid-write) is ignored. */
export async function readJournal(file: string): Promise<JournalContents | null> {
  const text = await fs.readFile(file, 'utf8').catch(() => null);
  if (text === null) return null;
  const entries: unknown[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      entries.push(decodeLine(line));
    } catch {
      break;
    }
  }
  const [first, ...rest] = entries;
  if (first === null || typeof first !== 'object' || (first as { type?: unknown }).type !== 'header') return null;
  return { header: first as JournalHeader, events: rest as JournalEvent[] };
}

interface AckLine {
  readonly uri: string;
  readonly op?: string;
  readonly ref?: string;
  readonly run?: CreatedRun;
  readonly experimentId?: string;
  readonly failed?: string;
}

/** Which operations a given store has confirmed, and the MLflow runs it created for us. */
export class AckLog {
  private readonly done = new Set<string>();
  readonly runs = new Map<string, CreatedRun>();
  experimentId: string | null = null;

  private constructor(
    private readonly file: string,
    private readonly uri: string,
  ) {}

  static async load(projectDir: string, runId: string, uri: string): Promise<AckLog> {
    const file = path.join(journalDir(projectDir), `${safeName(runId)}.acks.jsonl`);
    const log = new AckLog(file, uri);
    const text = readTextOrEmpty(file);
    for (const line of text.split('\n')) {
      try {
        if (line.trim() !== '') log.apply(JSON.parse(line) as AckLine);
      } catch {
        // a torn line: that acknowledgement is lost, the operation will be re-sent
      }
    }
    return log;
  }

  private apply(line: AckLine): void {
    if (line.uri !== this.uri) return;
    if (line.op !== undefined) this.done.add(line.op);
    if (line.ref !== undefined && line.run !== undefined) this.runs.set(line.ref, line.run);
    if (line.experimentId !== undefined) this.experimentId = line.experimentId;
  }

  has(op: string): boolean {
    return this.done.has(op);
  }

  /** Remembered in memory even if the file write fails (then a later sync may resend it). */
  async record(entry: Omit<AckLine, 'uri'>): Promise<Result<void, string>> {
    const line: AckLine = { uri: this.uri, ...entry };
    this.apply(line);
    return appendLines(this.file, `${JSON.stringify(line)}\n`);
  }
}

interface IndexLine {
  readonly uri: string;
  readonly bluRunId: string;
  readonly stepId: string | null;
  readonly mlflowRunId: string;
}

/** (store, blu run, step) → MLflow run id, so restored steps can point at the run that made them. */
export class RunIndex {
  private readonly entries = new Map<string, string>();
  private constructor(private readonly file: string) {}

  static async load(projectDir: string): Promise<RunIndex> {
    const index = new RunIndex(path.join(trackingDir(projectDir), 'index.jsonl'));
    const text = readTextOrEmpty(index.file);
    for (const line of text.split('\n')) {
      try {
        if (line.trim() !== '') index.remember(JSON.parse(line) as IndexLine);
      } catch {
        // torn line
      }
    }
    return index;
  }

  private remember(line: IndexLine): void {
    this.entries.set(`${line.uri}\n${line.bluRunId}\n${line.stepId ?? ''}`, line.mlflowRunId);
  }

  find(uri: string, bluRunId: string, stepId: string): string | undefined {
    return this.entries.get(`${uri}\n${bluRunId}\n${stepId}`);
  }

  knowsRun(uri: string, bluRunId: string): boolean {
    return this.entries.has(`${uri}\n${bluRunId}\n`);
  }

  async add(line: IndexLine): Promise<Result<void, string>> {
    this.remember(line);
    return appendLines(this.file, `${JSON.stringify(line)}\n`);
  }
}
