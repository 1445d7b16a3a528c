/** Per-model summary over the seeds of an experiment (pure: no I/O, no tfjs). */
import type { Architecture } from '../common.js';
import type { EvaluationFile } from './evaluate.js';

export interface SeedResult {
  /** Run seed (1 for evaluations of models saved before seeds existed). */
  readonly seed: number;
  readonly stepId: string;
  readonly iou: number;
  readonly f1: number;
  /** Why this seed's model is not a result (collapsed), if so. */
  readonly collapsed?: string;
}

export interface ModelSummary {
  readonly label: string;
  readonly architecture: Architecture;
  readonly width: number;
  /** In seed order. */
  readonly seeds: readonly SeedResult[];
  /** Mean and sample standard deviation (n − 1; NaN for one seed) over every seed, collapsed ones included. */
  readonly iou: { readonly mean: number; readonly std: number };
  readonly f1: { readonly mean: number; readonly std: number };
  readonly collapsedSeeds: number;
}

export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, n);
  if (n < 2) return { mean: n === 0 ? Number.NaN : mean, std: Number.NaN };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  return { mean, std: Math.sqrt(variance) };
}

/** Groups evaluations by model label (in order of first appearance) and summarises each over its seeds. */
export function summariseSeeds(evaluations: readonly EvaluationFile[]): ModelSummary[] {
  const groups = new Map<string, EvaluationFile[]>();
  for (const e of evaluations) groups.set(e.model.label, [...(groups.get(e.model.label) ?? []), e]);
  return [...groups.values()].map((group) => {
    const seeds = group
      .map(
        (e): SeedResult => ({
          seed: e.model.seed ?? 1,
          stepId: e.model.stepId,
          iou: e.meanIou,
          f1: e.meanF1,
          ...(e.collapsed !== undefined ? { collapsed: e.collapsed } : {}),
        }),
      )
      .sort((a, b) => a.seed - b.seed);
    const first = group[0]!;
    return {
      label: first.model.label,
      architecture: first.model.architecture,
      width: first.model.width,
      seeds,
      iou: meanStd(seeds.map((s) => s.iou)),
      f1: meanStd(seeds.map((s) => s.f1)),
      collapsedSeeds: seeds.filter((s) => s.collapsed !== undefined).length,
    };
  });
}
