import path from 'node:path';
import type { Diagnostic } from './diagnostics.js';
import { suggestion } from './diagnostics.js';
import type { PathSegment } from './diagnostics.js';
import type { StepInstance } from '../pipeline.js';
import type { Draft, ResolveContext } from './resolve.js';

/**
 * Turns `needs:` names into instance ids, checks outputs, and adds edges implied by deps on outputs.
 * A name in `stepNames` without drafts (a step with no instances) needs nothing, nor does an id in
 * `unresolved` (an instance whose own problems were reported).
 */
export function linkInstances(
  drafts: readonly Draft[],
  ctx: ResolveContext,
  stepNames: readonly string[] = [],
  unresolved: ReadonlySet<string> = new Set(),
): { steps: StepInstance[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const byName = new Map<string, string[]>(stepNames.map((name) => [name, []]));
  for (const d of drafts) byName.set(d.name, [...(byName.get(d.name) ?? []), d.id]);
  const ids = new Set(drafts.map((d) => d.id));
  diagnostics.push(...checkOutputs(drafts, ctx));
  const producers = new Map<string, string>();
  for (const d of drafts) for (const o of d.outs) producers.set(o.path, d.id);
  const steps = drafts.map((draft): StepInstance => {
    const needs = new Map<string, readonly PathSegment[]>();
    for (const need of draft.needNames) {
      const targets = ids.has(need.text) ? [need.text] : (byName.get(need.text) ?? []);
      if (targets.length === 0 && !byName.has(need.text) && !unresolved.has(need.text)) {
        const message = `'${draft.name}' needs unknown step '${need.text}'${suggestion(need.text, [...byName.keys(), ...ids])}`;
        diagnostics.push(ctx.source.diagnostic('BLU_UNKNOWN_NEED', message, need.path));
      }
      for (const t of targets) {
        if (t === draft.id) diagnostics.push(ctx.source.diagnostic('BLU_SELF_NEED', `step '${draft.id}' cannot need itself`, need.path));
        else needs.set(t, need.path);
      }
    }
    for (const [dep, producer] of impliedProducers(draft, producers))
      if (!needs.has(producer)) needs.set(producer, ['steps', draft.name, 'deps', Math.max(0, draft.deps.indexOf(dep))]);
    const { needNames: _names, ...rest } = draft;
    return { ...rest, needs: [...needs.keys()], needsAt: Object.fromEntries(needs) };
  });
  return { steps, diagnostics };
}

/** A dep equal to, or inside, another step's output means that step must run first. */
function impliedProducers(draft: Draft, producers: ReadonlyMap<string, string>): [string, string][] {
  const out: [string, string][] = [];
  for (const dep of draft.deps) {
    // Walk up the dep's path: outputs are unique and never nested, so at most one matches.
    for (let p = dep; p !== '.' && p !== '/' && p !== ''; p = path.posix.dirname(p)) {
      const producer = producers.get(p);
      if (producer !== undefined && producer !== draft.id) out.push([dep, producer]);
      if (producer !== undefined || !p.includes('/')) break;
    }
  }
  return out;
}

function checkOutputs(drafts: readonly Draft[], ctx: ResolveContext): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const owner = new Map<string, string>(); // output path → step id
  for (const d of drafts) {
    d.outs.forEach((o, index) => {
      const at = ['steps', d.name, 'outs', index];
      const abs = path.resolve(ctx.projectDir, o.path);
      const rel = path.relative(ctx.projectDir, abs);
      if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || path.isAbsolute(o.path)) {
        diagnostics.push(
          ctx.source.diagnostic(
            'BLU_OUTPUT_OUTSIDE_PROJECT',
            `output '${o.path}' of step '${d.id}' is outside the project (${ctx.projectDir}); outputs must be inside it so the cache can own them`,
            at,
          ),
        );
        return;
      }
      const clash = findClash(o.path, d.id, owner);
      if (clash) {
        const how = clash.path === o.path ? 'is also an output of' : 'overlaps the output';
        diagnostics.push(
          ctx.source.diagnostic(
            'BLU_OUTPUT_OVERLAP',
            `output '${o.path}' of step '${d.id}' ${how} '${clash.path}' of step '${clash.id}'; every output must belong to one step (use \${matrix.<key>} in matrix outputs)`,
            at,
          ),
        );
      }
      owner.set(o.path, d.id);
    });
  }
  return diagnostics;
}

/** Another step's output equal to this path, above it, or below it. */
function findClash(out: string, id: string, owner: ReadonlyMap<string, string>): { path: string; id: string } | null {
  for (let p = out; p !== '.' && p !== ''; p = path.posix.dirname(p)) {
    const other = owner.get(p);
    if (other !== undefined && other !== id) return { path: p, id: other };
    if (!p.includes('/')) break;
  }
  for (const [p, other] of owner) if (other !== id && p.startsWith(`${out}/`)) return { path: p, id: other };
  return null;
}
