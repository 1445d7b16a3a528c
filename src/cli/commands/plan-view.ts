import { describeEmptyStep } from '../../runtime/load/matrix.js';
import { NONDETERMINISTIC_TAG } from '../../runtime/plan/consumed.js';
import { describeReason, summariseReasons } from '../../runtime/plan/plan.js';
import type { Session } from '../../runtime/session.js';
import type { WorkspaceVerdict } from '../../runtime/plan/verify-workspace.js';
import type { CliIO, ExitCode } from '../io.js';
import { EXIT } from '../io.js';

const LABEL = { fresh: 'fresh', restore: 'restore', run: 'stale', skip: 'skip' } as const;

/** `status` and `run --dry-run`: each selected step, what would happen, and why. */
export function printPlan(io: CliIO, session: Session, mode: 'status' | 'dry-run'): ExitCode {
  const shown = session.plan.steps.filter((p) => p.action !== 'skip');
  const count = (a: string): number => shown.filter((p) => p.action === a).length;
  // A fresh clone: the stale steps are only uncached here, which is no reason to doubt the committed results.
  const elsewhere = shown.filter((p) => p.reasons.length > 0 && p.reasons.every((r) => r.kind === 'not-cached-here')).length;
  const note =
    elsewhere > 0 ? ` (${elsewhere === count('run') ? 'all' : elsewhere} only not cached here: their keys match the committed lock)` : '';
  io.stdout(
    `${session.pipeline.name} (${session.pipeline.displayFile}): ${count('run')} stale${note}, ${count('restore')} to restore, ${count('fresh')} fresh\n`,
  );
  // A step whose matrix list is empty has no instances to show: say so rather than leave it out silently.
  for (const empty of session.pipeline.emptySteps ?? []) io.stdout(`  ${describeEmptyStep(empty)}\n`);
  const width = Math.max(...shown.map((p) => p.id.length), 4);
  for (const p of shown) {
    const reasons = [summariseReasons(p.reasons)].filter((r) => r !== '');
    if (p.action === 'restore' && p.entry) reasons.push(`will restore from the cache (run ${p.entry.producer.runId})`);
    const nondeterministic = nondeterminismOf(session, p.key);
    if (nondeterministic !== undefined) reasons.push(`not reproducible: ${nondeterministic}`);
    io.stdout(`  ${LABEL[p.action].padEnd(7)} ${p.id.padEnd(width)}  ${reasons.join('; ')}`.trimEnd() + '\n');
  }
  if (mode === 'dry-run') io.stdout('dry run: nothing was executed\n');
  return EXIT.ok;
}

export function planJson(session: Session, verdict?: WorkspaceVerdict): string {
  const steps = session.plan.steps
    .filter((p) => p.action !== 'skip')
    .map((p) => {
      const nondeterministic = nondeterminismOf(session, p.key);
      return {
        id: p.id,
        state: p.action === 'run' ? 'stale' : p.action,
        key: p.key,
        reasons: p.reasons.map((r) => ({ ...r, text: describeReason(r) })),
        ...(nondeterministic !== undefined ? { nondeterministic } : {}),
      };
    });
  const emptySteps = session.pipeline.emptySteps ?? [];
  const extra = { ...(emptySteps.length > 0 ? { emptySteps } : {}), ...(verdict ? { verify: verdict } : {}) };
  return `${JSON.stringify({ pipeline: session.pipeline.name, file: session.pipeline.displayFile, steps, ...extra }, null, 2)}\n`;
}

/** The `blu.nondeterministic` tag of the cached result for this key, if a rerun ever changed its outputs. */
function nondeterminismOf(session: Session, key: string): string | undefined {
  return session.facts.entries.get(key)?.tags?.[NONDETERMINISTIC_TAG];
}
