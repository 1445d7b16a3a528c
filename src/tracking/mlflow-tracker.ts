/**
 * The MLflow tracker: a reporter that journals every event first, then plans and sends MLflow
 * operations in the background. `onEvent` only queues; `close` waits for the journal and for
 * the store (or for the retry budget to run out).
 */
import type { RunEvent } from '../runtime/events.js';
import type { PipelineRunInfo, Tracker, TrackingSettings } from './tracker.js';
import { AckLog, JournalWriter, RunIndex, type JournalHeader } from './journal.js';
import { PARENT, Planner, type JournalEvent, type Op } from './plan.js';
import { Dispatcher } from './dispatch.js';
import { describeTarget, resolveTarget, type Target } from './target.js';
import { maxArtifactBytes, openStore, uiCommandLine, userName, type StoreOptions } from './open-store.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface TrackerOptions extends StoreOptions {
  /** Total wait allowed for one outage (default 30 s, or BLU_MLFLOW_RETRY_BUDGET_MS). */
  readonly retryBudgetMs?: number;
  readonly baseDelayMs?: number;
  /** How long events gather before one journal write + fsync (default 200 ms). */
  readonly batchMs?: number;
}

/** A tracker that can also tell the lead what went wrong (the CLI prints these). */
export interface MlflowTracker extends Tracker {
  readonly warnings: () => readonly string[];
  readonly close: () => Promise<void>;
  /** After close: the pipeline run's MLflow id if every operation reached the store, else null. */
  readonly parentRunId: () => string | null;
}

class Messages {
  private readonly list: string[] = [];
  add(message: string): void {
    if (!this.list.includes(message)) this.list.push(message);
  }
  all(): readonly string[] {
    return [...this.list];
  }
}

function disabledTracker(text: string, messages = new Messages()): MlflowTracker {
  return {
    onEvent: () => undefined,
    describe: () => text,
    warnings: () => messages.all(),
    close: async () => undefined,
    parentRunId: () => null,
  };
}

export async function createMlflowTracker(
  settings: TrackingSettings,
  info: PipelineRunInfo,
  env: Env,
  options: TrackerOptions = {},
): Promise<MlflowTracker> {
  if (!settings.enabled) return disabledTracker('MLflow tracking is off (--no-track).');
  const target = resolveTarget(settings.trackingUri, env, info.projectDir);
  if (!target.ok) return disabledTracker(`MLflow tracking is off: ${target.error}`);
  const user = userName(env);
  const header: JournalHeader = {
    type: 'header',
    version: 1,
    info,
    experimentName: settings.experimentName,
    user,
    trackingUri: target.value.uri,
  };
  const opened = await JournalWriter.open(info.projectDir, header);
  if (!opened.ok) return disabledTracker(`MLflow tracking is off: ${opened.error}`);
  const writer = opened.value;
  const store = await openStore(target.value, options);
  const [acks, index] = await Promise.all([AckLog.load(info.projectDir, info.runId, store.uri), RunIndex.load(info.projectDir)]);
  const budgetFromEnv = Number(env['BLU_MLFLOW_RETRY_BUDGET_MS']);
  const live = new LiveTracker(writer, target.value, settings.experimentName, info, options.batchMs ?? 200);
  const planner = new Planner({ info, user, lookupSource: (run, step) => lookupSource(index, store.uri, run, step) });
  const dispatcher = new Dispatcher(
    { store, acks, index, bluRunId: info.runId, experimentName: settings.experimentName, user },
    {
      retryBudgetMs: options.retryBudgetMs ?? (Number.isFinite(budgetFromEnv) && budgetFromEnv > 0 ? budgetFromEnv : 30_000),
      baseDelayMs: options.baseDelayMs ?? 250,
      maxArtifactBytes: maxArtifactBytes(env),
      verifyCreates: false,
      warn: (message) => live.messages.add(message),
    },
  );
  live.attach(planner, dispatcher);
  return live.asTracker();
}

export function lookupSource(index: RunIndex, uri: string, bluRunId: string, stepId: string): { runId: string } | { missing: string } {
  const found = index.find(uri, bluRunId, stepId);
  if (found !== undefined) return { runId: found };
  return index.knowsRun(uri, bluRunId)
    ? { missing: `step ${stepId} of blu run ${bluRunId} has no MLflow run in this store` }
    : { missing: `blu run ${bluRunId} was not tracked in this store (tracking off, another store, or not synced yet)` };
}

class LiveTracker {
  readonly messages = new Messages();
  private pending: JournalEvent[] = [];
  private ops: Op[] = [];
  private timer: NodeJS.Timeout | null = null;
  private journalChain: Promise<void> = Promise.resolve();
  private sending: Promise<void> | null = null;
  private sawRunEnd = false;
  private closed = false;
  private planner: Planner | null = null;
  private dispatcher: Dispatcher | null = null;

  constructor(
    private readonly writer: JournalWriter,
    private readonly target: Target,
    private readonly experimentName: string,
    private readonly info: PipelineRunInfo,
    private readonly batchMs: number,
  ) {}

  attach(planner: Planner, dispatcher: Dispatcher): void {
    this.planner = planner;
    this.dispatcher = dispatcher;
  }

  asTracker(): MlflowTracker {
    return {
      onEvent: (event) => this.onEvent(event),
      describe: () => this.describe(),
      warnings: () => this.messages.all(),
      close: () => this.close(),
      parentRunId: () => (this.dispatcher?.offline === null && this.ops.length === 0 ? this.dispatcher.runIdOf(PARENT) : null),
    };
  }

  /** Synchronous and total: queue the event, write it soon. */
  private onEvent(event: RunEvent): void {
    try {
      if (this.closed) return;
      if (event.type === 'run-end') this.sawRunEnd = true;
      this.pending.push(event);
      if (this.timer === null) {
        this.timer = setTimeout(() => this.flush(), event.type === 'run-end' ? 0 : this.batchMs);
        this.timer.unref();
      }
    } catch {
      // a tracker must never break the pipeline
    }
  }

  /** Journal first (fsync), then plan and hand the operations to the sender. */
  private flush(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = [];
    this.journalChain = this.journalChain
      .then(async () => {
        if (batch.length === 0) return;
        const written = await this.writer.append(batch);
        if (!written.ok) this.messages.add(`MLflow: ${written.error}`);
        for (const event of batch) this.planOne(event);
        this.kickSender();
      })
      .catch((cause: unknown) => this.messages.add(`MLflow: tracking failed (events are kept in the journal): ${String(cause)}`));
    return this.journalChain;
  }

  /** One odd event must not stop the others from being tracked. */
  private planOne(event: JournalEvent): void {
    try {
      this.ops.push(...(this.planner?.plan(event) ?? []));
    } catch (cause) {
      this.messages.add(`MLflow: could not track a ${event.type} event (kept in the journal): ${String(cause)}`);
    }
  }

  private kickSender(): void {
    if (this.sending !== null || this.dispatcher === null) return;
    const dispatcher = this.dispatcher;
    this.sending = (async () => {
      while (this.ops.length > 0 && dispatcher.offline === null) {
        const ops = this.ops;
        this.ops = [];
        await dispatcher.run(ops).catch((cause: unknown) => {
          dispatcher.offline = { message: String(cause), retryable: false };
        });
      }
      if (dispatcher.offline !== null) this.reportOffline(dispatcher.offline.message);
    })().finally(() => {
      this.sending = null;
      // Operations planned while the loop was finishing must not wait for the next event.
      if (this.ops.length > 0 && dispatcher.offline === null) this.kickSender();
    });
  }

  private reportOffline(reason: string): void {
    this.ops = [];
    this.messages.add(
      `MLflow at ${describeTarget(this.target, this.info.projectDir)} is not reachable or refused the run (${reason}); ` +
        `the pipeline continues and tracking is kept in ${this.writer.file}: run \`blu-pipe mlflow sync\` later.`,
    );
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.sawRunEnd) this.pending.push({ type: 'tracker-closed', time: Date.now() });
      this.closed = true;
      await this.flush();
      while (this.sending !== null) await this.sending;
      await this.writer.close();
    } catch (cause) {
      this.messages.add(`MLflow: closing the tracker failed: ${String(cause)}`);
    }
  }

  private describe(): string {
    const where = describeTarget(this.target, this.info.projectDir);
    const ui = uiCommandLine(this.target);
    const view = ui !== null ? ` (view: ${ui.text})` : '';
    const offline = this.dispatcher?.offline;
    const state = offline != null ? ` — offline, kept in ${this.writer.file}` : '';
    return `MLflow: experiment "${this.experimentName}" at ${where}${view}${state}`;
  }
}
