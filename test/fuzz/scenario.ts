/**
 * One fuzz scenario: a random pipeline in a temp project, an initial run, a random sequence of
 * interfering actions, a final run; the invariant is checked after every successful run.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { corruptBlob, deleteOutput, editDirOutput, editOutput, editSource, pruneDamage } from './actions.js';
import type { CheckOptions, Damage, Violation } from './check.js';
import { checkCache, checkInvariant, setArgs } from './check.js';
import type { CliRun } from './driver.js';
import { cliRun, crashLogExists, failedSteps, gc } from './driver.js';
import type { Config, FuzzOptions, Scenario } from './generate.js';
import { DEFAULT_CONFIG, PARAMS, PIPELINE_FILE, STEP_SCRIPT, STEP_SH, generateScenario } from './generate.js';
import { Rng } from './rng.js';

export interface ScenarioOptions extends FuzzOptions, CheckOptions {
  /** Keep the temp directory of a scenario that found a violation. */
  readonly keepFailed: boolean;
  /** Most interfering actions between the initial and the final run (at least 3). */
  readonly maxActions: number;
  /** A run still going after this long is a violation (`hang`). */
  readonly hangMs: number;
}

export interface FoundViolation extends Violation {
  readonly seed: number;
  /** The actions up to and including the one after which the check failed. */
  readonly trace: readonly string[];
  readonly config: Config;
}

export interface ScenarioResult {
  readonly seed: number;
  readonly steps: number;
  readonly actions: number;
  readonly runs: number;
  readonly kills: number;
  readonly tolerated: number;
  readonly freshChecked: number;
  readonly violations: readonly FoundViolation[];
  /** Where the project was kept (violations with keepFailed), else null. */
  readonly keptAt: string | null;
}

type ActionKind =
  | 'run'
  | 'force'
  | 'kill'
  | 'concurrent'
  | 'fail'
  | 'set'
  | 'edit-output'
  | 'delete-output'
  | 'edit-dir'
  | 'edit-source'
  | 'corrupt-blob'
  | 'gc';

const WEIGHTS: Readonly<Record<ActionKind, number>> = {
  run: 10,
  force: 16,
  kill: 10,
  concurrent: 8,
  fail: 6,
  set: 5,
  'edit-output': 12,
  'delete-output': 10,
  'edit-dir': 6,
  'edit-source': 5,
  'corrupt-blob': 9,
  gc: 6,
};

/** The state one scenario carries from action to action. */
class Ctx {
  readonly project: string;
  readonly ctl: string;
  readonly cacheDir: string;
  readonly trace: string[] = [];
  readonly violations: FoundViolation[] = [];
  readonly damage: Damage = { hashes: new Set() };
  config: Config = DEFAULT_CONFIG;
  afterConcurrent = false;
  /** (kind, step, path) already reported: a violation left in place is reported once, where it appeared. */
  readonly reported = new Set<string>();
  runs = 0;
  kills = 0;
  /** Wall time of the last run that was not killed: SIGKILLs land within it. */
  lastRunMs = 1000;
  tolerated = 0;
  freshChecked = 0;

  constructor(
    readonly root: string,
    readonly seed: number,
    readonly rng: Rng,
    readonly scenario: Scenario,
    readonly options: ScenarioOptions,
  ) {
    this.project = path.join(root, 'proj');
    this.ctl = path.join(root, 'ctl');
    this.cacheDir = path.join(this.project, '.blu', 'cache');
  }

  note(text: string): void {
    this.trace.push(text);
  }

  add(vs: readonly Violation[], config: Config = this.config): void {
    for (const v of vs) {
      const id = `${v.kind} ${v.step ?? ''} ${v.path ?? ''} ${v.kind === 'cache-corrupt' || v.kind === 'exit-code' || v.kind === 'crash' || v.kind === 'hang' ? `${this.trace.length} ${v.detail ?? ''}` : ''}`;
      if (this.reported.has(id)) continue;
      this.reported.add(id);
      this.violations.push({ ...v, seed: this.seed, trace: [...this.trace], config });
    }
  }
}

export async function runScenario(seed: number, options: ScenarioOptions): Promise<ScenarioResult> {
  const rng = new Rng(seed);
  const root = mkdtempSync(path.join(os.tmpdir(), 'blu-fuzz-'));
  const scenario = generateScenario(rng, options, path.join(root, 'ctl'));
  const ctx = new Ctx(root, seed, rng, scenario, options);
  setUpProject(ctx);
  let actions = 0;
  try {
    await plainRun(ctx, 'initial run', []);
    const count = rng.int(3, Math.max(3, options.maxActions));
    for (let i = 0; i < count; i++, actions++) await act(ctx, rng.weighted(WEIGHTS));
    ctx.config = DEFAULT_CONFIG;
    await plainRun(ctx, 'final run', []);
  } catch (error) {
    ctx.add([{ kind: 'crash', detail: `harness: ${error instanceof Error ? error.stack : String(error)}` }]);
  }
  const keep = ctx.violations.length > 0 && options.keepFailed;
  if (!keep) rmSync(root, { recursive: true, force: true });
  return {
    seed,
    steps: scenario.instances.length,
    actions: actions + 2,
    runs: ctx.runs,
    kills: ctx.kills,
    tolerated: ctx.tolerated,
    freshChecked: ctx.freshChecked,
    violations: ctx.violations,
    keptAt: keep ? root : null,
  };
}

function setUpProject(ctx: Ctx): void {
  const write = (rel: string, text: string): void => {
    mkdirSync(path.dirname(path.join(ctx.project, rel)), { recursive: true });
    writeFileSync(path.join(ctx.project, rel), text);
  };
  mkdirSync(path.join(ctx.project, '.blu'), { recursive: true });
  mkdirSync(ctx.ctl, { recursive: true });
  write(PIPELINE_FILE, ctx.scenario.yaml);
  write(STEP_SCRIPT, STEP_SH);
  write('data/src0.txt', 'source zero\n');
  write('data/src1.txt', 'source one\n');
  write('data/srcdir/a.txt', 'a\n');
  write('data/srcdir/b/c.txt', 'c\n');
}

async function act(ctx: Ctx, kind: ActionKind): Promise<void> {
  const { rng } = ctx;
  switch (kind) {
    case 'run':
      return plainRun(ctx, 'run', randomTargets(ctx));
    case 'force':
      return forcedRun(ctx);
    case 'set': {
      ctx.config = randomConfig(rng);
      return plainRun(ctx, `set ${setArgs(ctx.config).join(' ')} and run`, rng.chance(0.7) ? [] : randomTargets(ctx));
    }
    case 'kill':
      return killedRun(ctx);
    // Switched off, it becomes a plain run: the rest of the scenario draws the same numbers.
    case 'concurrent':
      return ctx.options.concurrentRuns ? concurrentRuns(ctx) : plainRun(ctx, 'run (instead of concurrent runs)', []);
    case 'fail':
      return failingRun(ctx);
    case 'gc': {
      const keep = rng.int(1, 3);
      const r = await gc(ctx.project, keep);
      ctx.note(`gc --keep-last ${keep}`);
      if (r.code !== 0) ctx.add([{ kind: 'exit-code', detail: `gc exit ${r.code}: ${r.stderr.slice(0, 1000)}` }]);
      return cacheCheck(ctx);
    }
    case 'edit-output':
      return noteIf(ctx, editOutput(rng, ctx.project, ctx.scenario));
    case 'delete-output':
      return noteIf(ctx, deleteOutput(rng, ctx.project, ctx.scenario));
    case 'edit-dir':
      return noteIf(ctx, editDirOutput(rng, ctx.project, ctx.scenario));
    case 'edit-source':
      return noteIf(ctx, editSource(rng, ctx.project, ctx.trace.length));
    case 'corrupt-blob':
      return noteIf(ctx, corruptBlob(rng, ctx.cacheDir, ctx.damage));
  }
}

function noteIf(ctx: Ctx, what: string | null): void {
  if (what !== null) ctx.note(what);
}

function randomConfig(rng: Rng): Config {
  return Object.fromEntries(PARAMS.map((p) => [p, rng.int(1, 3)])) as Config;
}

/** 1–3 step names or instance ids. */
function randomTargets(ctx: Ctx): string[] {
  const ids = ctx.scenario.instances.map((i) => (ctx.rng.chance(0.5) ? i.step : i.id));
  return [...new Set(ctx.rng.sample(ids, ctx.rng.int(1, 3)))];
}

/** Run arguments: the config as --set, mostly untracked, sometimes tracked in a file store outside the project. */
function runArgs(ctx: Ctx, config: Config, extra: readonly string[]): { args: string[]; env: Record<string, string>; label: string } {
  const tracked = ctx.rng.chance(0.15);
  const jobs = String(ctx.rng.int(1, 4));
  const args = [PIPELINE_FILE, ...extra, ...setArgs(config), '--json', '-j', jobs, ...(tracked ? [] : ['--no-track'])];
  const env = tracked ? { MLFLOW_TRACKING_URI: `file:${path.join(ctx.root, 'mlruns')}` } : { MLFLOW_TRACKING_URI: '' };
  return { args, env, label: `run ${args.filter((a) => a !== '--json').join(' ')}` };
}

async function plainRun(ctx: Ctx, what: string, targets: readonly string[], extra: readonly string[] = []): Promise<void> {
  const { args, env, label } = runArgs(ctx, ctx.config, [...targets, ...extra]);
  ctx.note(`${what}: ${label}`);
  const started = Date.now();
  const r = await cliRun(ctx.project, args, env, { hangMs: ctx.options.hangMs });
  ctx.runs++;
  ctx.lastRunMs = Date.now() - started;
  if (expectExit(ctx, r, new Set())) await checkAll(ctx, ctx.config, targets.length === 0 && extra.length === 0);
}

async function forcedRun(ctx: Ctx): Promise<void> {
  const downstream = ctx.rng.chance(0.3) ? ['--downstream'] : [];
  return plainRun(ctx, 'force', randomTargets(ctx), ['--force', ...downstream]);
}

/** SIGKILL of the runner at a random moment; the next run must recover (exit 0, invariant holds). */
async function killedRun(ctx: Ctx): Promise<void> {
  // One draw whatever the timing, so the rest of the scenario replays the same from its seed.
  const after = Math.round(20 + ctx.rng.next() * ctx.lastRunMs);
  const force = ctx.rng.chance(0.5) ? ['--force', ...randomTargets(ctx)] : [];
  const { args, env, label } = runArgs(ctx, ctx.config, force);
  ctx.note(`SIGKILL after ${after} ms: ${label}`);
  const r = await cliRun(ctx.project, args, env, { hangMs: ctx.options.hangMs, killAfterMs: after });
  ctx.runs++;
  if (r.killed) {
    ctx.kills++;
    ctx.note('(killed while running)');
    checkCrashLog(ctx);
    return plainRun(ctx, 'recovery run', []);
  }
  if (expectExit(ctx, r, new Set())) await checkAll(ctx, ctx.config, false);
}

/** Two runs at once with different --set; both must succeed, and the invariant must hold for both. */
async function concurrentRuns(ctx: Ctx): Promise<void> {
  let other = randomConfig(ctx.rng);
  if (JSON.stringify(other) === JSON.stringify(ctx.config)) other = { ...other, a: (other.a % 3) + 1 };
  const configs = [ctx.config, other];
  const runs = configs.map((c) => runArgs(ctx, c, ctx.rng.chance(0.8) ? [] : randomTargets(ctx)));
  ctx.note(`concurrently: ${runs.map((r) => r.label).join(' | ')}`);
  const results = await Promise.all(runs.map((r) => cliRun(ctx.project, r.args, r.env, { hangMs: ctx.options.hangMs })));
  ctx.runs += 2;
  ctx.afterConcurrent = true;
  const ok = results.map((r) => expectExit(ctx, r, new Set()));
  for (const [i, c] of configs.entries()) if (ok[i]) await checkAll(ctx, c, false);
  ctx.config = ctx.rng.pick(configs);
}

/** A step made to fail on purpose (after writing a partial output): exit 1 naming only it, or 0 if it did not run. */
async function failingRun(ctx: Ctx): Promise<void> {
  const victim = ctx.rng.pick(ctx.scenario.instances).id;
  const marker = path.join(ctx.ctl, `fail-${victim}`);
  writeFileSync(marker, '');
  const targets = ctx.rng.chance(0.5) ? [] : [victim];
  const extra = ctx.rng.chance(0.5) ? ['--force'] : [];
  const { args, env, label } = runArgs(ctx, ctx.config, [...targets, ...extra]);
  ctx.note(`fail ${victim} on purpose: ${label}`);
  const r = await cliRun(ctx.project, args, env, { hangMs: ctx.options.hangMs });
  ctx.runs++;
  rmSync(marker, { force: true });
  if (expectExit(ctx, r, new Set([victim]))) await checkAll(ctx, ctx.config, false);
}

/** Exit 0, or 1 when only the steps in `mayFail` failed; anything else is a violation. True when the run succeeded. */
function expectExit(ctx: Ctx, r: CliRun, mayFail: ReadonlySet<string>): boolean {
  checkCrashLog(ctx);
  if (r.hung) {
    ctx.add([
      { kind: 'hang', detail: `no exit within the time limit; stderr: ${r.stderr.slice(-1500)}\nlast events: ${r.stdout.slice(-3000)}` },
    ]);
    return false;
  }
  if (r.code === 0) return true;
  const failed = failedSteps(r.stdout);
  if (r.code === 1 && failed.length > 0 && failed.every((f) => mayFail.has(f))) return false;
  ctx.add([
    {
      kind: 'exit-code',
      expected: mayFail.size > 0 ? '0 or 1' : '0',
      actual: String(r.code ?? r.signal),
      detail: `failed steps: [${failed.join(', ')}]; stderr: ${r.stderr.slice(-1500)}`,
    },
  ]);
  return false;
}

function checkCrashLog(ctx: Ctx): void {
  const file = path.join(ctx.project, '.blu', 'crash.log');
  if (!crashLogExists(ctx.project)) return;
  ctx.add([{ kind: 'crash', detail: readFileSync(file, 'utf8').slice(0, 3000) }]);
  rmSync(file, { force: true });
}

async function checkAll(ctx: Ctx, config: Config, fullRun: boolean): Promise<void> {
  const r = await checkInvariant(ctx.project, ctx.scenario, config, ctx.options, { fullRun, afterConcurrent: ctx.afterConcurrent });
  ctx.tolerated += r.tolerated;
  ctx.freshChecked += r.freshChecked;
  ctx.add(r.violations, config);
  await cacheCheck(ctx);
}

async function cacheCheck(ctx: Ctx): Promise<void> {
  pruneDamage(ctx.cacheDir, ctx.damage, (abs) => createHash('sha256').update(readFileSync(abs)).digest('hex'));
  ctx.add(await checkCache(ctx.project, ctx.damage));
}
