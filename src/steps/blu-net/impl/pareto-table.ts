/** The pareto step's rows, front, notes and markdown (pure: no I/O, no tfjs). Matching: pareto-match.ts. */
import type { Architecture } from '../common.js';
import type { TrainingSummary, VariantSpec } from '../pareto-kind.js';
import type { EvaluationFile } from './evaluate.js';
import {
  groupLabel,
  groupOf,
  nonSeedCoordinates,
  speedup,
  width16Of,
  width64Of,
  width64SourceOf,
  type LatencySource,
  type Timing,
} from './pareto-match.js';
import { summariseSeeds, type SeedResult } from './seed-summary.js';

export interface ParetoInput {
  readonly evaluations: readonly EvaluationFile[];
  /** Width-16 timings of the trained models. */
  readonly latency: readonly LatencySource[];
  /** Width-64 timings of untrained models. */
  readonly latencyThesis: readonly LatencySource[];
  readonly variants: readonly VariantSpec[];
  /** How BLU-Nets without a training block of their own trained (params.binarise); absent: not said. */
  readonly training?: TrainingSummary;
}

export interface ParetoRow {
  /** The training step id without its seed (see pareto-match.ts). */
  readonly group: string;
  readonly label: string;
  readonly architecture: Architecture;
  readonly description: string;
  readonly seeds: readonly SeedResult[];
  readonly iou: { readonly mean: number; readonly std: number };
  readonly collapsedSeeds: number;
  /** File bytes of the width-16 entry in MiB (packed file; fp32 weights for the others). */
  readonly sizeMiB: number | null;
  readonly width16: Timing | null;
  readonly width64: Timing | null;
  readonly speedupVsUnet: number | null;
  readonly speedupVsLwUnet: number | null;
  /** No other row has both a higher mean test IoU and a lower width-64 median. */
  readonly onFront: boolean;
}

export interface ParetoTable {
  readonly rows: readonly ParetoRow[];
  /** Which value is missing and why, one line each. */
  readonly missing: readonly string[];
}

const THESIS_BLU_NET = 'thesis: 3 activation × 3 weight levels, real-valued pointwise';

const LOSS_LABEL: Record<string, string> = { bce: 'BCE', bce_dice: 'BCE + soft Dice' };

/** `, 2400 steps of BCE + soft Dice`: what a BLU-Net row trained with (nothing when unknown). */
export function describeTraining(training: TrainingSummary | undefined): string {
  if (training?.steps === undefined) return '';
  const loss = training.loss ?? 'bce';
  return `, ${training.steps} steps of ${LOSS_LABEL[loss] ?? loss}`;
}

function describeVariant(name: string, variants: readonly VariantSpec[], training: TrainingSummary | undefined): string {
  const v = variants.find((x) => x.name === name);
  if (v === undefined) return `variant ${name} (not in with.variants)`;
  const l = v.levels ?? {};
  const levels = `levels a${l.activation ?? 3} c${l.conv ?? 3} d${l.depthwise ?? 3} p${l.pointwise ?? 3}`;
  const pointwise = v.separable_binarise === true ? 'binary pointwise (separable binarise)' : 'real-valued pointwise';
  const start = v.gamma_init === undefined ? '' : `, ${v.gamma_init} start`;
  return `${levels}, ${pointwise}${start}${describeTraining(v.train ?? training)}`;
}

/** What a row's model is: fp32, the thesis BLU-Net, or a variant's levels, pointwise and training. */
export function describeGroup(
  group: string,
  architecture: Architecture,
  variants: readonly VariantSpec[],
  training?: TrainingSummary,
): string {
  if (architecture !== 'blu_net') return 'fp32';
  const variant = nonSeedCoordinates(group).find(([k]) => k === 'variant')?.[1];
  return variant === undefined ? `${THESIS_BLU_NET}${describeTraining(training)}` : describeVariant(variant, variants, training);
}

/** Evaluations by group, in order of first appearance. */
export function groupEvaluations(evaluations: readonly EvaluationFile[]): Map<string, EvaluationFile[]> {
  const groups = new Map<string, EvaluationFile[]>();
  for (const e of evaluations) {
    const g = groupOf(e.model.stepId);
    groups.set(g, [...(groups.get(g) ?? []), e]);
  }
  return groups;
}

function rowOf(group: string, evaluations: readonly EvaluationFile[], input: ParetoInput): Omit<ParetoRow, 'onFront'> {
  const first = evaluations[0]!;
  const label = groupLabel(first.model.label, group);
  // One summary per group, even when its seeds' labels differ.
  const summary = summariseSeeds(evaluations.map((e) => ({ ...e, model: { ...e.model, label } })))[0]!;
  const { architecture } = first.model;
  const width16 = width16Of(input.latency, group, architecture);
  const source64 = width64SourceOf(input.latencyThesis, group, architecture);
  const width64 = width64Of(source64, architecture);
  return {
    group,
    label,
    architecture,
    description: describeGroup(group, architecture, input.variants, input.training),
    seeds: summary.seeds,
    iou: summary.iou,
    collapsedSeeds: summary.collapsedSeeds,
    sizeMiB: width16?.fileBytes != null ? width16.fileBytes / 2 ** 20 : null,
    width16,
    width64,
    speedupVsUnet: speedup(source64, 'unet', width64?.medianMs),
    speedupVsLwUnet: speedup(source64, 'lw_unet', width64?.medianMs),
  };
}

/** Rows on the front: no other row with both a higher mean IoU and a lower width-64 median. */
export function paretoFront(rows: readonly Pick<ParetoRow, 'iou' | 'width64'>[]): boolean[] {
  const placed = (r: Pick<ParetoRow, 'iou' | 'width64'>) => Number.isFinite(r.iou.mean) && r.width64 !== null;
  return rows.map(
    (r) =>
      placed(r) &&
      !rows.some((o) => placed(o) && o.iou.mean > r.iou.mean && (o.width64?.medianMs ?? Infinity) < (r.width64?.medianMs ?? 0)),
  );
}

function missingOf(row: Omit<ParetoRow, 'onFront'>): string[] {
  const out: string[] = [];
  if (row.width16 === null) out.push(`${row.label}: no width-16 latency (no latency entry of a \`${row.group}\` model)`);
  else if (row.sizeMiB === null) out.push(`${row.label}: no size (the width-16 entry in \`${row.width16.stepId}\` has no fileBytes)`);
  if (row.width64 === null) {
    const coords = row.architecture === 'blu_net' ? nonSeedCoordinates(row.group) : [];
    const where =
      coords.length === 0 ? 'the width-64 step without coordinates' : `a width-64 step @${coords.map(([k, v]) => `${k}=${v}`).join(',')}`;
    out.push(
      `${row.label}: no width-64 latency (no ${row.architecture === 'blu_net' ? 'packed ' : ''}${row.architecture} entry in ${where})`,
    );
  }
  return out;
}

/** The table: one row per group, its front membership, and what is missing. */
export function paretoTable(input: ParetoInput): ParetoTable {
  const rows = [...groupEvaluations(input.evaluations)].map(([group, evaluations]) => rowOf(group, evaluations, input));
  const front = paretoFront(rows);
  const evaluated = new Set(
    rows.flatMap((r) =>
      nonSeedCoordinates(r.group)
        .filter(([k]) => k === 'variant')
        .map(([, v]) => v),
    ),
  );
  const unevaluated = input.variants.filter((v) => !evaluated.has(v.name)).map((v) => `variant ${v.name}: no evaluations`);
  return {
    rows: rows.map((r, i) => ({ ...r, onFront: front[i] ?? false })),
    missing: [...rows.flatMap(missingOf), ...unevaluated],
  };
}

/** A metric-name-safe form of a label, as the report step makes it. */
export function slug(label: string): string {
  return label
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_|_$/g, '')
    .toLowerCase();
}
