import { readFile } from 'node:fs/promises';
import { ActionCache } from '../../artifacts/action-cache.js';
import { ContentStore } from '../../artifacts/content-store.js';
import { runAttempt } from '../../runtime/exec/attempt.js';
import { exitWithParent } from '../../runtime/exec/parent-watch.js';
import { formatMetricLine, formatProgressLine, formatTagLine } from '../../runtime/exec/step-protocol.js';
import type { StepSpec } from '../../runtime/step-spec.js';
import { builtinRegistry } from '../../steps/registry.js';
import { printUsage, wantsHelp } from '../args.js';
import type { CliIO, ExitCode } from '../io.js';
import { EXIT } from '../io.js';
import { usageError } from '../output.js';

const WORKER_GRACE_MS = 4000;

const USAGE = `usage: blu-pipe exec-step <spec.json>
  Runs one fully resolved step instance (written by the scheduler) and commits its outputs to the
  cache. Used by executors (local child processes, Slurm jobs); not meant to be typed by hand.`;

export async function execStepCommand(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  if (wantsHelp(argv)) return printUsage(io, USAGE);
  if (argv.length !== 1) return usageError(io, 'expected one spec file', USAGE);
  let spec: StepSpec;
  try {
    spec = JSON.parse(await readFile(argv[0]!, 'utf8')) as StepSpec;
  } catch (error) {
    return usageError(io, `cannot read step spec '${argv[0]}': ${error instanceof Error ? error.message : String(error)}`, USAGE);
  }
  if (spec.specSchema !== 1)
    return usageError(
      io,
      `step spec '${argv[0]}' has schema ${String(spec.specSchema)}; this blu-pipe reads schema 1 (are the nodes on the same version?)`,
      USAGE,
    );
  // A runner that exits at once (second Ctrl-C, SIGKILL, a crash) cannot stop this worker; it stops itself.
  const stopWatch = exitWithParent();
  const controller = new AbortController();
  // First signal: let the step stop at its next check (between batches) and exit cleanly. A step
  // that does not notice within the grace period, or a second signal, ends the worker at once;
  // nothing is committed either way.
  const onSignal = (): void => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort();
    setTimeout(() => process.exit(EXIT.interrupted), WORKER_GRACE_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const stores = { cas: new ContentStore(spec.cacheDir), ac: new ActionCache(spec.cacheDir) };
  const result = await runAttempt(spec, stores, {
    signal: controller.signal,
    report: {
      progress: (p) => io.stdout(`${formatProgressLine(p)}\n`),
      metric: (name, value, step, timestamp) => io.stdout(`${formatMetricLine(name, value, step, timestamp)}\n`),
      tag: (key, value) => io.stdout(`${formatTagLine(key, value)}\n`),
    },
    output: io.stdout,
    env: io.env,
    registry: builtinRegistry(),
    ...(io.env.SLURM_JOB_ID ? { jobId: io.env.SLURM_JOB_ID } : {}),
  });
  stopWatch();
  if (result.ok) return EXIT.ok;
  // The last line is read by executors as the failure message.
  io.stderr(`blu-pipe: ${result.error.message}\n`);
  return controller.signal.aborted ? EXIT.interrupted : EXIT.failed;
}
