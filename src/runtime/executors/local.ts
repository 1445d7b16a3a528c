import type { WriteStream } from 'node:fs';
import { createWriteStream, mkdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { StepKindRegistry } from '../kinds/kind.js';
import type { CommitStores } from '../exec/attempt.js';
import { runAttempt } from '../exec/attempt.js';
import type { StepFailure } from '../events.js';
import type { AttemptSuccess, ExecuteOptions, Executor } from '../executor.js';
import { stepFileName } from '../layout.js';
import { OutputRouter } from '../exec/output-router.js';
import type { Result } from '../../base/result.js';
import { err, ok } from '../../base/result.js';
import type { StepSpec } from '../step-spec.js';

export interface LocalExecutorOptions {
  readonly jobs: number;
  readonly stores: CommitStores;
  readonly registry: StepKindRegistry;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Absolute path of the blu-pipe CLI entry, to run `uses:` steps in their own process. */
  readonly cliEntry: string;
  /** Output lines of `uses:` workers to leave out of the log (start-up noise of native libraries). */
  readonly dropWorkerLine?: (line: string) => boolean;
}

/**
 * Runs steps on this machine. `run:` commands are child processes already; `uses:` kinds (which may
 * do heavy JavaScript work such as training) run in a child `blu-pipe exec-step` so they never block
 * the scheduler and can run in parallel.
 */
export function createLocalExecutor(options: LocalExecutorOptions): Executor {
  // Read once: every read of process.env goes through getenv, and it is copied for every step.
  const env = { ...options.env };
  return {
    name: 'local',
    maxParallel: options.jobs,
    enforcesLocalResources: true,
    async execute(spec, execution) {
      const log = new LazyLog(spec.logPath);
      try {
        if (spec.kind === 'run') {
          return await runAttempt(spec, options.stores, { ...execution, output: log.write, env, registry: options.registry });
        }
        return await runInChild(spec, execution, options, log.write);
      } finally {
        await log.close();
      }
    },
    async shutdown() {},
  };
}

/** A step's log file, created at its first line: a silent step leaves no empty log behind. */
class LazyLog {
  #stream: WriteStream | null = null;

  constructor(private readonly file: string) {}

  readonly write = (text: string): void => {
    if (this.#stream === null) {
      mkdirSync(path.dirname(this.file), { recursive: true });
      this.#stream = createWriteStream(this.file, { flags: 'a' });
    }
    this.#stream.write(text);
  };

  async close(): Promise<void> {
    const stream = this.#stream;
    if (stream) await new Promise<void>((resolve) => stream.end(resolve));
  }
}

async function runInChild(
  spec: StepSpec,
  execution: ExecuteOptions,
  options: LocalExecutorOptions,
  output: (text: string) => void,
): Promise<Result<AttemptSuccess, StepFailure>> {
  const specFile = path.join(path.dirname(spec.logPath), 'specs', `${stepFileName(spec.id)}.json`);
  await mkdir(path.dirname(specFile), { recursive: true });
  await writeFile(specFile, JSON.stringify(spec, null, 2));
  const router = new OutputRouter(execution.report, output, options.dropWorkerLine);
  const { execa } = await import('execa');
  const child = execa(process.execPath, [options.cliEntry, 'exec-step', specFile], {
    cwd: spec.projectDir,
    env: options.env,
    extendEnv: false,
    stdin: 'ignore',
    reject: false,
    cancelSignal: execution.signal,
    forceKillAfterDelay: 5000,
    buffer: false,
    ...(spec.timeoutMs ? { timeout: spec.timeoutMs } : {}),
  });
  child.stdout?.on('data', router.push);
  child.stderr?.on('data', router.push);
  const result = await child;
  router.flush();
  if (!result.failed) {
    const entry = spec.cache ? ((await options.stores.ac.get(spec.key)) ?? null) : null;
    if (spec.cache && !entry)
      return err({ reason: 'internal', message: `step '${spec.id}' exited 0 but committed no cache entry`, logTail: router.tail() });
    return ok({ entry });
  }
  if (result.isCanceled) return err({ reason: 'cancelled', message: `step '${spec.id}' was cancelled`, logTail: router.tail() });
  if (result.timedOut)
    return err({
      reason: 'timeout',
      message: `step '${spec.id}' timed out after ${Math.round((spec.timeoutMs ?? 0) / 1000)} s`,
      logTail: router.tail(),
    });
  const last = router.tail().trim().split('\n').at(-1) ?? '';
  const message = last.startsWith('blu-pipe: ')
    ? last.slice('blu-pipe: '.length)
    : `step '${spec.id}' failed (exit code ${result.exitCode ?? result.signal})`;
  return err({ reason: result.signal ? 'signal' : 'exit-non-zero', message, exitCode: result.exitCode ?? 1, logTail: router.tail() });
}
