import { builtinRegistry } from '../../steps/registry.js';
import { schemaPath } from '../../schemas/index.js';
import { printUsage, wantsHelp } from '../args.js';
import type { CliIO, ExitCode } from '../io.js';
import { EXIT } from '../io.js';
import { VERSION } from '../entry.js';

/** `blu-pipe kinds`: the registered step kinds and their `with:` schema. */
const KINDS_USAGE = `usage: blu-pipe kinds [--json]
  Lists the step kinds usable with 'uses:', their version and their 'with:' settings.`;

const DOCTOR_USAGE = `usage: blu-pipe doctor [--backend=NAME]
  Prints versions and which tensor backend steps would use, and why.`;

export async function kindsCommand(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  if (wantsHelp(argv)) return printUsage(io, KINDS_USAGE);
  const registry = builtinRegistry();
  const json = argv.includes('--json');
  const kinds = registry.names().map((n) => registry.get(n)!);
  if (json) {
    io.stdout(
      `${JSON.stringify(
        kinds.map((k) => ({ name: k.name, version: k.version, description: k.description, with: k.withSchema })),
        null,
        2,
      )}\n`,
    );
    return EXIT.ok;
  }
  io.stdout('run: <command>   a command (argv list or string split without a shell)\n');
  for (const k of kinds) {
    const props = Object.keys((k.withSchema as { properties?: object }).properties ?? {});
    io.stdout(`uses: ${k.name.padEnd(10)} v${k.version}  ${k.description}\n    with: ${props.join(', ')}\n`);
  }
  return EXIT.ok;
}

/** `blu-pipe doctor`: versions, the tensor backend that would be used, and why. */
export async function doctorCommand(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  if (wantsHelp(argv)) return printUsage(io, DOCTOR_USAGE);
  io.stdout(`blu-pipe ${VERSION} on Node ${process.version} (${process.platform}/${process.arch})\n`);
  io.stdout(`pipeline schema: ${schemaPath('pipeline')}\n`);
  const { describeBackends } = await import('../../ml/backend/describe.js');
  const backend = argv.find((a) => a.startsWith('--backend='))?.slice('--backend='.length);
  if (backend) process.env.BLU_BACKEND = backend; // initBackend reads it, as steps do
  io.stdout(`${await describeBackends()}\n`);
  const { describeEngine } = await import('../../ml/engine/native.js');
  io.stdout(`${describeEngine()}\n`);
  return EXIT.ok;
}
