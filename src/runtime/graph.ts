import type { Diagnostic, SourceMap } from './load/diagnostics.js';
import type { StepInstance } from './pipeline.js';

/** Reports every cycle once, naming every edge with the position where it was declared. */
export function detectCycles(steps: readonly StepInstance[], source: SourceMap): Diagnostic[] {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const diagnostics: Diagnostic[] = [];
  const reported = new Set<string>();
  const visit = (id: string): void => {
    state.set(id, 'visiting');
    stack.push(id);
    for (const need of byId.get(id)?.needs ?? []) {
      if (state.get(need) === 'visiting') {
        const cycle = stack.slice(stack.indexOf(need));
        const signature = [...cycle].sort().join('|');
        if (!reported.has(signature)) {
          reported.add(signature);
          diagnostics.push(cycleDiagnostic(cycle, byId, source));
        }
      } else if (!state.has(need)) visit(need);
    }
    stack.pop();
    state.set(id, 'done');
  };
  for (const s of steps) if (!state.has(s.id)) visit(s.id);
  return diagnostics;
}

function cycleDiagnostic(cycle: readonly string[], byId: ReadonlyMap<string, StepInstance>, source: SourceMap): Diagnostic {
  // cycle[i] needs cycle[i+1]; the last needs the first.
  const edges = cycle.map((from, i) => ({ from, to: cycle[(i + 1) % cycle.length]! }));
  const where = (from: string, to: string): { line: number; col: number } => {
    const step = byId.get(from)!;
    const at = step.needsAt[to];
    return at ? source.position(at) : source.position(step.at, { key: true });
  };
  const pos = where(edges[0]!.from, edges[0]!.to);
  return {
    code: 'BLU_CYCLE',
    message: `cycle in the pipeline: ${[...cycle, cycle[0]].join(' → ')}`,
    file: source.file,
    line: pos.line,
    col: pos.col,
    related: edges.map(({ from, to }) => {
      const p = where(from, to);
      return { message: `'${from}' needs '${to}'`, file: source.file, line: p.line, col: p.col };
    }),
  };
}

/** Instance ids in an order where every step comes after what it needs (graph must be acyclic). */
export function topologicalOrder(steps: readonly GraphNode[]): string[] {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const done = new Set<string>();
  const order: string[] = [];
  const visit = (id: string): void => {
    if (done.has(id)) return;
    done.add(id);
    for (const need of byId.get(id)?.needs ?? []) visit(need);
    order.push(id);
  };
  for (const s of steps) visit(s.id);
  return order;
}

type GraphNode = Pick<StepInstance, 'id' | 'needs'>;

export function dependents(steps: readonly GraphNode[]): Map<string, string[]> {
  const out = new Map<string, string[]>(steps.map((s) => [s.id, []]));
  for (const s of steps) for (const n of s.needs) out.get(n)?.push(s.id);
  return out;
}

/**
 * Scheduling priority per step: the longest chain of steps that wait for it (critical path by step
 * count), ties broken by how many steps wait for it at all, so that of two equally deep steps the
 * one that unblocks more starts first. The tie-break is a fraction below 1, so depth always wins.
 */
export function schedulingPriorities(steps: readonly GraphNode[]): Map<string, number> {
  const down = dependents(steps);
  const depth = new Map<string, number>();
  const below = new Map<string, Set<string>>();
  for (const id of [...topologicalOrder(steps)].reverse()) {
    const waiting = down.get(id) ?? [];
    depth.set(id, Math.max(0, ...waiting.map((d) => 1 + (depth.get(d) ?? 0))));
    below.set(id, new Set(waiting.flatMap((d) => [d, ...(below.get(d) ?? [])])));
  }
  const total = steps.length + 1;
  return new Map(steps.map((s) => [s.id, (depth.get(s.id) ?? 0) + (below.get(s.id)?.size ?? 0) / total]));
}

export type SelectionError = { readonly target: string; readonly message: string };

/**
 * Targets may be step names (all instances), instance ids, or globs with '*' (`ablation@*`).
 * Returns the targets plus everything they need (upstream), plus downstream when asked.
 */
export function selectSteps(
  steps: readonly StepInstance[],
  targets: readonly string[],
  options: { downstream: boolean },
): { selected: Set<string>; roots: Set<string>; errors: SelectionError[] } {
  const errors: SelectionError[] = [];
  const roots = new Set<string>();
  if (targets.length === 0) steps.forEach((s) => roots.add(s.id));
  for (const t of targets) {
    const matched = matchTarget(steps, t);
    if (matched.length === 0) errors.push({ target: t, message: `no step matches '${t}'` });
    matched.forEach((id) => roots.add(id));
  }
  const byId = new Map(steps.map((s) => [s.id, s]));
  const downstreamOf = dependents(steps);
  const withDown = new Set(roots);
  if (options.downstream) {
    const queue = [...roots];
    while (queue.length > 0) for (const d of downstreamOf.get(queue.pop()!) ?? []) if (!withDown.has(d)) withDown.add(d), queue.push(d);
  }
  const selected = new Set<string>();
  const addUp = (id: string): void => {
    if (selected.has(id)) return;
    selected.add(id);
    byId.get(id)?.needs.forEach(addUp);
  };
  withDown.forEach(addUp);
  return { selected, roots: withDown, errors };
}

function matchTarget(steps: readonly StepInstance[], target: string): string[] {
  if (target.includes('*')) {
    const re = new RegExp(
      `^${target
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
    return steps.filter((s) => re.test(s.id)).map((s) => s.id);
  }
  const exact = steps.filter((s) => s.id === target);
  return exact.length > 0 ? exact.map((s) => s.id) : steps.filter((s) => s.name === target).map((s) => s.id);
}
