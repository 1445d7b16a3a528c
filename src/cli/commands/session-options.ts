import type { SessionOptions, Session } from '../../runtime/session.js';
import { openSession } from '../../runtime/session.js';
import type { StepKindRegistry } from '../../runtime/kinds/kind.js';
import type { Parsed } from '../args.js';
import { stringList, stringValue } from '../args.js';
import type { CliIO, ExitCode } from '../io.js';
import { printDiagnostics } from '../output.js';

export function sessionOptionsFrom(parsed: Parsed, io: CliIO, registry: StepKindRegistry): SessionOptions {
  const { values, positionals } = parsed;
  return {
    file: positionals[0]!,
    cwd: io.cwd,
    overlays: stringList(values.experiment),
    sets: stringList(values.set),
    targets: positionals.slice(1),
    downstream: values.downstream === true,
    force: values.force === true,
    noCache: values['no-cache'] === true,
    cacheDir: stringValue(values['cache-dir']),
    projectDir: stringValue(values['project-dir']),
    registry,
    env: io.env,
  };
}

/** Opens a session or prints every problem and returns exit code 2. */
export async function loadSession(io: CliIO, options: SessionOptions): Promise<Session | ExitCode> {
  const session = await openSession(options);
  if (!session.ok) return printDiagnostics(io, session.error);
  return session.value;
}
