/** Many scenarios in a row, with the totals the fuzzer reports. */
import type { FoundViolation, ScenarioOptions, ScenarioResult } from './scenario.js';
import { runScenario } from './scenario.js';
import { scenarioSeed } from './rng.js';

export interface SessionOptions extends ScenarioOptions {
  readonly seed: number;
  readonly scenarios: number;
  /** Stop starting scenarios after this much wall time (ms); Infinity for no limit. */
  readonly budgetMs: number;
  /** Replay one scenario by its own seed (as printed with a violation) instead of deriving seeds. */
  readonly replay: number | null;
  /** Scenarios run at once (each in its own project). */
  readonly parallel: number;
  readonly onScenario?: (index: number, result: ScenarioResult) => void;
}

export interface SessionTotals {
  readonly scenarios: number;
  readonly actions: number;
  readonly runs: number;
  readonly kills: number;
  readonly stepInstances: number;
  readonly freshChecked: number;
  readonly tolerated: number;
  readonly violations: readonly FoundViolation[];
  readonly byKind: Readonly<Record<string, number>>;
  readonly wallMs: number;
}

export async function runSession(options: SessionOptions): Promise<SessionTotals> {
  const started = Date.now();
  const totals = { scenarios: 0, actions: 0, runs: 0, kills: 0, stepInstances: 0, freshChecked: 0, tolerated: 0 };
  const violations: FoundViolation[] = [];
  const count = options.replay === null ? options.scenarios : 1;
  let next = 0;
  // Scenarios are independent projects: `parallel` of them at once use the waits of each other's runs.
  const worker = async (): Promise<void> => {
    while (next < count && Date.now() - started < options.budgetMs) {
      const i = next++;
      const result = await runScenario(options.replay ?? scenarioSeed(options.seed, i), options);
      totals.scenarios++;
      totals.actions += result.actions;
      totals.runs += result.runs;
      totals.kills += result.kills;
      totals.stepInstances += result.steps;
      totals.freshChecked += result.freshChecked;
      totals.tolerated += result.tolerated;
      violations.push(...result.violations);
      options.onScenario?.(i, result);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.parallel) }, worker));
  const byKind: Record<string, number> = {};
  for (const v of violations) byKind[labelOf(v)] = (byKind[labelOf(v)] ?? 0) + 1;
  return { ...totals, violations, byKind, wallMs: Date.now() - started };
}

export interface Switches {
  readonly nondeterminism: boolean;
  readonly concurrentRuns: boolean;
  readonly uncachedOutputs: boolean;
  readonly tolerateStaleUpstreamDrift: boolean;
  readonly tolerateLockAfterConcurrent: boolean;
}

/** The known-issue switches from flags (main.ts) or the environment (both ways for the CI variant). */
export function switchesFrom(flags: Readonly<Record<string, unknown>>, env: Readonly<Record<string, string | undefined>>): Switches {
  return {
    nondeterminism: flags['no-nondeterminism'] !== true && env.FUZZ_NONDETERMINISM !== '0',
    uncachedOutputs: flags['no-uncached-outputs'] !== true && env.FUZZ_UNCACHED_OUTPUTS !== '0',
    concurrentRuns: flags['no-concurrent-runs'] !== true && env.FUZZ_CONCURRENT_RUNS !== '0',
    tolerateStaleUpstreamDrift: flags['tolerate-stale-upstream'] === true || env.FUZZ_STALE_UPSTREAM_DRIFT === 'tolerate',
    tolerateLockAfterConcurrent: flags['tolerate-lock-after-concurrent'] === true || env.FUZZ_LOCK_AFTER_CONCURRENT === 'tolerate',
  };
}

export function describeSwitches(s: Switches): string {
  return [
    `non-deterministic steps ${s.nondeterminism ? 'on' : 'off'}`,
    `cache: false outputs ${s.uncachedOutputs ? 'on' : 'off'}`,
    `concurrent runs ${s.concurrentRuns ? 'on' : 'off'}`,
    `drift behind a stale producer ${s.tolerateStaleUpstreamDrift ? 'tolerated' : 'a violation'}`,
    `lock mismatch after concurrent runs ${s.tolerateLockAfterConcurrent ? 'tolerated' : 'a violation'}`,
  ].join('; ');
}

/** The flags that give a replay the same scenario (the generator's choices depend on them). */
export function replayFlags(s: Switches & { readonly maxSteps: number; readonly maxActions: number }): string {
  return [
    `--max-steps ${s.maxSteps}`,
    `--max-actions ${s.maxActions}`,
    ...(s.nondeterminism ? [] : ['--no-nondeterminism']),
    ...(s.uncachedOutputs ? [] : ['--no-uncached-outputs']),
    ...(s.concurrentRuns ? [] : ['--no-concurrent-runs']),
    ...(s.tolerateStaleUpstreamDrift ? ['--tolerate-stale-upstream'] : []),
    ...(s.tolerateLockAfterConcurrent ? ['--tolerate-lock-after-concurrent'] : []),
  ]
    .map((f) => ` ${f}`)
    .join('');
}

/** Input drift is split by cause: behind a source file, a stale producer, or a fresh one; and whether non-determinism is upstream. */
export function labelOf(v: FoundViolation): string {
  if (v.inUncachedOutput) return `${v.kind} (in a cache: false output of the step)`;
  if (v.kind !== 'input-drift') return v.kind;
  if (!v.producer) return 'input-drift (source file)';
  const upstream = [
    ...(v.producer.nondetAncestry ? ['non-deterministic'] : []),
    ...(v.producer.uncachedAncestry ? ['cache: false outputs'] : []),
  ];
  return `input-drift (producer ${v.producer.state === 'fresh' ? 'fresh' : 'not fresh'}; upstream: ${upstream.length > 0 ? upstream.join(', ') : 'deterministic, cached'})`;
}

/** A reproducer for one violation: the scenario's seed, what was done, which step, expected vs actual. */
export function describeViolation(v: FoundViolation, flags: string): string {
  const lines = [
    `VIOLATION ${labelOf(v)}${v.step ? ` step ${v.step}` : ''}${v.path ? ` path ${v.path}` : ''}`,
    `  replay: npm run fuzz:runtime -- --replay ${v.seed}${flags} --keep`,
    ...(v.expected !== undefined ? [`  expected ${v.expected}`, `  actual   ${v.actual ?? '?'}`] : []),
    ...(v.detail ? [`  ${v.detail.split('\n').slice(0, 12).join('\n  ')}`] : []),
    `  config ${JSON.stringify(v.config)}; actions:`,
    ...v.trace.map((t, i) => `    ${i + 1}. ${t}`),
  ];
  return lines.join('\n');
}
