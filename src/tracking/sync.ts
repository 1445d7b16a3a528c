/**
 * Replays journals into a store: re-plans each journal's events and sends only the operations
 * the store has not acknowledged, so a replay after an outage adds exactly what is missing.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { type Result, ok, err } from '../base/result.js';
import { AckLog, RunIndex, readJournal, type JournalContents } from './journal.js';
import { journalDir } from './paths.js';
import { completePending } from './recorded-state.js';
import type { TrackingStore } from './store.js';
import { Planner, type Op } from './plan.js';
import { Dispatcher } from './dispatch.js';
import { lookupSource } from './mlflow-tracker.js';
import { resolveTarget } from './target.js';
import { maxArtifactBytes, openStore, type StoreOptions } from './open-store.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface SyncOptions extends StoreOptions {
  readonly env: Env;
  /** Overrides env and the URI configured for the run. */
  readonly trackingUri?: string | null;
  /** Only these blu run ids (default: every journal). */
  readonly runIds?: readonly string[];
  readonly retryBudgetMs?: number;
  readonly baseDelayMs?: number;
  /** Also replay journals without a run end (crashed runs); off so a live run is never sent twice. */
  readonly includeIncomplete?: boolean;
}

export interface JournalSync {
  readonly runId: string;
  /** The store it was replayed to ('' when none could be opened). */
  readonly store: string;
  readonly operations: number;
  readonly alreadyAcknowledged: number;
  readonly sent: number;
  /** The journal has no run end (the run is still going, or crashed before closing its tracker). */
  readonly incomplete: boolean;
  readonly error: string | null;
}

export interface SyncReport {
  readonly journals: readonly JournalSync[];
  readonly warnings: readonly string[];
}

/**
 * Each journal goes to the store its run was headed for (recorded in its header); `--tracking-uri`
 * sends them all to one store instead. Journals older than that record use the environment.
 */
export async function syncJournal(projectDir: string, options: SyncOptions): Promise<Result<SyncReport, string>> {
  const override = options.trackingUri ? resolveTarget(options.trackingUri, {}, projectDir) : null;
  if (override !== null && !override.ok) return err(override.error);
  const fallback = resolveTarget(null, options.env, projectDir);
  const stores = new Map<string, TrackingStore>();
  const storeFor = async (header: JournalContents['header']): Promise<Result<TrackingStore, string>> => {
    const target =
      override ?? (header.trackingUri !== undefined ? resolveTarget(header.trackingUri, withoutUri(options.env), projectDir) : fallback);
    if (!target.ok) return target;
    const store = stores.get(target.value.uri) ?? (await openStore(target.value, options));
    stores.set(target.value.uri, store);
    return ok(store);
  };
  const shared: Omit<Shared, 'store'> = { projectDir, options, index: await RunIndex.load(projectDir), warnings: [] };
  const journals: JournalSync[] = [];
  for (const file of await journalFiles(projectDir)) {
    const contents = await readJournal(file);
    if (contents === null) continue;
    if (options.runIds !== undefined && !options.runIds.includes(contents.header.info.runId)) continue;
    const store = await storeFor(contents.header);
    try {
      if (!store.ok) throw new Error(store.error);
      journals.push(await syncOne({ ...shared, store: store.value }, contents));
    } catch (cause) {
      const runId = contents.header.info.runId;
      journals.push({
        runId,
        store: store.ok ? store.value.uri : '',
        operations: 0,
        alreadyAcknowledged: 0,
        sent: 0,
        incomplete: false,
        error: `cannot replay: ${String(cause)}`,
      });
    }
  }
  return ok({ journals, warnings: shared.warnings });
}

/** Credentials stay in the environment; the URI comes from the journal. */
function withoutUri(env: Env): Env {
  const { MLFLOW_TRACKING_URI: _ignored, ...rest } = env;
  return rest;
}

interface Shared {
  readonly projectDir: string;
  readonly options: SyncOptions;
  readonly store: TrackingStore;
  readonly index: RunIndex;
  readonly warnings: string[];
}

async function syncOne(shared: Shared, { header, events }: JournalContents): Promise<JournalSync> {
  const { store, index, options } = shared;
  const planner = new Planner({ info: header.info, user: header.user, lookupSource: (r, s) => lookupSource(index, store.uri, r, s) });
  const ops: Op[] = events.flatMap((event) => planner.plan(event));
  if (!planner.runEnded && options.includeIncomplete === true) {
    // The user says this run is dead: close what it left open, at its last known time.
    ops.push(...planner.plan({ type: 'tracker-closed', time: events.at(-1)?.time ?? 0 }));
  }
  const acks = await AckLog.load(shared.projectDir, header.info.runId, store.uri);
  const already = ops.filter((op) => acks.has(String(op.seq))).length;
  const dispatcher = new Dispatcher(
    { store, acks, index, bluRunId: header.info.runId, experimentName: header.experimentName, user: header.user },
    {
      retryBudgetMs: options.retryBudgetMs ?? 30_000,
      baseDelayMs: options.baseDelayMs ?? 250,
      maxArtifactBytes: maxArtifactBytes(options.env),
      verifyCreates: true,
      warn: (m) => shared.warnings.push(m),
    },
  );
  const skip = !planner.runEnded;
  if (!skip && already < ops.length) await dispatcher.run(ops);
  if (!skip && dispatcher.offline === null) await rememberReplayed(shared, header.info.runId);
  return {
    runId: header.info.runId,
    store: store.uri,
    operations: ops.length,
    alreadyAcknowledged: already,
    sent: dispatcher.sent,
    incomplete: skip,
    error: dispatcher.offline?.message ?? null,
  };
}

/** A successful run replayed into the store it was headed for is what the next no-op there names (see recorded-state.ts). */
async function rememberReplayed({ projectDir, store, index, warnings }: Shared, bluRunId: string): Promise<void> {
  const mlflowRunId = index.find(store.uri, bluRunId, '');
  if (mlflowRunId === undefined) return;
  const done = await completePending(projectDir, bluRunId, store.uri, mlflowRunId);
  if (!done.ok) warnings.push(`MLflow: ${done.error} (the next no-op rerun records a run again)`);
}

async function journalFiles(projectDir: string): Promise<string[]> {
  const dir = journalDir(projectDir);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => n.endsWith('.jsonl') && !n.endsWith('.acks.jsonl'))
    .sort()
    .map((n) => path.join(dir, n));
}
