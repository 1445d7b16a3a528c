import type { ActionCacheEntry, KeyComponents, StepKey } from '../../artifacts/types.js';
import type { LockSection } from './lockfile.js';
import { consumedChanges } from './consumed.js';
import type { StaleReason } from './reasons.js';

export type PlanAction = 'fresh' | 'restore' | 'run' | 'skip';

/** What is on disk for one output path right now. */
export type WorkspaceState = { readonly type: 'file' | 'dir'; readonly hash: string } | { readonly type: 'missing' };

/** Everything the plan needs, gathered by IO beforehand (see gather.ts): planning itself is pure. */
export interface PlanFacts {
  readonly keys: ReadonlyMap<string, { readonly key: StepKey; readonly components: KeyComponents }>;
  readonly entries: ReadonlyMap<string, ActionCacheEntry>; // by key
  /** Whether every blob of an entry is still in the store (by key); asked only of entries a plan may restore. */
  readonly storeComplete: ReadonlyMap<string, boolean>;
  readonly workspace: ReadonlyMap<string, WorkspaceState>; // by output path
  /** What this pipeline's lock file records for this experiment (the overlay set). */
  readonly lock: LockSection;
  /** Steps whose previous attempt started and never committed (by step id → run id). */
  readonly incomplete: ReadonlyMap<string, string>;
  /** Runs this project made (its .blu/runs); unset: assume every locked run was made here. */
  readonly localRuns?: ReadonlySet<string>;
}

export interface PlanStepInput {
  readonly id: string;
  readonly needs: readonly string[];
  readonly cache: boolean;
  readonly alwaysRun: boolean;
  readonly outs: readonly { readonly path: string; readonly cache: boolean }[];
}

export interface PlannedStep {
  readonly id: string;
  readonly action: PlanAction;
  readonly key: StepKey;
  readonly components: KeyComponents;
  readonly reasons: readonly StaleReason[];
  /** The entry to keep or restore; for 'run', set only when the step waits for an upstream that is not fresh. */
  readonly entry: ActionCacheEntry | null;
}

export interface Plan {
  readonly steps: readonly PlannedStep[]; // in topological order
}

/** Decides per step: fresh, restore, run or skip, with the reasons, as a pure function of its inputs. */
export function planRun(
  order: readonly PlanStepInput[],
  facts: PlanFacts,
  options: { readonly selected: ReadonlySet<string>; readonly forced: ReadonlySet<string>; readonly noCache?: boolean },
): Plan {
  // What each settled upstream output will hold, filled in topological order (see consumed.ts).
  const settled = new Map<string, { step: string; hash: string }>();
  const decided = new Map<string, PlannedStep>();
  const producers = new Map(order.flatMap((s) => s.outs.map((o) => [o.path, s.id] as const)));
  const decide = (step: PlanStepInput): PlannedStep => {
    const { key, components } = facts.keys.get(step.id)!;
    const base = { id: step.id, key, components };
    if (!options.selected.has(step.id)) return { ...base, action: 'skip', reasons: [], entry: null };
    if (options.forced.has(step.id)) return { ...base, action: 'run', reasons: [{ kind: 'forced' }], entry: null };
    if (!step.cache) return { ...base, action: 'run', reasons: [{ kind: 'cache-disabled' }], entry: null };
    if (step.alwaysRun) return { ...base, action: 'run', reasons: [{ kind: 'always-run' }], entry: null };
    const entry = options.noCache ? undefined : facts.entries.get(key);
    if (!entry) {
      const history = historyOf(step.id, components, facts);
      return { ...base, action: 'run', reasons: history.length > 0 ? history : [missingEntryReason(step.id, key, facts)], entry: null };
    }
    // Same key, but the upstream now holds other bytes than this result was computed from: never fresh, never restored.
    const upstreamChanges = consumedChanges(entry.consumed, settled);
    if (upstreamChanges.length > 0)
      return { ...base, action: 'run', reasons: [...historyOf(step.id, components, facts), ...upstreamChanges], entry: null };
    // Nor fresh while an upstream it reads is not: its inputs in the workspace are not (yet) what it consumed.
    const upstreamNotFresh = notFreshUpstream(step, entry, decided, producers, facts.workspace);
    if (upstreamNotFresh.length > 0)
      // The entry stays: once the upstream is settled, the scheduler takes it if the bytes match again.
      return { ...base, action: 'run', reasons: [...historyOf(step.id, components, facts), ...upstreamNotFresh], entry };
    const outputProblems = checkOutputs(entry, step, facts.workspace);
    if (outputProblems.length === 0) return { ...base, action: 'fresh', reasons: [], entry };
    const history = historyOf(step.id, components, facts);
    // Outputs kept out of the cache (`cache: false`) cannot be restored: only a run recreates them.
    if (facts.storeComplete.get(key) === false || !uncachedCurrent(entry, step, facts.workspace)) {
      return { ...base, action: 'run', reasons: [...history, ...outputProblems], entry: null };
    }
    return { ...base, action: 'restore', reasons: [...history, ...outputProblems], entry };
  };
  const steps = order.map((step) => {
    const planned = noteSettled(decide(step), step, facts.workspace, settled);
    decided.set(step.id, planned);
    return planned;
  });
  return { steps };
}

/**
 * Why a step with a usable entry still cannot be fresh because of its upstream: a need planned to be
 * restored (its outputs are not what it recorded), or an upstream output it consumed that the
 * workspace holds other bytes of now (or lacks). A need that runs (forced, always_run, cache: false)
 * while its outputs still hold what this step consumed leaves the step fresh: the scheduler checks
 * it again once the need has run (#recheckConsumed).
 */
function notFreshUpstream(
  step: PlanStepInput,
  entry: ActionCacheEntry,
  decided: ReadonlyMap<string, PlannedStep>,
  producers: ReadonlyMap<string, string>,
  workspace: ReadonlyMap<string, WorkspaceState>,
): StaleReason[] {
  const reasons: StaleReason[] = [];
  for (const need of step.needs) {
    const planned = decided.get(need);
    if (planned?.action !== 'restore') continue;
    const why = planned.reasons.filter((r) => r.kind === 'output-missing' || r.kind === 'output-modified').map(describeReason);
    reasons.push({ kind: 'upstream-not-fresh', step: need, detail: `to be restored: ${why.join(', ') || 'its outputs changed'}` });
  }
  const named = new Set(reasons.map((r) => (r.kind === 'upstream-not-fresh' ? r.step : '')));
  for (const [path, consumed] of Object.entries(entry.consumed ?? {})) {
    const now = workspace.get(path);
    const producer = producers.get(path);
    if (now === undefined || producer === undefined || named.has(producer) || outputCurrent(now, consumed)) continue;
    const state = now.type === 'missing' ? 'is missing' : 'holds other bytes than it read';
    reasons.push({ kind: 'upstream-not-fresh', step: producer, detail: `${path} ${state}` });
    named.add(producer);
  }
  return reasons;
}

/** Every `cache: false` output is in place, with the bytes the entry recorded (when it recorded them). */
function uncachedCurrent(entry: ActionCacheEntry, step: PlanStepInput, workspace: ReadonlyMap<string, WorkspaceState>): boolean {
  const recorded = new Map(entry.outputs.map((o) => [o.path, o.hash]));
  return step.outs
    .filter((o) => !o.cache)
    .every((o) => {
      const now = workspace.get(o.path) ?? { type: 'missing' };
      const hash = recorded.get(o.path);
      return hash === undefined ? now.type !== 'missing' : outputCurrent(now, hash);
    });
}

/**
 * A fresh or restored step's outputs will hold its entry's bytes (uncached ones: what the workspace
 * holds). A step that runs leaves them unknown until it has run: the scheduler checks its readers then.
 */
function noteSettled(
  planned: PlannedStep,
  step: PlanStepInput,
  workspace: ReadonlyMap<string, WorkspaceState>,
  settled: Map<string, { step: string; hash: string }>,
): PlannedStep {
  if (planned.entry === null || (planned.action !== 'fresh' && planned.action !== 'restore')) return planned;
  for (const out of planned.entry.outputs) settled.set(out.path, { step: step.id, hash: out.hash });
  for (const out of step.outs) {
    const now = workspace.get(out.path);
    if (!out.cache && now !== undefined && now.type !== 'missing') settled.set(out.path, { step: step.id, hash: now.hash });
  }
  return planned;
}

/** No cache entry and no change since the lock: never run, lost by this cache, or never held by it. */
function missingEntryReason(stepId: string, key: StepKey, facts: PlanFacts): StaleReason {
  const locked = facts.lock.steps[stepId];
  if (locked?.key !== key) return { kind: 'never-run' };
  return facts.localRuns === undefined || facts.localRuns.has(locked.runId)
    ? { kind: 'not-in-cache' }
    : { kind: 'not-cached-here', runId: locked.runId };
}

/** Why the step changed since the lock's record, and whether its last attempt never finished. Only stale steps need it. */
function historyOf(stepId: string, components: KeyComponents, facts: PlanFacts): StaleReason[] {
  const changes = diffComponents(facts.lock.steps[stepId]?.components, components);
  const incomplete = facts.incomplete.get(stepId);
  return incomplete ? [...changes, { kind: 'incomplete-previous-attempt', runId: incomplete }] : changes;
}

/** Whether the workspace holds exactly the output a cache entry recorded. */
export function outputCurrent(now: WorkspaceState | undefined, hash: string): boolean {
  return now !== undefined && now.type !== 'missing' && now.hash === hash;
}

/** Nothing to run or restore: every selected step is fresh. */
export function isNoopPlan(plan: Plan): boolean {
  return plan.steps.every((p) => p.action === 'fresh' || p.action === 'skip');
}

function checkOutputs(entry: ActionCacheEntry, step: PlanStepInput, workspace: ReadonlyMap<string, WorkspaceState>): StaleReason[] {
  const reasons: StaleReason[] = [];
  for (const out of entry.outputs) {
    const now = workspace.get(out.path);
    if (outputCurrent(now, out.hash)) continue;
    reasons.push({ kind: now === undefined || now.type === 'missing' ? 'output-missing' : 'output-modified', path: out.path });
  }
  // Entries from before uncached outputs were recorded: at least they must exist.
  const recorded = new Set(entry.outputs.map((o) => o.path));
  for (const out of step.outs.filter((o) => !o.cache && !recorded.has(o.path))) {
    if ((workspace.get(out.path) ?? { type: 'missing' }).type === 'missing') reasons.push({ kind: 'output-missing', path: out.path });
  }
  return reasons;
}

/** Explains a key change by diffing the recorded components with the new ones. */
export function diffComponents(before: KeyComponents | undefined, after: KeyComponents): StaleReason[] {
  if (!before) return [];
  const reasons: StaleReason[] = [];
  if (before.kind !== after.kind || before.kindVersion !== after.kindVersion) {
    reasons.push({ kind: 'code-changed', detail: `${before.kind} v${before.kindVersion} → ${after.kind} v${after.kindVersion}` });
  } else if (before.code !== after.code) {
    reasons.push({ kind: 'code-changed', detail: `kind ${after.kind}: ${shortHash(before.code)} → ${shortHash(after.code)}` });
  }
  // Object-valued params are compared leaf by leaf, so a reason names exactly what changed.
  const params = diffRecord(flattenAll(before.params), flattenAll(after.params), (param, b, a) => ({
    kind: 'param-changed',
    param,
    before: b,
    after: a,
  }));
  if (show(before.command) !== show(after.command) && !explainedByParams(before.command, after.command, params)) {
    reasons.push({ kind: 'command-changed', before: words(before.command), after: words(after.command) });
  }
  reasons.push(
    ...diffRecord(flatten(before.with, 'with'), flatten(after.with, 'with'), (param, b, a) => ({
      kind: 'param-changed',
      param,
      before: b,
      after: a,
    })),
  );
  reasons.push(...params);
  reasons.push(...diffRecord(before.deps, after.deps, (p) => ({ kind: 'input-changed', path: p })));
  reasons.push(...diffRecord(before.upstream, after.upstream, (step) => ({ kind: 'upstream-changed', step })));
  reasons.push(...diffRecord(before.env, after.env, (name) => ({ kind: 'env-changed', name })));
  if (show(before.outs) !== show(after.outs)) reasons.push({ kind: 'outs-changed' });
  if (reasons.length === 0 && show(before) !== show(after)) reasons.push({ kind: 'code-changed', detail: 'key schema' });
  return dedupeParams(reasons);
}

/** A command that differs only where changed param values were interpolated needs no own reason. */
function explainedByParams(before: readonly string[] | null, after: readonly string[] | null, params: readonly StaleReason[]): boolean {
  if (!before || !after || before.length !== after.length || params.length === 0) return false;
  const changes = params.filter((r): r is Extract<StaleReason, { kind: 'param-changed' }> => r.kind === 'param-changed');
  return before.every((word, i) => word === after[i] || changes.some((c) => word.split(c.before).join(c.after) === after[i]));
}

function diffRecord(
  before: Readonly<Record<string, unknown>>,
  after: Readonly<Record<string, unknown>>,
  make: (name: string, before: string, after: string) => StaleReason,
): StaleReason[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return names.filter((n) => show(before[n]) !== show(after[n])).map((n) => make(n, display(before[n]), display(after[n])));
}

function flattenAll(record: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record))
    Object.assign(out, v !== null && typeof v === 'object' && !Array.isArray(v) ? flatten(v, k) : { [k]: v });
  return out;
}

function flatten(value: unknown, prefix: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return value === null || value === undefined ? {} : { [prefix]: value };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) Object.assign(out, flatten(v, `${prefix}.${k}`));
  return out;
}

/** A param interpolated into `with:` shows up twice; keep the params: entry. */
function dedupeParams(reasons: StaleReason[]): StaleReason[] {
  const seen = new Set<string>();
  return reasons.filter((r) => {
    if (r.kind !== 'param-changed') return true;
    const id = `${r.before}→${r.after}`;
    if (
      r.param.startsWith('with.') &&
      reasons.some((o) => o.kind === 'param-changed' && !o.param.startsWith('with.') && `${o.before}→${o.after}` === id)
    )
      return false;
    if (seen.has(r.param)) return false;
    seen.add(r.param);
    return true;
  });
}

function shortHash(hash: string | undefined): string {
  return hash === undefined ? 'not recorded' : hash.slice(0, 12);
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? 'undefined';
}

function display(value: unknown): string {
  return value === undefined ? '(unset)' : typeof value === 'string' ? value : show(value);
}

function words(command: readonly string[] | null): string {
  return command === null ? '(none)' : command.join(' ');
}

/**
 * One line of reasons for humans: at most `max` of them, then how many more there are (a change to a
 * whole params group can touch dozens; `status --json` and `--json` events keep them all).
 */
export function summariseReasons(reasons: readonly StaleReason[], max = 6): string {
  const shown = reasons.slice(0, reasons.length > max ? max - 1 : max).map(describeReason);
  const hidden = reasons.length - shown.length;
  return [...shown, ...(hidden > 0 ? [`and ${hidden} more (status --json lists all)`] : [])].join('; ');
}

export function describeReason(r: StaleReason): string {
  switch (r.kind) {
    case 'never-run':
      return 'never run';
    case 'not-in-cache':
      return 'its cache entry is gone (gc, cache verify --repair, or another cache)';
    case 'not-cached-here':
      return `not cached here; key matches the committed lock (run ${r.runId}, made elsewhere: the results it recorded still hold)`;
    case 'forced':
      return 'forced';
    case 'always-run':
      return 'always_run is set';
    case 'cache-disabled':
      return 'cache: false';
    case 'code-changed':
      return `code changed (${r.detail})`;
    case 'command-changed':
      return `command changed: ${r.before} → ${r.after}`;
    case 'param-changed':
      return `param changed: ${r.param}: ${r.before} → ${r.after}`;
    case 'input-changed':
      return `input changed: ${r.path}`;
    case 'upstream-changed':
      return `upstream changed: ${r.step}`;
    case 'upstream-output-changed':
      return `upstream output changed: ${r.step} (${r.path}: ${r.before.slice(0, 6)}… → ${r.after.slice(0, 6)}…)`;
    case 'upstream-not-fresh':
      return `upstream not fresh: ${r.step} (${r.detail})`;
    case 'env-changed':
      return `environment changed: ${r.name}`;
    case 'outs-changed':
      return 'declared outputs changed';
    case 'output-missing':
      return `output missing: ${r.path}`;
    case 'output-modified':
      return `output modified: ${r.path}`;
    case 'incomplete-previous-attempt':
      return `previous attempt did not finish (run ${r.runId})`;
    case 'cache-corrupt':
      return `cache entry corrupt (${r.detail})`;
  }
}
