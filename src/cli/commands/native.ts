import { existsSync } from 'node:fs';
import os from 'node:os';
import type { NativeError } from '../../ml/backend/native/errors.js';
import type { NativeState } from '../../ml/backend/native/state.js';
import { parse, stringValue } from '../args.js';
import type { CliIO, ExitCode } from '../io.js';
import { EXIT } from '../io.js';
import { usageError } from '../output.js';

const USAGE = `usage: blu-pipe native <install|status|engine> [options]
  install [--from <wheel|tar.gz|dir>] [--force]
      Builds tfjs-node's native binding against a local TensorFlow C library and verifies it
      (conv forward and gradients against the cpu backend). Sources, in order: --from,
      BLU_LIBTENSORFLOW, then 'pip download ${'tensorflow-cpu'}' when pip can reach a wheel.
      Unpacks once per user into ~/.cache/blu-pipe/native (BLU_NATIVE_CACHE to move it);
      rerunning it is cheap. npm ci runs it for you unless BLU_NATIVE=0.
  status [--verify] [--json]
      What is installed, from where, and whether it loads (--verify loads it again now).
  engine
      Compiles the binary engine's native kernels (native/engine, C++ through node-gyp; one
      binary with AVX-512, AVX2+FMA and portable paths picked at run time) into the same cache,
      once per source version. npm ci runs it for you unless BLU_NATIVE_ENGINE=0.`;

const tilde = (p: string): string => (p.startsWith(os.homedir()) ? `~${p.slice(os.homedir().length)}` : p);

export function describeNativeError(error: NativeError): string {
  const detail = (error.detail ?? []).map((l) => `    ${l}\n`).join('');
  return `blu-pipe: ${error.message} [${error.code}]\n${detail}  fix: ${error.fix}\n`;
}

function stateLines(state: NativeState): string[] {
  const from =
    state.origin === 'registry'
      ? 'tfjs-node as installed from the npm registry'
      : `built here against ${state.source?.id ?? '?'} (${state.source?.via ?? '?'})`;
  return [
    `  TensorFlow:  ${state.tfVersion}`,
    `  origin:      ${from}`,
    ...(state.libtensorflowDir === null ? [] : [`  library:     ${tilde(state.libtensorflowDir)}`]),
    `  addon:       ${state.addon}${existsSync(state.addon) ? '' : '  (MISSING)'}`,
    `  verified:    ${state.verifiedAt}, conv forward/backward within ${state.maxRelativeError.toExponential(1)} of the cpu backend`,
  ];
}

async function installSub(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  const parsed = parse(argv, { from: { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (!parsed.ok) return usageError(io, parsed.error, USAGE);
  if (parsed.value.values.help) return (io.stdout(`${USAGE}\n`), EXIT.ok);
  if (parsed.value.positionals.length > 0) return usageError(io, `unexpected argument '${parsed.value.positionals[0]}'`, USAGE);
  const { installNative } = await import('../../ml/backend/native/install.js');
  const { isUsageError } = await import('../../ml/backend/native/errors.js');
  const from = stringValue(parsed.value.values.from);
  const result = await installNative({
    ...(from === null ? {} : { from }),
    force: parsed.value.values.force === true,
    env: io.env,
    report: (line) => io.stderr(`blu-pipe: ${line}\n`),
  });
  if (!result.ok) return (io.stderr(describeNativeError(result.error)), isUsageError(result.error) ? EXIT.usage : EXIT.failed);
  const said = {
    nothing: 'already installed and verified; nothing to do',
    'verified-registry': 'tfjs-node from the registry works',
    linked: 'installed (library and binding from the cache)',
    built: 'built and verified',
  }[result.value.did];
  io.stdout(`native TensorFlow backend: ${said}\n${stateLines(result.value.state).join('\n')}\n`);
  return EXIT.ok;
}

async function statusSub(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  const parsed = parse(argv, { verify: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (!parsed.ok) return usageError(io, parsed.error, USAGE);
  if (parsed.value.values.help) return (io.stdout(`${USAGE}\n`), EXIT.ok);
  const { nativeStatus } = await import('../../ml/backend/native/status.js');
  const status = await nativeStatus(io.env, parsed.value.values.verify === true);
  if (parsed.value.values.json) return (io.stdout(`${JSON.stringify(status, null, 2)}\n`), EXIT.ok);
  io.stdout(`native TensorFlow backend: ${status.summary}\n`);
  if (status.state !== null) io.stdout(`${stateLines(status.state).join('\n')}\n`);
  if (status.problem !== null) io.stdout(`  problem:     ${status.problem}\n  fix:         ${status.fix}\n`);
  io.stdout(`  cache:       ${tilde(status.cacheDir)} (${status.cacheEntries.length === 0 ? 'empty' : status.cacheEntries.join(', ')})\n`);
  return EXIT.ok;
}

async function engineSub(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  const parsed = parse(argv, { help: { type: 'boolean', short: 'h' } });
  if (!parsed.ok) return usageError(io, parsed.error, USAGE);
  if (parsed.value.values.help) return (io.stdout(`${USAGE}\n`), EXIT.ok);
  if (parsed.value.positionals.length > 0) return usageError(io, `unexpected argument '${parsed.value.positionals[0]}'`, USAGE);
  const { buildNativeEngine } = await import('../../ml/engine/native-build.js');
  const built = await buildNativeEngine(io.env);
  if (!built.ok) return (io.stderr(`blu-pipe: the native engine was not built: ${built.error}; the wasm engine is used\n`), EXIT.failed);
  const { describeEngine } = await import('../../ml/engine/native.js');
  io.stdout(
    `native engine ${built.value.how === 'cached' ? 'already built' : 'compiled'}: ${tilde(built.value.file)}\n${describeEngine(io.env)}\n`,
  );
  return EXIT.ok;
}

/** `blu-pipe native install|status|engine`. */
export async function nativeCommand(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  const [sub, ...rest] = argv;
  if (sub === 'install') return installSub(rest, io);
  if (sub === 'status') return statusSub(rest, io);
  if (sub === 'engine') return engineSub(rest, io);
  if (sub === undefined || sub === '--help' || sub === '-h') return (io.stdout(`${USAGE}\n`), sub === undefined ? EXIT.usage : EXIT.ok);
  return usageError(io, `unknown subcommand 'native ${sub}'`, USAGE);
}
