/**
 * Matching evaluations to latencies for the pareto step (pure: no I/O, no tfjs).
 *
 * Grouping rule (generic: it knows no step names): an evaluation's group is its model's training step
 * id with the `seed` coordinate removed (`binarise_variant@variant=sep_a1,seed=2` →
 * `binarise_variant@variant=sep_a1`, `pretrain@seed=1` → `pretrain`), so a group is one model trained
 * over several seeds. The group's label is the model label plus `, variant NAME` for a `variant`
 * coordinate and `, k=v` for any other non-seed coordinate.
 *
 * - Width 16: the latency entry (of any `latency` step) whose model's training step id, seed removed,
 *   is the group: the packed binary-engine entry for a BLU-Net, the tfjs entry otherwise.
 * - Width 64 (untrained models): a U-Net or lw_unet group takes the tfjs entry of its architecture in
 *   the width-64 step without coordinates (`latency_thesis`); a BLU-Net group takes the packed entry of
 *   the width-64 step whose non-seed coordinates equal the group's (none → `latency_thesis`, variant
 *   sep_a1 → `latency_variant_thesis@variant=sep_a1`).
 * - Speed-ups at width 64 are in-step ratios: the U-Net (lw_unet) tfjs median of the same width-64
 *   step over the row's median, so a ratio never mixes timings of two processes.
 */
import type { LatencyFile, ModelLatency } from './latency.js';

/** A latency entry; `fileBytes` (packed file, or fp32 weights × 4) is absent in older files. */

/** A latency step's file with the step's instance id. */
export interface LatencySource {
  readonly stepId: string;
  readonly file: LatencyFile;
}

/** One timing chosen for a row, and where it came from. */
export interface Timing {
  /** The latency step it is from. */
  readonly stepId: string;
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly threads: number | null;
  /** e.g. "binary engine (native)", "tfjs (tensorflow)". */
  readonly engine: string;
  readonly fileBytes: number | null;
}

/** `name@k=v,…` as its name and coordinates (in order). */
export function parseStepId(id: string): { name: string; coordinates: [string, string][] } {
  const at = id.indexOf('@');
  if (at < 0) return { name: id, coordinates: [] };
  const coordinates = id
    .slice(at + 1)
    .split(',')
    .map((kv): [string, string] => {
      const eq = kv.indexOf('=');
      return eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)];
    });
  return { name: id.slice(0, at), coordinates };
}

/** The non-seed coordinates of a step id. */
export function nonSeedCoordinates(id: string): [string, string][] {
  return parseStepId(id).coordinates.filter(([k]) => k !== 'seed');
}

/** The group of a training step id: the id with its `seed` coordinate removed. */
export function groupOf(stepId: string): string {
  const { name } = parseStepId(stepId);
  const rest = nonSeedCoordinates(stepId);
  return rest.length === 0 ? name : `${name}@${rest.map(([k, v]) => `${k}=${v}`).join(',')}`;
}

/** The model label plus `, variant NAME` (or `, k=v`) per non-seed coordinate of the group. */
export function groupLabel(modelLabel: string, group: string): string {
  return nonSeedCoordinates(group).reduce((label, [k, v]) => `${label}, ${k === 'variant' ? `variant ${v}` : `${k}=${v}`}`, modelLabel);
}

const isPacked = (m: ModelLatency) => m.runtime === 'binary-engine';

function engineOf(entry: ModelLatency, backend: string): string {
  if (!isPacked(entry)) return `tfjs (${backend})`;
  // Files from before the engine field: the wasm engine was the only one.
  return `binary engine (${entry.engine ?? 'wasm SIMD'})`;
}

function timing(source: LatencySource, entry: ModelLatency): Timing {
  return {
    stepId: source.stepId,
    medianMs: entry.medianMs,
    p95Ms: entry.p95Ms,
    threads: entry.threads ?? null,
    engine: engineOf(entry, source.file.backend),
    fileBytes: entry.fileBytes ?? null,
  };
}

function find(sources: readonly LatencySource[], pick: (s: LatencySource, m: ModelLatency) => boolean): Timing | null {
  for (const s of sources) {
    const entry = s.file.models.find((m) => pick(s, m));
    if (entry) return timing(s, entry);
  }
  return null;
}

/** Width-16 timing of a group of trained models (see the rule above). */
export function width16Of(sources: readonly LatencySource[], group: string, architecture: string): Timing | null {
  const packed = architecture === 'blu_net';
  return find(sources, (_, m) => groupOf(m.model.stepId) === group && isPacked(m) === packed);
}

const sameCoordinates = (a: [string, string][], b: [string, string][]) =>
  a.length === b.length && a.every(([k, v]) => b.some(([k2, v2]) => k === k2 && v === v2));

/** The width-64 step a group's timing comes from: the one without coordinates, or a BLU-Net's own. */
export function width64SourceOf(sources: readonly LatencySource[], group: string, architecture: string): LatencySource | undefined {
  const wanted = architecture === 'blu_net' ? nonSeedCoordinates(group) : [];
  return sources.find((s) => sameCoordinates(nonSeedCoordinates(s.stepId), wanted));
}

/** Width-64 timing of a group: its architecture's entry (packed for a BLU-Net) in its width-64 step. */
export function width64Of(source: LatencySource | undefined, architecture: string): Timing | null {
  if (source === undefined) return null;
  const packed = architecture === 'blu_net';
  return find([source], (_, m) => m.model.architecture === architecture && isPacked(m) === packed);
}

/** The in-step speed-up of `median` against the tfjs model of `architecture` in the same step. */
export function speedup(source: LatencySource | undefined, architecture: 'unet' | 'lw_unet', median: number | undefined): number | null {
  const base = width64Of(source, architecture);
  return base === null || median === undefined || !(median > 0) ? null : base.medianMs / median;
}
