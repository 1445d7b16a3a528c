import { existsSync, lstatSync, rmSync } from 'node:fs';
import { access, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ActionCache } from '../../artifacts/action-cache.js';
import { ArtifactError, hasErrno, isErrnoException } from '../../artifacts/errors.js';
import { contentSize, describeNoSpace, isNoSpace } from '../../artifacts/no-space.js';
import type { ContentStore } from '../../artifacts/content-store.js';
import { StatCache } from '../../artifacts/stat-cache.js';
import type { ActionCacheEntry, MetricPoint, StoredOutput } from '../../artifacts/types.js';
import type { StepKindRegistry } from '../kinds/kind.js';
import { runCommand } from '../kinds/run-command.js';
import { changedOutputs, NONDETERMINISTIC_TAG, sameConsumed } from '../plan/consumed.js';
import type { StepFailure } from '../events.js';
import type { AttemptSuccess, StepReport } from '../executor.js';
import type { Result } from '../../base/result.js';
import { err, ok } from '../../base/result.js';
import type { StepSpec } from '../step-spec.js';

export interface AttemptIO {
  readonly signal: AbortSignal;
  readonly report: StepReport;
  readonly output: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly registry: StepKindRegistry;
  readonly jobId?: string;
  /** See ExecuteOptions.commandDone. */
  readonly commandDone?: () => void;
}

export interface CommitStores {
  readonly cas: ContentStore;
  readonly ac: ActionCache;
  /** When given, hashes computed while storing outputs are remembered, so the next check is one lstat. */
  readonly stat?: StatCache;
}

/**
 * One attempt of one step: clear its outputs, run it, then commit. The commit protocol: every
 * output goes into the content store first; the action-cache entry is written last, atomically,
 * and is the commit point. A crash anywhere before leaves no entry, so the step is simply stale.
 */
export async function runAttempt(spec: StepSpec, stores: CommitStores, io: AttemptIO): Promise<Result<AttemptSuccess, StepFailure>> {
  const startedAt = new Date();
  const series: MetricPoint[] = [];
  const tags: Record<string, string> = {};
  const report: StepReport = {
    progress: (p) => io.report.progress(p),
    metric: (name, value, step, timestamp) => {
      series.push({ name, value, step, timestamp });
      io.report.metric(name, value, step, timestamp);
    },
    tag: (key, value) => {
      tags[key] = value;
      io.report.tag(key, value);
    },
  };
  const prepared = await prepareOutputs(spec);
  if (!prepared.ok) return prepared;
  const ran = await execute(spec, { ...io, report });
  if (!ran.ok) return ran;
  if (io.signal.aborted) return err({ reason: 'cancelled', message: `step '${spec.id}' was cancelled` });
  io.commandDone?.();
  return commit(spec, stores, { series, tags }, startedAt, io.jobId);
}

function stepEnv(spec: StepSpec, env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const base = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  return {
    ...base,
    BLU_RUN_ID: spec.runId,
    BLU_STEP_ID: spec.id,
    BLU_PROJECT_DIR: spec.projectDir,
    BLU_CHECKPOINT_DIR: path.join(spec.projectDir, '.blu', 'checkpoints', spec.id),
    BLU_PARAMS: JSON.stringify(spec.params),
  };
}

async function execute(spec: StepSpec, io: AttemptIO): Promise<Result<void, StepFailure>> {
  const env = stepEnv(spec, io.env);
  if (spec.kind === 'run') return runCommand(spec, { signal: io.signal, report: io.report, output: io.output, env });
  const kind = io.registry.get(spec.kind);
  if (!kind) return err({ reason: 'internal', message: `step kind '${spec.kind}' is not registered in this blu-pipe` });
  await mkdir(env.BLU_CHECKPOINT_DIR!, { recursive: true });
  try {
    const impl = await kind.load();
    const result = await impl.run({
      spec,
      resolve: (p) => path.resolve(spec.projectDir, p),
      log: (line) => io.output(`${line}\n`),
      report: io.report,
      signal: io.signal,
    });
    if (result.ok) return ok(undefined);
    return err({ reason: io.signal.aborted ? 'cancelled' : 'exit-non-zero', message: `step '${spec.id}' failed: ${result.error.message}` });
  } catch (error) {
    // A bug in a step implementation must fail that step, not the runner.
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    io.output(`${message}\n`);
    if (isNoSpace(error)) {
      const where = (isErrnoException(error) ? error.path : undefined) ?? spec.projectDir;
      return err({ reason: 'no-space', message: `step '${spec.id}': ${await describeNoSpace('writing its outputs', where, null)}` });
    }
    return err({ reason: 'internal', message: `step '${spec.id}' crashed: ${error instanceof Error ? error.message : String(error)}` });
  }
}

/** Outputs are removed before a run (unless persistent) so stale files never pass as new ones. */
async function prepareOutputs(spec: StepSpec): Promise<Result<void, StepFailure>> {
  for (const out of spec.outs) {
    const abs = path.resolve(spec.projectDir, out.path);
    const rel = path.relative(spec.projectDir, abs);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
      return err({
        reason: 'output-outside-project',
        message: `output '${out.path}' of step '${spec.id}' is outside the project; refusing to touch it`,
      });
    }
    // One lstat in the common case (nothing there yet); a tree is removed off the main thread.
    const existing = lstatSync(abs, { throwIfNoEntry: false });
    if (!out.persist && existing?.isDirectory()) await rm(abs, { recursive: true, force: true });
    else if (!out.persist && existing) rmSync(abs, { force: true });
    if (!existsSync(path.dirname(abs))) await mkdir(path.dirname(abs), { recursive: true });
  }
  return ok(undefined);
}

async function commit(
  spec: StepSpec,
  stores: CommitStores,
  reported: { readonly series: readonly MetricPoint[]; readonly tags: Readonly<Record<string, string>> },
  startedAt: Date,
  jobId: string | undefined,
): Promise<Result<AttemptSuccess, StepFailure>> {
  const outputs: StoredOutput[] = [];
  for (const out of spec.outs) {
    try {
      if (out.cache && spec.cache)
        outputs.push(await stores.cas.putPath(spec.projectDir, out.path, stores.stat ? { statCache: stores.stat } : {}));
      else if (spec.cache) outputs.push(await recordUncached(spec, out.path, stores.stat));
      else await access(path.resolve(spec.projectDir, out.path));
    } catch (error) {
      return err(await storeFailure(spec, out.path, error));
    }
  }
  if (!spec.cache) return ok({ entry: null, ...(jobId ? { jobId } : {}) });
  const nondeterministic = await nondeterminism(spec, stores.ac, outputs);
  const tags = { ...reported.tags, ...(nondeterministic !== undefined ? { [NONDETERMINISTIC_TAG]: nondeterministic } : {}) };
  const finishedAt = new Date();
  const entry: ActionCacheEntry = {
    schema: 1,
    key: spec.key,
    stepId: spec.id,
    components: spec.components,
    outputs,
    metrics: lastValues(reported.series),
    ...(Object.keys(tags).length > 0 ? { tags } : {}),
    ...(spec.consumed ? { consumed: spec.consumed } : {}),
    series: reported.series,
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    producer: {
      runId: spec.runId,
      stepId: spec.id,
      host: os.hostname(),
      pid: process.pid,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      ...(jobId ? { jobId } : {}),
    },
  };
  try {
    await stores.ac.put(entry);
  } catch (error) {
    if (!isNoSpace(error)) throw error;
    const doing = 'recording its cache entry (nothing was committed; its outputs are in the workspace)';
    return err({
      reason: 'no-space',
      message: `step '${spec.id}': ${await describeNoSpace(doing, stores.ac.entryPath(spec.key), JSON.stringify(entry).length)}`,
    });
  }
  return ok({ entry, ...(jobId ? { jobId } : {}) });
}

/**
 * A step rerun with the same key on the same upstream bytes that stored other outputs than its
 * previous commit is not reproducible. Said once, kept: a later identical rerun does not clear it.
 * `persist` outputs are left out: they carry state from the previous run by design (checkpoints).
 * Only a commit that replaces an entry of its own key costs the extra read.
 */
async function nondeterminism(spec: StepSpec, ac: ActionCache, outputs: readonly StoredOutput[]): Promise<string | undefined> {
  const previous = ac.has(spec.key) ? await ac.get(spec.key) : undefined;
  if (previous === undefined) return undefined;
  const persisted = new Set(spec.outs.filter((o) => o.persist).map((o) => o.path));
  const compared = outputs.filter((o) => !persisted.has(o.path));
  const changed = sameConsumed(previous.consumed, spec.consumed) ? changedOutputs(previous.outputs, compared) : [];
  return changed.length > 0 ? `rerun with the same inputs changed ${changed.join(', ')}` : previous.tags?.[NONDETERMINISTIC_TAG];
}

/**
 * A `cache: false` output is hashed, not stored: the entry (and so the lock) records its bytes, so
 * that readers' consumed digests, the plan and `status --verify` cover it like any other output.
 */
async function recordUncached(spec: StepSpec, outPath: string, stat: StatCache | undefined): Promise<StoredOutput> {
  const abs = path.resolve(spec.projectDir, outPath);
  const state = await (stat ?? StatCache.ephemeral()).hashPath(abs);
  if (state.type === 'missing') throw new ArtifactError('missing-path', `${outPath} does not exist`);
  return { path: outPath, type: state.type, hash: state.hash, size: state.size, uncached: true };
}

/** Why an output could not be stored: missing, a full disk (how much it needs), or anything else. */
async function storeFailure(spec: StepSpec, outPath: string, error: unknown): Promise<StepFailure> {
  const why = error instanceof Error ? error.message : String(error);
  if (isNoSpace(error)) {
    const needed = await contentSize(path.resolve(spec.projectDir, outPath));
    return {
      reason: 'no-space',
      message: `step '${spec.id}': ${await describeNoSpace(`storing its output '${outPath}' in the cache`, spec.cacheDir, needed)}`,
    };
  }
  if ((error instanceof ArtifactError && error.code === 'missing-path') || hasErrno(error, 'ENOENT')) {
    return { reason: 'output-missing', message: `step '${spec.id}' finished but did not produce its output '${outPath}' (${why})` };
  }
  return { reason: 'internal', message: `step '${spec.id}': could not store its output '${outPath}' in the cache: ${why}` };
}

export function lastValues(series: readonly MetricPoint[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of series) out[p.name] = p.value;
  return out;
}
