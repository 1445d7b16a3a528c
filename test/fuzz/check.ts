/**
 * The invariant, checked after every successful run: every step `status --json` calls fresh has in
 * the workspace exactly the outputs its lock entry records, and its inputs are exactly the bytes it
 * consumed (by the records its outputs carry, see generate.ts); `cache verify` finds nothing the
 * harness did not damage itself.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { consumedDigest, outputHash, readRecord } from './digest.js';
import { statusJson, verifyJson } from './driver.js';
import type { Config, Instance, Scenario } from './generate.js';
import { LOCK_FILE, PIPELINE_FILE } from './generate.js';

export type ViolationKind =
  | 'input-drift' // a fresh step's input is not the bytes it consumed
  | 'output-mismatch' // a fresh step's workspace output is not what its lock entry records
  | 'lock-missing' // a fresh step has no lock entry
  | 'foreign-output' // a fresh step's output was not written by it (or is not a record at all)
  | 'param-mismatch' // a fresh step's output was made with another param value
  | 'not-converged' // after a successful full run, a cached step is not fresh
  | 'cache-corrupt' // cache verify found damage the harness did not cause
  | 'exit-code' // a run exited other than expected (2, a crash, 1 without a failure on purpose…)
  | 'crash' // .blu/crash.log exists
  | 'hang' // a run did not end in time
  | 'status-failed'; // status --json did not work

export interface Violation {
  readonly kind: ViolationKind;
  readonly step?: string;
  readonly path?: string;
  readonly expected?: string;
  readonly actual?: string;
  readonly detail?: string;
  /** Found in the record of one of the step's own `cache: false` outputs (recorded in the lock by hash, never stored). */
  readonly inUncachedOutput?: boolean;
  /** input-drift: the step producing the input and its state in the same plan (null: a source file). */
  readonly producer?: {
    readonly id: string;
    readonly state: string;
    /** It or a step it reads from is non-deterministic. */
    readonly nondetAncestry: boolean;
    /** The input is (inside) one of its `cache: false` outputs, or one of such a step's upstream. */
    readonly uncachedAncestry: boolean;
  } | null;
}

/**
 * Violations of known runtime issues that can be counted apart ("tolerated") instead of failing, so
 * that the CI variant is strict about everything else; each goes once the runtime is fixed.
 */
export interface CheckOptions {
  /** Input drift behind a producer that is itself not fresh (a hand edit a targeted run did not repair). */
  readonly tolerateStaleUpstreamDrift: boolean;
  /** The lock entry of a fresh step records another output after concurrent runs with different --set. */
  readonly tolerateLockAfterConcurrent: boolean;
}

export interface CheckResult {
  readonly violations: Violation[];
  /** Input drifts tolerated by `tolerateStaleUpstreamDrift`. */
  readonly tolerated: number;
  /** Fresh steps checked. */
  readonly freshChecked: number;
}

interface StatusStep {
  readonly id: string;
  readonly state: 'fresh' | 'stale' | 'restore';
  readonly key: string;
}

interface LockOutput {
  readonly path: string;
  readonly type: 'file' | 'dir';
  readonly hash: string;
}

export function setArgs(config: Config): string[] {
  return Object.entries(config).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
}

/** Plan of `status --json` under `config`; a string when it failed. */
export async function planStates(projectDir: string, config: Config): Promise<StatusStep[] | string> {
  const r = await statusJson(projectDir, [PIPELINE_FILE, ...setArgs(config)]);
  if (r.code !== 0) return `exit ${r.code}: ${r.stderr.slice(0, 2000)}`;
  return (JSON.parse(r.stdout) as { steps: StatusStep[] }).steps;
}

export interface CheckContext {
  /** After a successful full (untargeted) run: every cached step must be fresh. */
  readonly fullRun: boolean;
  /** Concurrent runs with different --set have happened in this project. */
  readonly afterConcurrent: boolean;
}

export async function checkInvariant(
  projectDir: string,
  scenario: Scenario,
  config: Config,
  options: CheckOptions,
  at: CheckContext,
): Promise<CheckResult> {
  const plan = await planStates(projectDir, config);
  if (typeof plan === 'string') return { violations: [{ kind: 'status-failed', detail: plan }], tolerated: 0, freshChecked: 0 };
  const state = new Map(plan.map((s) => [s.id, s]));
  const lock = readLock(projectDir);
  const violations: Violation[] = [];
  let tolerated = 0;
  let freshChecked = 0;
  for (const inst of scenario.instances) {
    const s = state.get(inst.id);
    if (s === undefined) {
      violations.push({ kind: 'status-failed', step: inst.id, detail: 'status does not list the step' });
      continue;
    }
    if (s.state !== 'fresh') {
      if (at.fullRun && !inst.alwaysRuns)
        violations.push({ kind: 'not-converged', step: inst.id, detail: `${s.state} after a successful full run` });
      continue;
    }
    freshChecked++;
    const lockProblems = checkAgainstLock(projectDir, inst, s, lock[inst.id]);
    if (lockProblems.length > 0 && at.afterConcurrent && options.tolerateLockAfterConcurrent) tolerated += lockProblems.length;
    else violations.push(...lockProblems);
    const drift = checkConsumed(projectDir, scenario, inst, config, state);
    for (const v of drift) {
      if (v.kind === 'input-drift' && options.tolerateStaleUpstreamDrift && v.producer && v.producer.state !== 'fresh') tolerated++;
      else violations.push(v);
    }
  }
  return { violations, tolerated, freshChecked };
}

function readLock(projectDir: string): Record<string, { key: string; outputs: LockOutput[] } | undefined> {
  try {
    const content = JSON.parse(readFileSync(path.join(projectDir, LOCK_FILE), 'utf8')) as {
      experiments?: { default?: { steps?: Record<string, { key: string; outputs: LockOutput[] }> } };
    };
    return content.experiments?.default?.steps ?? {};
  } catch {
    return {};
  }
}

function checkAgainstLock(
  projectDir: string,
  inst: Instance,
  s: StatusStep,
  entry: { key: string; outputs: LockOutput[] } | undefined,
): Violation[] {
  if (entry === undefined) return [{ kind: 'lock-missing', step: inst.id }];
  const out: Violation[] = [];
  // The lock may record another configuration's key (concurrent runs with different --set) whose
  // outputs are the same bytes; only the bytes are the invariant.
  const note = entry.key === s.key ? '' : ` (the lock records key ${entry.key.slice(0, 12)}, status has ${s.key.slice(0, 12)})`;
  // Every output, `cache: false` ones too: those are recorded (hashed), just not stored.
  const declared = inst.outs.map((o) => o.path).sort();
  const recorded = entry.outputs.map((o) => o.path).sort();
  if (declared.join('\n') !== recorded.join('\n'))
    out.push({
      kind: 'output-mismatch',
      step: inst.id,
      expected: declared.join(','),
      actual: recorded.join(','),
      detail: `outputs declared vs recorded in the lock${note}`,
    });
  for (const o of entry.outputs) {
    const now = outputHash(path.join(projectDir, o.path), o.type);
    if (now !== o.hash)
      out.push({
        kind: 'output-mismatch',
        step: inst.id,
        path: o.path,
        expected: o.hash,
        actual: now,
        detail: `lock entry vs workspace${note}`,
      });
  }
  return out;
}

/** Each output's record against the workspace: who made it, with which param, from which input bytes. */
function checkConsumed(
  projectDir: string,
  scenario: Scenario,
  inst: Instance,
  config: Config,
  state: ReadonlyMap<string, StatusStep>,
): Violation[] {
  const out: Violation[] = [];
  const wantParam = inst.param === null ? '-' : `p=${config[inst.param]}`;
  for (const o of inst.outs) {
    const mark = o.cache ? {} : { inUncachedOutput: true };
    const files = o.dir ? [`${o.path}/f0.txt`, `${o.path}/sub/f1.txt`] : [o.path];
    for (const file of files) {
      const rec = readRecord(path.join(projectDir, file));
      if (rec === undefined || rec.step !== inst.id) {
        out.push({
          ...mark,
          kind: 'foreign-output',
          step: inst.id,
          path: file,
          detail: rec === undefined ? 'missing or not a step record' : `written by ${rec.step}`,
        });
        continue;
      }
      if (rec.param !== wantParam)
        out.push({ ...mark, kind: 'param-mismatch', step: inst.id, path: file, expected: wantParam, actual: rec.param });
      for (const input of inst.ins) {
        const consumed = rec.inputs.get(input.path);
        const now = consumedDigest(projectDir, input.path, input.dir);
        if (consumed === now) continue;
        const producer =
          input.from === null
            ? null
            : {
                id: input.from,
                state: state.get(input.from)?.state ?? 'unknown',
                nondetAncestry: upstreamHas(scenario, input.from, (i) => i.nondet),
                uncachedAncestry: upstreamHas(scenario, input.from, (i) => i.outs.some((o) => !o.cache)),
              };
        const why = [
          ...(producer?.nondetAncestry ? ['non-deterministic'] : []),
          ...(producer?.uncachedAncestry ? ['with cache: false outputs'] : []),
        ];
        const detail =
          producer === null
            ? 'a source file'
            : `producer ${producer.id} is ${producer.state}${why.length > 0 ? `; it or a step before it is ${why.join(' and ')}` : ''}`;
        out.push({
          ...mark,
          kind: 'input-drift',
          step: inst.id,
          path: input.path,
          expected: consumed ?? 'not recorded',
          actual: now,
          detail,
          producer,
        });
      }
    }
  }
  return dedupe(out);
}

/** Whether `id` or any step it (transitively) reads from has a property. */
function upstreamHas(scenario: Scenario, id: string, has: (i: Instance) => boolean): boolean {
  const byId = new Map(scenario.instances.map((i) => [i.id, i]));
  const seen = new Set<string>();
  const visit = (at: string): boolean => {
    if (seen.has(at)) return false;
    seen.add(at);
    const inst = byId.get(at);
    return inst !== undefined && (has(inst) || inst.ins.some((i) => i.from !== null && visit(i.from)));
  };
  return visit(id);
}

/** One violation per (kind, step, path): a directory output repeats its record in two files. */
function dedupe(vs: Violation[]): Violation[] {
  const seen = new Set<string>();
  return vs.filter((v) => {
    const id = `${v.kind} ${v.step} ${v.path} ${v.expected}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** Hashes the harness damaged on purpose (corrupted or deleted blobs) that are still damaged. */
export interface Damage {
  readonly hashes: Set<string>;
}

/** `cache verify`: every problem must trace back to a blob the harness damaged. */
export async function checkCache(projectDir: string, damage: Damage): Promise<Violation[]> {
  const r = await verifyJson(projectDir);
  if (r.code !== 0 && r.code !== 1) return [{ kind: 'cache-corrupt', detail: `cache verify exit ${r.code}: ${r.stderr.slice(0, 2000)}` }];
  const report = JSON.parse(r.stdout) as {
    cacheDir: string;
    problems: { kind: 'corrupt-blob' | 'broken-entry'; id: string; detail: string }[];
  };
  const out: Violation[] = [];
  for (const p of report.problems) {
    if (p.kind === 'corrupt-blob' && damage.hashes.has(p.id)) continue;
    if (p.kind === 'broken-entry' && entryNeedsDamaged(report.cacheDir, p.id, damage)) continue;
    out.push({ kind: 'cache-corrupt', detail: `${p.kind} ${p.id}: ${p.detail}` });
  }
  return out;
}

/**
 * Whether a broken entry reads a blob the harness damaged: one of its outputs, or a file listed in one
 * of its stored directory manifests. An output with `cache: false` has no manifest in the store, so a
 * missing manifest is skipped, not taken as "not explained" (that read used to end the search before
 * the entry's damaged file output was looked at).
 */
export function entryNeedsDamaged(cacheDir: string, key: string, damage: Damage): boolean {
  let entry: { outputs: LockOutput[] };
  try {
    entry = JSON.parse(readFileSync(path.join(cacheDir, 'ac', key.slice(0, 2), `${key}.json`), 'utf8')) as { outputs: LockOutput[] };
  } catch {
    return false; // an unreadable entry is not explained by our damage
  }
  if (entry.outputs.some((o) => damage.hashes.has(o.hash))) return true;
  return entry.outputs.some((o) => o.type === 'dir' && manifestHashes(cacheDir, o.hash).some((h) => damage.hashes.has(h)));
}

/** The file hashes a stored directory manifest lists ([] when it is absent or unreadable). */
function manifestHashes(cacheDir: string, hash: string): string[] {
  try {
    return (JSON.parse(readFileSync(blobPath(cacheDir, hash), 'utf8')) as { hash: string }[]).map((e) => e.hash);
  } catch {
    return [];
  }
}

export function blobPath(cacheDir: string, hash: string): string {
  return path.join(cacheDir, 'cas', 'sha256', hash.slice(0, 2), hash.slice(2));
}
