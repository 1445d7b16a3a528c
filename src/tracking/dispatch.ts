/**
 * Executes planned operations against a store, in order, skipping acknowledged ones.
 * Retryable failures back off exponentially within a bounded budget per outage; when the
 * budget is spent the dispatcher goes offline and leaves the rest to `syncJournal`.
 */
import { mkdtempSync, promises as fs, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Result } from '../base/result.js';
import type { AckLog, RunIndex } from './journal.js';
import type { Op } from './plan.js';
import type { CreatedRun, StoreError, TrackingStore } from './store.js';

export interface DispatchOptions {
  /** Longest total wait for one outage before giving up (default 30 s). */
  readonly retryBudgetMs: number;
  readonly baseDelayMs: number;
  readonly maxArtifactBytes: number;
  /** Check for a run created by an earlier, unacknowledged attempt before creating it again. */
  readonly verifyCreates: boolean;
  readonly warn: (message: string) => void;
}

export interface DispatchContext {
  readonly store: TrackingStore;
  readonly acks: AckLog;
  readonly index: RunIndex;
  readonly bluRunId: string;
  readonly experimentName: string;
  readonly user: string;
}

type Outcome = 'done' | 'skipped' | 'offline';

export class Dispatcher {
  offline: StoreError | null = null;
  sent = 0;
  /** Wall-clock start of the current outage (request time counts too, not only the waits). */
  private outageSince: number | null = null;

  constructor(
    private readonly ctx: DispatchContext,
    private readonly options: DispatchOptions,
  ) {}

  /** The MLflow id of a run this dispatcher (or an earlier, acknowledged attempt) created. */
  runIdOf(ref: string): string | null {
    return this.ctx.acks.runs.get(ref)?.runId ?? null;
  }

  /** Runs the operations in order; returns false when it went offline. */
  async run(ops: readonly Op[]): Promise<boolean> {
    for (const op of ops) {
      if (this.offline !== null) return false;
      if (this.ctx.acks.has(String(op.seq))) continue;
      await this.execute(op);
    }
    return this.offline === null;
  }

  /** Calls `attempt` until it succeeds, fails for good, or the outage budget is spent. */
  private async retry<T>(attempt: (previous: StoreError | null) => Promise<Result<T, StoreError>>): Promise<Result<T, StoreError> | null> {
    let delay = this.options.baseDelayMs;
    for (let previous: StoreError | null = null; ; ) {
      const result = await attempt(previous);
      if (result.ok || !result.error.retryable) {
        if (result.ok) this.outageSince = null;
        return result;
      }
      previous = result.error;
      this.outageSince ??= Date.now();
      if (Date.now() - this.outageSince + delay > this.options.retryBudgetMs) {
        this.offline = result.error;
        return null;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5_000);
    }
  }

  private async ack(entry: Parameters<AckLog['record']>[0]): Promise<void> {
    const written = await this.ctx.acks.record(entry);
    if (!written.ok) this.options.warn(`MLflow: ${written.error} (a later sync may send this again)`);
  }

  private async experimentId(): Promise<string | null> {
    if (this.ctx.acks.experimentId !== null) return this.ctx.acks.experimentId;
    const found = await this.retry(() => this.ctx.store.ensureExperiment(this.ctx.experimentName));
    if (found === null) return null;
    if (!found.ok) {
      this.offline = found.error; // e.g. a deleted experiment: nothing can be logged
      return null;
    }
    await this.ack({ experimentId: found.value });
    return found.value;
  }

  private async execute(op: Op): Promise<void> {
    const outcome = await this.executeOne(op);
    if (outcome === 'done') {
      this.sent++;
      await this.ack({ op: String(op.seq) });
    }
  }

  private async executeOne(op: Op): Promise<Outcome> {
    if (op.kind === 'create-run') return this.createRun(op);
    const run = this.ctx.acks.runs.get(op.ref);
    if (run === undefined) {
      this.options.warn(`MLflow: no run for ${op.ref} (its creation failed); operation ${op.seq} not sent`);
      return 'skipped';
    }
    if (op.kind === 'artifact') return this.logArtifact(op, run);
    if (op.kind === 'artifact-text') return this.logText(op, run);
    const result = await this.retry(async (previous) => {
      if (op.kind === 'end-run') return this.ctx.store.updateRun(run.runId, op.status, op.endTime);
      if (previous?.ambiguous === true && (await this.alreadyLogged(run.runId, op))) return { ok: true, value: undefined };
      return this.ctx.store.logBatch(run.runId, op);
    });
    return this.settle(op, result);
  }

  /**
   * MLflow has no idempotency key: after an answer was lost, look for the batch's first metric
   * point before sending the batch again, so metrics are not doubled.
   */
  private async alreadyLogged(runId: string, op: Extract<Op, { kind: 'log' }>): Promise<boolean> {
    const first = op.metrics[0];
    if (first === undefined) return false; // params and tags are idempotent
    const history = await this.ctx.store.metricHistory(runId, first.key);
    const same = (a: number, b: number): boolean => a === b || (Number.isNaN(a) && Number.isNaN(b));
    return history.ok && history.value.some((p) => p.timestamp === first.timestamp && p.step === first.step && same(p.value, first.value));
  }

  /** Permanent errors are reported and acknowledged: sending them again would fail the same way. */
  private async settle(op: Op, result: Result<unknown, StoreError> | null): Promise<Outcome> {
    if (result === null) return 'offline';
    if (!result.ok) {
      this.options.warn(`MLflow rejected ${op.kind} for ${op.ref}: ${result.error.message}`);
      await this.ack({ op: String(op.seq), failed: result.error.message });
      return 'skipped';
    }
    return 'done';
  }

  private async createRun(op: Extract<Op, { kind: 'create-run' }>): Promise<Outcome> {
    if (this.ctx.acks.runs.has(op.ref)) return 'done';
    const experimentId = await this.experimentId();
    if (experimentId === null) return 'offline';
    const parent = op.parentRef === null ? undefined : this.ctx.acks.runs.get(op.parentRef);
    if (op.parentRef !== null && parent === undefined) {
      this.options.warn(`MLflow: parent run of ${op.ref} is missing; step run not created`);
      return 'skipped';
    }
    const tags = parent === undefined ? op.tags : [...op.tags, { key: 'mlflow.parentRunId', value: parent.runId }];
    const request = { experimentId, runName: op.name, startTime: op.startTime, userId: this.userOf(op), tags };
    const result = await this.retry(async (previous) => {
      const earlier = previous?.ambiguous === true || this.options.verifyCreates ? await this.findCreated(experimentId, op) : null;
      return earlier ?? this.ctx.store.createRun(request);
    });
    if (result === null || !result.ok) return this.settle(op, result);
    await this.ack({ ref: op.ref, run: result.value });
    const indexed = await this.ctx.index.add({
      uri: this.ctx.store.uri,
      bluRunId: this.ctx.bluRunId,
      stepId: op.stepId,
      mlflowRunId: result.value.runId,
    });
    if (!indexed.ok) this.options.warn(`MLflow: ${indexed.error} (restored steps will not link to this run)`);
    return 'done';
  }

  private userOf(op: Extract<Op, { kind: 'create-run' }>): string {
    return op.tags.find((t) => t.key === 'mlflow.user')?.value ?? this.ctx.user;
  }

  /** A create whose answer was lost may have happened: look for the run by its blu tags. */
  private async findCreated(experimentId: string, op: Extract<Op, { kind: 'create-run' }>): Promise<Result<CreatedRun, StoreError> | null> {
    const tags: Record<string, string> = { 'blu.run_id': this.ctx.bluRunId, 'blu.role': op.stepId === null ? 'pipeline' : 'step' };
    if (op.stepId !== null) tags['blu.step'] = op.stepId;
    const found = await this.ctx.store.searchRuns([experimentId], tags);
    if (!found.ok) return found;
    const run = found.value[0];
    if (run === undefined) return null;
    return { ok: true, value: { runId: run.runId, artifactUri: run.artifactUri } };
  }

  /** Generated text (small, e.g. steps.json) goes through a temp file, made synchronously: both stores upload files. */
  private async logText(op: Extract<Op, { kind: 'artifact-text' }>, run: CreatedRun): Promise<Outcome> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'blu-artifact-'));
    try {
      const file = path.join(dir, path.basename(op.dest));
      writeFileSync(file, op.text);
      return await this.settle(op, await this.retry(() => this.ctx.store.putArtifact(run, op.dest, file)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private async logArtifact(op: Extract<Op, { kind: 'artifact' }>, run: CreatedRun): Promise<Outcome> {
    const files = await listFiles(op.path);
    // A step that printed nothing has no log (or an empty one): nothing worth an artifact.
    if (op.dest === 'logs' && (files === null || files.every((f) => f.size === 0))) return 'done';
    if (files === null) {
      this.options.warn(`MLflow: artifact ${op.path} not found; skipped`);
      return 'done';
    }
    for (const file of files) {
      const key = `${op.seq}:${file.rel}`;
      if (this.ctx.acks.has(key)) continue;
      const dest = [op.dest, path.basename(op.path), ...(file.rel === '' ? [] : [file.rel])].join('/');
      const outcome = await this.putOne(op, run, file, dest);
      if (outcome === 'offline') return 'offline';
      if (outcome === 'done') await this.ack({ op: key });
    }
    return 'done';
  }

  private async putOne(op: Op, run: CreatedRun, file: { abs: string; size: number }, dest: string): Promise<Outcome> {
    if (file.size > this.options.maxArtifactBytes) {
      const mb = (n: number): string => (n / 1024 / 1024).toFixed(1);
      this.options.warn(
        `MLflow: artifact ${file.abs} skipped: ${mb(file.size)} MB is over the ${mb(this.options.maxArtifactBytes)} MB cap (set BLU_MLFLOW_MAX_ARTIFACT_MB to change it)`,
      );
      return 'done';
    }
    const result = await this.retry(() => this.ctx.store.putArtifact(run, dest, file.abs));
    return this.settle(op, result);
  }
}

/** Files under a path (or the file itself, rel ''), or null when it does not exist. */
async function listFiles(root: string): Promise<{ abs: string; rel: string; size: number }[] | null> {
  const stat = await fs.stat(root).catch(() => null);
  if (stat === null) return null;
  if (!stat.isDirectory()) return [{ abs: root, rel: '', size: stat.size }];
  const out: { abs: string; rel: string; size: number }[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const abs = path.join(dir, entry.name);
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(abs, childRel);
      else if (entry.isFile()) out.push({ abs, rel: childRel, size: (await fs.stat(abs)).size });
    }
  };
  await walk(root, '');
  return out;
}
