import path from 'node:path';
import { lockRefFor } from '../../runtime/plan/lockfile.js';
import { verifyWorkspace, type WorkspaceVerdict } from '../../runtime/plan/verify-workspace.js';
import { builtinRegistry } from '../../steps/registry.js';
import { PIPELINE_OPTIONS, parse } from '../args.js';
import type { CliIO, ExitCode } from '../io.js';
import { EXIT } from '../io.js';
import { usageError } from '../output.js';
import { planJson, printPlan } from './plan-view.js';
import { loadSession, sessionOptionsFrom } from './session-options.js';

const USAGE = `usage: blu-pipe status <pipeline.yaml> [step ...] [-e overlay] [--set p=v] [--downstream] [--verify] [--json]
  Shows each step as fresh, stale (with every reason) or to restore from the cache.
  --verify  also rereads every output the lock file records (no stat-cache shortcut) and lists
            those whose bytes differ; exit 1 if any do.`;

export async function statusCommand(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  const parsed = parse(argv, {
    ...PIPELINE_OPTIONS,
    json: { type: 'boolean' },
    downstream: { type: 'boolean' },
    verify: { type: 'boolean' },
  });
  if (!parsed.ok) return usageError(io, parsed.error, USAGE);
  if (parsed.value.values.help) return (io.stdout(`${USAGE}\n`), EXIT.ok);
  if (parsed.value.positionals.length === 0) return usageError(io, 'missing the pipeline file', USAGE);
  const session = await loadSession(io, sessionOptionsFrom(parsed.value, io, builtinRegistry()));
  if (typeof session === 'number') return session;
  const shown = session.plan.steps.filter((p) => p.action !== 'skip').map((p) => p.id);
  const verdict = parsed.value.values.verify ? await verifyWorkspace(session.pipeline.projectDir, session.facts.lock, shown) : undefined;
  const code = verdict === undefined || verdict.mismatches.length === 0 ? EXIT.ok : EXIT.failed;
  if (parsed.value.values.json) return (io.stdout(planJson(session, verdict)), code);
  printPlan(io, session, 'status');
  if (verdict !== undefined) printVerdict(io, verdict, lockRefFor(session.pipeline).file);
  return code;
}

function printVerdict(io: CliIO, verdict: WorkspaceVerdict, lockFile: string): void {
  const checked = `verify: reread ${verdict.checked} output${verdict.checked === 1 ? '' : 's'} recorded in ${path.basename(lockFile)}`;
  if (verdict.mismatches.length === 0) return io.stdout(`${checked}: all match\n`);
  io.stdout(
    `${checked}: ${verdict.mismatches.length} differ${verdict.mismatches.length === 1 ? 's' : ''} (a run restores or recomputes them)\n`,
  );
  for (const m of verdict.mismatches) {
    io.stdout(
      `  ${m.stepId} ${m.path}: the lock records ${m.recorded.slice(0, 12)}, the workspace holds ${m.now === null ? 'nothing (missing)' : m.now.slice(0, 12)}\n`,
    );
  }
}
