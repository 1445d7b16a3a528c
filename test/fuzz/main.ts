/**
 * `npm run fuzz:runtime [-- --scenarios N --seed S --max-steps M --minutes T --replay SEED --keep
 * --no-nondeterminism --tolerate-stale-upstream]`: the randomized invariant harness of the runtime.
 * Prints a reproducer per violation and the totals; exits 1 when it found any.
 */
import { parseArgs } from 'node:util';
import { appendFileSync, writeFileSync } from 'node:fs';
import { describeSwitches, describeViolation, labelOf, replayFlags, runSession, switchesFrom } from './session.js';

const USAGE = `usage: npm run fuzz:runtime -- [--scenarios N] [--seed S] [--max-steps M (200)] [--max-actions A (8)] [--minutes T] [--replay SEED] [--keep] [--parallel P]
  [--show N (reproducers printed per kind, default 3)] [--log FILE (every violation as a JSON line)]
  [--hang-seconds S (a run still going after S seconds is a violation; default 120)]
  [--no-nondeterminism] [--no-uncached-outputs] [--no-concurrent-runs] [--tolerate-stale-upstream] [--tolerate-lock-after-concurrent]
  Each of the last five also has an environment variable (for bisecting; the CI variant sets none of them, as the runtime fixes every class):
  FUZZ_NONDETERMINISM=0, FUZZ_UNCACHED_OUTPUTS=0, FUZZ_CONCURRENT_RUNS=0, FUZZ_STALE_UPSTREAM_DRIFT=tolerate,
  FUZZ_LOCK_AFTER_CONCURRENT=tolerate. A replay needs the same ones (the reproducer lists them).`;

function int(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`fuzz: --${name} must be a non-negative number, got '${value}'\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}

const FUZZ_OPTIONS = {
  scenarios: { type: 'string' },
  seed: { type: 'string' },
  'max-steps': { type: 'string' },
  minutes: { type: 'string' },
  replay: { type: 'string' },
  keep: { type: 'boolean' },
  'no-nondeterminism': { type: 'boolean' },
  'tolerate-stale-upstream': { type: 'boolean' },
  'no-uncached-outputs': { type: 'boolean' },
  'no-concurrent-runs': { type: 'boolean' },
  'tolerate-lock-after-concurrent': { type: 'boolean' },
  show: { type: 'string' },
  'hang-seconds': { type: 'string' },
  'max-actions': { type: 'string' },
  log: { type: 'string' },
  parallel: { type: 'string' },
  help: { type: 'boolean' },
} as const;

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof FUZZ_OPTIONS }>>['values'];
  try {
    parsed = parseArgs({
      options: FUZZ_OPTIONS,
    }).values;
  } catch (error) {
    process.stderr.write(`fuzz: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  if (parsed.help) return (process.stdout.write(`${USAGE}\n`), 0);
  const seed = int(parsed.seed, 1, 'seed');
  const show = int(parsed.show, 3, 'show');
  const options = {
    ...switchesFrom(parsed, process.env),
    seed,
    scenarios: int(parsed.scenarios, 2000, 'scenarios'),
    maxSteps: Math.max(10, int(parsed['max-steps'], 200, 'max-steps')),
    budgetMs: parsed.minutes === undefined ? Infinity : int(parsed.minutes, 0, 'minutes') * 60_000,
    replay: parsed.replay === undefined ? null : int(parsed.replay, 0, 'replay'),
    keepFailed: parsed.keep === true,
    hangMs: int(parsed['hang-seconds'], 120, 'hang-seconds') * 1000,
    maxActions: int(parsed['max-actions'], 8, 'max-actions'),
    parallel: Math.max(1, int(parsed.parallel, 1, 'parallel')),
  };
  process.stdout.write(
    `fuzz: seed ${seed}, up to ${options.replay === null ? options.scenarios : 1} scenarios of 10–${options.maxSteps} steps; ${describeSwitches(options)}\n`,
  );
  const shown = new Map<string, number>();
  const flags = replayFlags(options);
  // Synchronous writes: the process exits right after the last scenario.
  const logFile = parsed.log;
  if (logFile !== undefined) writeFileSync(logFile, '');
  const totals = await runSession({
    ...options,
    onScenario: (i, r) => {
      for (const v of r.violations) {
        if (logFile !== undefined) appendFileSync(logFile, `${JSON.stringify({ scenario: i, label: labelOf(v), ...v })}\n`);
        const n = (shown.get(labelOf(v)) ?? 0) + 1;
        shown.set(labelOf(v), n);
        if (n <= show) process.stdout.write(`\n[scenario ${i}] ${describeViolation(v, flags)}\n`);
      }
      if (r.keptAt && r.violations.length > 0) process.stdout.write(`[scenario ${i}] project kept at ${r.keptAt}\n`);
      if ((i + 1) % 25 === 0) process.stdout.write(`fuzz: ${i + 1} scenarios…\n`);
    },
  });
  const minutes = totals.wallMs / 60_000;
  process.stdout.write(
    [
      '',
      `scenarios run:     ${totals.scenarios} (${totals.stepInstances} step instances; ${totals.freshChecked} fresh steps checked)`,
      `actions run:       ${totals.actions} (${totals.runs} CLI runs, ${totals.kills} SIGKILLed mid-run)`,
      `violations:        ${totals.violations.length}${
        Object.keys(totals.byKind).length
          ? ` (${Object.entries(totals.byKind)
              .map(([k, n]) => `${k}: ${n}`)
              .join(', ')})`
          : ''
      }`,
      ...(options.tolerateStaleUpstreamDrift || options.tolerateLockAfterConcurrent
        ? [`tolerated:         ${totals.tolerated} (known issues switched to counting, see the first line)`]
        : []),
      `wall time:         ${(totals.wallMs / 1000).toFixed(1)} s (${(totals.scenarios / minutes).toFixed(1)} scenarios/min)`,
      '',
    ].join('\n'),
  );
  return totals.violations.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`fuzz: harness error: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(2);
  },
);
