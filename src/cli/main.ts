#!/usr/bin/env node
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rerunWithTensorflowLogFiltered } from '../ml/backend/native/tf-log.js';
import { printUsage, wantsHelp } from './args.js';
import { RUN_USAGE } from './commands/run-usage.js';
import { VERSION } from './entry.js';
import type { CliIO, Command, ExitCode } from './io.js';
import { EXIT } from './io.js';

// Commands load lazily: `blu-pipe status` should not pay for MLflow or TensorFlow.js imports.
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  run: async () => (await import('./commands/run.js')).runCommand,
  status: async () => (await import('./commands/status.js')).statusCommand,
  dag: async () => (await import('./commands/dag.js')).dagCommand,
  gc: async () => (await import('./commands/gc.js')).gcCommand,
  cache: async () => (await import('./commands/cache.js')).cacheCommand,
  runs: async () => (await import('./commands/tracking.js')).runsCommand,
  compare: async () => (await import('./commands/tracking.js')).compareCommand,
  ui: async () => (await import('./commands/tracking.js')).uiCommand,
  doctor: async () => (await import('./commands/misc.js')).doctorCommand,
  kinds: async () => (await import('./commands/misc.js')).kindsCommand,
  native: async () => (await import('./commands/native.js')).nativeCommand,
  predict: async () => (await import('./commands/predict.js')).predictCommand,
  'exec-step': async () => (await import('./commands/exec-step.js')).execStepCommand,
};

const HELP = `blu-pipe ${VERSION}: declarative experiment pipelines, cached by content, tracked in MLflow

usage: blu-pipe <command> [options]
  run <pipeline.yaml> [steps…]    run what is stale (in parallel), restore what is cached
  status <pipeline.yaml>          fresh/stale per step and why (--json for scripts)
  dag <pipeline.yaml>             the graph (--format text|mermaid|dot)
  gc [--keep-last N]              delete cache entries nothing references; says what it freed
  cache verify [--repair]         rehash every cached blob; report (or remove) damaged entries
  runs [--last N]                 pipeline runs recorded in MLflow
  compare <runA> <runB>…          params that differ and final metrics side by side (--last 2)
  ui                              the mlflow ui command for the configured store
  mlflow sync                     replay tracking journals to MLflow after an outage
  doctor                          versions and the tensor backend in use
  kinds                           step kinds usable with 'uses:'
  native install|status           build/check the native TensorFlow backend (tfjs-node) offline
  predict <model> <images…|dir>   segment images with a trained model (--out DIR, --overlay)
  exec-step <spec.json>           run one resolved step (used by executors)

${RUN_USAGE}

Exit codes: 0 ok, 1 a step failed, 2 usage or pipeline-file error, 130 interrupted.`;

export async function main(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') return (io.stdout(`${HELP}\n`), EXIT.ok);
  if (name === '--version' || name === '-v') return (io.stdout(`${VERSION}\n`), EXIT.ok);
  if (name === 'mlflow') {
    if (rest[0] === 'sync') return (await import('./commands/tracking.js')).syncCommand(rest.slice(1), io);
    const usage = "usage: blu-pipe mlflow sync [options]   (the only mlflow subcommand; 'blu-pipe mlflow sync --help' lists its options)";
    if (wantsHelp(rest)) return printUsage(io, usage);
    io.stderr(`blu-pipe: unknown mlflow subcommand${rest[0] === undefined ? '' : ` '${rest[0]}'`}\n${usage}\n`);
    return EXIT.usage;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.stderr(`blu-pipe: unknown command '${name}'. Commands: ${[...Object.keys(COMMANDS), 'mlflow sync'].join(', ')}\n`);
    return EXIT.usage;
  }
  return (await load())(rest, io);
}

/** Bugs end with a short message and a crash report file, never a stack trace on the terminal. */
function reportCrash(error: unknown): never {
  const errno = (error as NodeJS.ErrnoException | null)?.code;
  if (errno === 'ENOSPC' || errno === 'EDQUOT') {
    // Not a bug: say what could not be written; the cache commits atomically, so it is consistent.
    const where = (error as NodeJS.ErrnoException).path;
    process.stderr.write(
      `blu-pipe: no space left on the device${where ? ` while writing ${where}` : ''}; free some space (blu-pipe gc frees cache space) and run again\n`,
    );
    process.exit(EXIT.failed);
  }
  const message = error instanceof Error ? error.message : String(error);
  let where = '';
  try {
    const dir = path.join(process.cwd(), '.blu');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'crash.log');
    appendFileSync(
      file,
      `${new Date().toISOString()} blu-pipe ${VERSION} ${process.argv.slice(2).join(' ')}\n${error instanceof Error ? error.stack : message}\n\n`,
    );
    where = ` (details in ${file})`;
  } catch {
    // nowhere to write: the message alone must do
  }
  process.stderr.write(`blu-pipe: internal error: ${message}${where}\nPlease report it with that file.\n`);
  process.exit(EXIT.failed);
}

const io: CliIO = {
  cwd: process.cwd(),
  env: process.env,
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  isTTY: process.stderr.isTTY === true,
};

// `blu-pipe status … | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    reportCrash(error);
  });
}
process.on('uncaughtException', reportCrash);
process.on('unhandledRejection', reportCrash);
// Commands that may load libtensorflow in this process: its start-up lines are dropped (tf-log.ts).
const LOADS_TENSORFLOW = new Set(['doctor', 'predict']);
const argv = process.argv.slice(2);
const filtered = LOADS_TENSORFLOW.has(argv[0] ?? '')
  ? await rerunWithTensorflowLogFiltered(fileURLToPath(import.meta.url), argv, process.env)
  : null;
(filtered !== null ? Promise.resolve(filtered) : main(argv, io)).then((code) => {
  process.exitCode = code;
  // Safety net: a stray handle (e.g. a worker thread in a backend) must not keep the CLI alive.
  setTimeout(() => process.exit(code), 3000).unref();
}, reportCrash);
