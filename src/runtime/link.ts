import path from 'node:path';
import type { Diagnostic } from './diagnostics.js';
import { suggestion } from './diagnostics.js';
import type { Position, StepInstance } from './pipeline.js';
import type { Draft, ResolveContext } from './resolve.js';

/** Turns `needs:` names into instance ids, checks outputs, and adds edges implied by deps on outputs. */
export function linkInstances(drafts: readonly Draft[], ctx: ResolveContext): { steps: StepInstance[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const byName = new Map<string, string[]>();
  for (const d of drafts) byName.set(d.name, [...(byName.get(d.name) ?? []), d.id]);
  const ids = new Set(drafts.map((d) => d.id));
  diagnostics.push(...checkOutputs(drafts, ctx));
  const steps = drafts.map((draft): StepInstance => {
    const needs = new Map<string, Position>();
    for (const need of draft.needNames) {
      const targets = ids.has(need.text) ? [need.text] : (byName.get(need.text) ?? []);
      if (targets.length === 0) {
        const message = `'${draft.name}' needs unknown step '${need.text}'${suggestion(need.text, [...byName.keys(), ...ids])}`;
        diagnostics.push(ctx.source.diagnostic('BLU_UNKNOWN_NEED', message, need.path));
      }
      for (const t of targets) {
        if (t === draft.id) diagnostics.push(ctx.source.diagnostic('BLU_SELF_NEED', `step '${draft.id}' cannot need itself`, need.path));
        else needs.set(t, need.position);
      }
    }
    for (const [dep, producer] of impliedProducers(draft, drafts)) if (!needs.has(producer)) needs.set(producer, positionOfDep(draft, dep, ctx));
    const { needNames: _names, ...rest } = draft;
    return { ...rest, needs: [...needs.keys()], needsPositions: Object.fromEntries(needs) };
  });
  return { steps, diagnostics };
}

function positionOfDep(draft: Draft, dep: string, ctx: ResolveContext): Position {
  const index = draft.deps.indexOf(dep);
  return ctx.source.position(['steps', draft.name, 'deps', Math.max(0, index)]);
}

/** A dep equal to, or inside, another step's output means that step must run first. */
function impliedProducers(draft: Draft, all: readonly Draft[]): [string, string][] {
  const out: [string, string][] = [];
  for (const dep of draft.deps) {
    for (const other of all) {
      if (other.id === draft.id) continue;
      if (other.outs.some((o) => dep === o.path || dep.startsWith(`${o.path}/`))) out.push([dep, other.id]);
    }
  }
  return out;
}

function checkOutputs(drafts: readonly Draft[], ctx: ResolveContext): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const seen: { path: string; id: string; name: string; index: number }[] = [];
  for (const d of drafts) {
    d.outs.forEach((o, index) => {
      const at = ['steps', d.name, 'outs', index];
      const abs = path.resolve(ctx.projectDir, o.path);
      const rel = path.relative(ctx.projectDir, abs);
      if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || path.isAbsolute(o.path)) {
        diagnostics.push(ctx.source.diagnostic('BLU_OUTPUT_OUTSIDE_PROJECT', `output '${o.path}' of step '${d.id}' is outside the project (${ctx.projectDir}); outputs must be inside it so the cache can own them`, at));
        return;
      }
      const clash = seen.find((s) => s.id !== d.id && (s.path === o.path || o.path.startsWith(`${s.path}/`) || s.path.startsWith(`${o.path}/`)));
      if (clash) {
        const how = clash.path === o.path ? 'is also an output of' : 'overlaps the output';
        diagnostics.push(ctx.source.diagnostic('BLU_OUTPUT_OVERLAP', `output '${o.path}' of step '${d.id}' ${how} '${clash.path}' of step '${clash.id}'; every output must belong to one step (use \${matrix.<key>} in matrix outputs)`, at));
      }
      seen.push({ path: o.path, id: d.id, name: d.name, index });
    });
  }
  return diagnostics;
}
