import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeSmallFileAtomicSync } from '../../artifacts/atomic.js';
import type { Reporter, RunEvent, StepOutcome } from '../../runtime/events.js';
import type { Executor } from '../../runtime/executor.js';
import { lazyExecutor } from '../../runtime/executors/lazy.js';
import { newRunId } from '../../runtime/layout.js';
import { isNoopPlan } from '../../runtime/plan/plan.js';
import { projectDirOf } from '../../runtime/load/load.js';
import { FanOut, JsonLinesReporter, LiveReporter, PlainReporter } from '../../runtime/progress/reporters.js';
import { ResourcePool } from '../../runtime/exec/resources.js';
import { Scheduler } from '../../runtime/exec/scheduler.js';
import type { Session } from '../../runtime/session.js';
import type { MlflowTracker } from '../../tracking/mlflow-tracker.js';
import type { StepKindRegistry } from '../../runtime/kinds/kind.js';
import { builtinRegistry } from '../../steps/registry.js';
import { PIPELINE_OPTIONS, parse, positiveInt, stringList, stringValue } from '../args.js';
import { CLI_ENTRY, VERSION } from '../entry.js';
import { gitInfo, type GitInfo } from '../git-info.js';
import type { CliIO, ExitCode } from '../io.js';
import { EXIT } from '../io.js';
import { usageError } from '../output.js';
import { rememberState, unchangedSince, type UnchangedSince } from './noop-tracking.js';
import { loadSession, sessionOptionsFrom } from './session-options.js';
import { RUN_USAGE } from './run-usage.js';

const OPTIONS = {
  ...PIPELINE_OPTIONS,
  force: { type: 'boolean' },
  downstream: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  jobs: { type: 'string', short: 'j' },
  'keep-going': { type: 'boolean' },
  'no-cache': { type: 'boolean' },
  resources: { type: 'string', multiple: true },
  executor: { type: 'string' },
  'slurm-opt': { type: 'string', multiple: true },
  'no-track': { type: 'boolean' },
  'track-noop': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

export async function runCommand(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  const parsed = parse(argv, OPTIONS);
  if (!parsed.ok) return usageError(io, parsed.error, RUN_USAGE);
  const { values, positionals } = parsed.value;
  if (values.help) return (io.stdout(`${RUN_USAGE}\n`), EXIT.ok);
  if (positionals.length === 0) return usageError(io, 'missing the pipeline file', RUN_USAGE);
  const jobs = positiveInt(values.jobs, 'jobs');
  if (!jobs.ok) return usageError(io, jobs.error, RUN_USAGE);
  const executorName = stringValue(values.executor) ?? 'local';
  if (executorName !== 'local' && executorName !== 'slurm')
    return usageError(io, `unknown executor '${executorName}' (use local or slurm)`, RUN_USAGE);
  const budgets = parseBudgets(stringList(values.resources));
  if (!budgets.ok) return usageError(io, budgets.error, RUN_USAGE);
  const registry = builtinRegistry();
  const options = sessionOptionsFrom(parsed.value, io, registry);
  const session = await loadSession(io, options);
  if (typeof session === 'number') return session;
  if (values['dry-run']) return (await import('./plan-view.js')).printPlan(io, session, 'dry-run');
  const wantsTracking = values['no-track'] !== true;
  const unchanged =
    wantsTracking && values['track-noop'] !== true && isNoopPlan(session.plan) ? await unchangedSince(session, io.env) : null;
  const track = wantsTracking && unchanged === null;
  // git runs in its own processes while the executor starts. gitInfo never rejects.
  const git = track ? gitInfo(projectDirOf(options)) : NO_GIT;
  const jobCount = jobs.value ?? os.availableParallelism();
  const runId = newRunId();
  const executor = await createExecutor(executorName, session, runId, jobCount, stringList(values['slurm-opt']), io, registry);
  const unknown = new ResourcePool(budgets.value).unknown(customNeeds(session));
  if (unknown.length > 0)
    io.stderr(
      `blu-pipe: warning: no budget for resource(s) ${unknown.join(', ')}; give one with --resources ${unknown[0]}=N (not limited now)\n`,
    );
  const pool = new ResourcePool({ cpus: executor.enforcesLocalResources ? jobCount : Number.MAX_SAFE_INTEGER, ...budgets.value });
  return execute(session, {
    io,
    runId,
    executor,
    pool,
    argv,
    json: values.json === true,
    track,
    unchanged,
    git,
    keepGoing: values['keep-going'] === true,
    noCache: values['no-cache'] === true,
    pruneLock: options.sets.length === 0,
  });
}

const NO_GIT: Promise<GitInfo> = Promise.resolve({ commit: null, dirty: null });

function parseBudgets(items: readonly string[]): { ok: true; value: Record<string, number> } | { ok: false; error: string } {
  const out: Record<string, number> = {};
  for (const item of items) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=([0-9]+(?:\.[0-9]+)?)$/.exec(item);
    if (!m) return { ok: false, error: `--resources expects name=number, got '${item}'` };
    out[m[1]!] = Number(m[2]);
  }
  return { ok: true, value: out };
}

function customNeeds(session: Session): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of session.pipeline.steps) for (const [k, v] of Object.entries(s.resources.custom ?? {})) out[k] = v;
  if (session.pipeline.steps.some((s) => (s.resources.gpus ?? 0) > 0)) out.gpus = 1;
  return out;
}

async function createExecutor(
  name: string,
  session: Session,
  runId: string,
  jobs: number,
  slurmOpts: string[],
  io: CliIO,
  registry: StepKindRegistry,
): Promise<Executor> {
  if (name === 'slurm') {
    const { createSlurmExecutor } = await import('../../runtime/executors/slurm.js');
    return createSlurmExecutor({
      runDir: path.join(session.layout.runsDir, runId),
      cliEntry: CLI_ENTRY,
      extraSbatchArgs: slurmOpts,
      env: io.env,
    });
  }
  return lazyExecutor({ name: 'local', maxParallel: jobs, enforcesLocalResources: true }, async () => {
    const [{ createLocalExecutor }, { tensorflowLogFilter }] = await Promise.all([
      import('../../runtime/executors/local.js'),
      import('../../ml/backend/native/tf-log.js'),
    ]);
    const dropWorkerLine = tensorflowLogFilter(io.env);
    return createLocalExecutor({
      jobs,
      stores: session.stores,
      registry,
      env: io.env,
      cliEntry: CLI_ENTRY,
      ...(dropWorkerLine ? { dropWorkerLine } : {}),
    });
  });
}

interface ExecuteSettings {
  readonly io: CliIO;
  readonly runId: string;
  readonly executor: Executor;
  readonly pool: ResourcePool;
  readonly argv: readonly string[];
  readonly json: boolean;
  readonly track: boolean;
  /** Set when tracking is on but this no-op's outputs are already recorded (no new MLflow run). */
  readonly unchanged: UnchangedSince | null;
  /** The project's git commit and dirty flag, asked for while the executor starts (see runCommand). */
  readonly git: Promise<GitInfo>;
  readonly keepGoing: boolean;
  readonly noCache: boolean;
  /** A run without --set has the pipeline the lock section records: it drops entries of instances gone from it. */
  readonly pruneLock: boolean;
}

async function execute(session: Session, s: ExecuteSettings): Promise<ExitCode> {
  const { pipeline, layout } = session;
  const runDir = path.join(layout.runsDir, s.runId);
  await mkdir(runDir, { recursive: true });
  const tracker = s.track ? await startTracker(session, s) : null;
  const console: Reporter = s.json
    ? new JsonLinesReporter(s.io.stdout)
    : s.io.isTTY
      ? new LiveReporter(s.io.stderr)
      : new PlainReporter(s.io.stderr);
  const failures: Extract<RunEvent, { type: 'step-end' }>[] = [];
  const events = new FanOut([console, ...(tracker ? [tracker] : [])], (e) => s.io.stderr(`blu-pipe: a reporter failed: ${String(e)}\n`));
  const emit = (e: RunEvent): void => {
    if (e.type === 'step-end' && e.outcome === 'failed') failures.push(e);
    events.onEvent(e);
  };
  const controller = new AbortController();
  const stop = installInterrupt(controller, s.io);
  const started = Date.now();
  // The interim record protects a running run's cache entries from a concurrent gc and says it
  // did not finish; a no-op reads no entry and has nothing to leave unfinished.
  if (!isNoopPlan(session.plan)) await writeRunRecord(runDir, session, s.runId, 'running', {});
  emit({
    type: 'run-start',
    runId: s.runId,
    pipelineFile: pipeline.displayFile,
    pipelineName: pipeline.name,
    steps: session.plan.steps.map((p) => ({ id: p.id, action: p.action })),
    time: started,
  });
  const scheduler = new Scheduler({
    pipeline,
    plan: session.plan,
    layout,
    stores: session.stores,
    executor: s.executor,
    pool: s.pool,
    emit,
    runId: s.runId,
    policy: s.keepGoing ? 'keep-going' : 'no-new',
    signal: controller.signal,
    previousLock: session.facts.lock,
    reuseCache: !s.noCache,
    pruneLock: s.pruneLock,
  });
  const results = await scheduler.run();
  await s.executor.shutdown();
  await session.stores.stat.save();
  const counts = countOutcomes(results);
  const status = controller.signal.aborted ? 'cancelled' : counts.failed > 0 || counts.skipped > 0 ? 'failed' : 'succeeded';
  emit({ type: 'run-end', runId: s.runId, status, counts, durationMs: Date.now() - started, time: Date.now() });
  const keys = new Map(session.plan.steps.map((p) => [p.id, p.key]));
  await writeRunRecord(
    runDir,
    session,
    s.runId,
    status,
    Object.fromEntries([...results].map(([id, r]) => [id, { outcome: r.outcome, key: keys.get(id) }])),
  );
  await events.close();
  stop();
  if (tracker) await reportTracker(tracker, status === 'succeeded', session, s);
  if (s.unchanged) s.io.stderr(`${s.unchanged.text}\n`);
  if (failures.length > 0 && !s.json)
    s.io.stderr(
      `\n${failures.length} step${failures.length === 1 ? '' : 's'} failed; logs are in ${path.relative(s.io.cwd, runDir) || runDir}\n`,
    );
  return status === 'cancelled' ? EXIT.interrupted : status === 'failed' ? EXIT.failed : EXIT.ok;
}

function countOutcomes(results: ReadonlyMap<string, { outcome: StepOutcome }>): Record<StepOutcome, number> {
  const counts: Record<StepOutcome, number> = { ran: 0, restored: 0, fresh: 0, failed: 0, skipped: 0, cancelled: 0 };
  for (const r of results.values()) counts[r.outcome]++;
  return counts;
}

/** First Ctrl-C: stop gracefully (children get SIGTERM, the cache stays consistent). Second: exit now. */
function installInterrupt(controller: AbortController, io: CliIO): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals): void => {
    count++;
    if (count === 1) {
      io.stderr(`\nblu-pipe: ${signal}: stopping running steps (press Ctrl-C again to exit at once)\n`);
      controller.abort();
    } else process.exit(EXIT.interrupted);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

async function startTracker(session: Session, s: ExecuteSettings): Promise<MlflowTracker | null> {
  const { pipeline } = session;
  const git = await s.git;
  try {
    // The tracker's own module, not tracking/index.js: a run needs neither sync nor the run reader.
    const { createMlflowTracker } = await import('../../tracking/mlflow-tracker.js');
    return await createMlflowTracker(
      { trackingUri: pipeline.tracking.trackingUri, experimentName: pipeline.tracking.experiment, enabled: pipeline.tracking.enabled },
      {
        runId: s.runId,
        projectDir: pipeline.projectDir,
        pipelineFile: path.relative(pipeline.projectDir, pipeline.file),
        pipelineName: pipeline.name,
        commandLine: ['blu-pipe', 'run', ...s.argv],
        experimentOverlays: pipeline.overlays,
        gitCommit: git.commit,
        gitDirty: git.dirty,
        bluPipeVersion: VERSION,
        executor: s.executor.name,
        backend: s.io.env.BLU_BACKEND ?? null,
        host: os.hostname(),
        params: pipeline.params,
      },
      s.io.env,
    );
  } catch (error) {
    s.io.stderr(`blu-pipe: warning: MLflow tracking is off for this run: ${error instanceof Error ? error.message : String(error)}\n`);
    return null;
  }
}

/** Warnings, where the run is, and (after a success) what it records for the next no-op rerun. */
async function reportTracker(tracker: MlflowTracker, succeeded: boolean, session: Session, s: ExecuteSettings): Promise<void> {
  const remembered = succeeded ? await rememberState(session, tracker, s.runId, s.io.env) : null;
  for (const w of [...tracker.warnings(), ...(remembered === null ? [] : [remembered])]) s.io.stderr(`blu-pipe: ${w}\n`);
  s.io.stderr(`${tracker.describe()}\n`);
}

async function writeRunRecord(
  runDir: string,
  session: Session,
  runId: string,
  status: string,
  steps: Record<string, unknown>,
): Promise<void> {
  const record = {
    runId,
    pipeline: session.pipeline.displayFile,
    name: session.pipeline.name,
    overlays: session.pipeline.overlays,
    status,
    updatedAt: new Date().toISOString(),
    keys: session.plan.steps.filter((p) => p.action !== 'skip').map((p) => p.key),
    steps,
  };
  writeSmallFileAtomicSync(path.join(runDir, 'run.json'), JSON.stringify(record, null, 1));
}
