import { builtinRegistry } from '../../steps/registry.js';
import { PIPELINE_OPTIONS, parse } from '../args.js';
import type { CliIO, ExitCode } from '../io.js';
import { EXIT } from '../io.js';
import { usageError } from '../output.js';
import { planJson, printPlan } from './plan-view.js';
import { loadSession, sessionOptionsFrom } from './session-options.js';

const USAGE = `usage: blu-pipe status <pipeline.yaml> [step ...] [-e overlay] [--set p=v] [--downstream] [--json]
  Shows each step as fresh, stale (with every reason) or to restore from the cache.`;

export async function statusCommand(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  const parsed = parse(argv, { ...PIPELINE_OPTIONS, json: { type: 'boolean' }, downstream: { type: 'boolean' } });
  if (!parsed.ok) return usageError(io, parsed.error, USAGE);
  if (parsed.value.values.help) return (io.stdout(`${USAGE}\n`), EXIT.ok);
  if (parsed.value.positionals.length === 0) return usageError(io, 'missing the pipeline file', USAGE);
  const session = await loadSession(io, sessionOptionsFrom(parsed.value, io, builtinRegistry()));
  if (typeof session === 'number') return session;
  if (parsed.value.values.json) return (io.stdout(planJson(session)), EXIT.ok);
  return printPlan(io, session, 'status');
}
