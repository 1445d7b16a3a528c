/**
 * The fairness sections of the results (issue 22): how each model's training ended, and the paired
 * differences between models with bootstrap intervals (pure: no I/O, no tfjs).
 */
import path from 'node:path';
import type { EvaluationFile } from './evaluate.js';
import { bootstrapInterval, BOOTSTRAP, claimText, pairedDiffs, signedPoints, type Interval } from './paired.js';
import type { ModelSummary } from './seed-summary.js';

const LABELS = {
  unet: 'U-Net',
  unetEqual: 'U-Net (equal budget)',
  lwDistilled: 'lw_unet (hint learning + BCE)',
  bluDistilled: 'BLU-Net (from distilled lw_unet)',
  lwScratch: 'lw_unet (from scratch)',
  bluScratch: 'BLU-Net (from scratch)',
} as const;

/** The comparisons the report states, A − B; those whose models did not run are left out. */
export const COMPARISONS: readonly (readonly [string, string])[] = [
  [LABELS.bluDistilled, LABELS.unet],
  [LABELS.bluDistilled, LABELS.unetEqual],
  [LABELS.bluDistilled, LABELS.lwDistilled],
  [LABELS.bluDistilled, LABELS.lwScratch],
  [LABELS.lwDistilled, LABELS.lwScratch],
  [LABELS.lwDistilled, LABELS.unet],
  [LABELS.bluDistilled, LABELS.bluScratch],
];

/** A full-precision model this far below the BLU-Net's mean must have an interval showing it (issue 22). */
export const GAP_POINTS = 5;

export interface Comparison {
  readonly a: string;
  readonly b: string;
  readonly seeds: readonly number[];
  readonly images: number;
  readonly interval: Interval;
  readonly claim: string;
}

export function compareModels(
  evaluations: readonly EvaluationFile[],
  pairs: readonly (readonly [string, string])[] = COMPARISONS,
): Comparison[] {
  const of = (label: string) => evaluations.filter((e) => e.model.label === label);
  return pairs.flatMap(([a, b]) => {
    const paired = pairedDiffs(of(a), of(b));
    if (paired.seeds.length === 0 || paired.images.length === 0) return [];
    const interval = bootstrapInterval(paired);
    return [{ a, b, seeds: paired.seeds, images: paired.images.length, interval, claim: claimText(a, b, interval) }];
  });
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The gap check for a comparison of the BLU-Net with a full-precision model (BLU-Net − model). */
function gapCheck(c: Comparison): string {
  if (c.a !== LABELS.bluDistilled || c.b.startsWith('BLU-Net')) return '';
  if (100 * c.interval.mean <= GAP_POINTS) return `not more than ${GAP_POINTS} points below the BLU-Net`;
  return c.interval.low > GAP_POINTS / 100
    ? `more than ${GAP_POINTS} points below, and the interval shows it`
    : `more than ${GAP_POINTS} points below on the mean, but the interval does not show it`;
}

export function differencesSection(comparisons: readonly Comparison[]): string {
  if (comparisons.length === 0) return '';
  const rows = comparisons.map((c) => [
    `${c.a} − ${c.b}`,
    `${signedPoints(c.interval.mean)}`,
    `[${signedPoints(c.interval.low)}, ${signedPoints(c.interval.high)}]`,
    `${c.seeds.length} × ${c.images}`,
    c.claim,
    gapCheck(c),
  ]);
  const head = comparisons.find((c) => c.a === LABELS.bluDistilled && c.b === LABELS.unet);
  const headline = head
    ? `**BLU-Net minus U-Net: ${signedPoints(head.interval.mean)} IoU points, 95 % interval [${signedPoints(head.interval.low)}, ${signedPoints(head.interval.high)}]**: ${head.claim}.`
    : '';
  return [
    '## Paired differences (test IoU points, same images and seeds)',
    '',
    `Per seed and test image, model A's IoU minus model B's; the mean over seeds × images, and a percentile bootstrap 95 % interval (${BOOTSTRAP.replicates} replicates, each resampling the seeds and the images with replacement; PRNG seed ${BOOTSTRAP.seed}, so the report is reproducible). A claim is stated only as far as the interval goes.`,
    '',
    headline,
    '',
    table(
      [
        'A − B',
        'mean',
        '95 % interval',
        'seeds × images',
        'what the interval supports',
        `full-precision model vs BLU-Net (${GAP_POINTS}-point check)`,
      ],
      rows,
    ),
    '',
  ].join('\n');
}

const f4 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(4));

/** How every model's training ended: rule, steps, kept weights, lr drops, lineage. */
export function convergenceSection(evaluations: readonly EvaluationFile[], models: readonly ModelSummary[]): string {
  const rows = models.flatMap((m) =>
    evaluations
      .filter((e) => e.model.label === m.label)
      .sort((x, y) => (x.model.seed ?? 1) - (y.model.seed ?? 1))
      .map((e) => {
        const t = e.training;
        if (t === undefined) return [m.label, String(e.model.seed ?? 1), '–', '–', '–', '–', '–', '–'];
        const kept = t.points.find((p) => p.step === t.bestStep);
        const drops = t.lrDrops.length === 0 ? '–' : t.lrDrops.map((d) => `${d.step} (→ ${d.lr.toExponential(1)})`).join(', ');
        return [
          m.label,
          String(e.model.seed ?? 1),
          t.endedBy,
          String(t.stopStep),
          String(t.bestStep ?? '–'),
          `${f4(kept?.iou)} / ${f4(kept?.smoothed)}`,
          drops,
          String(t.lineageSteps ?? '–'),
        ];
      }),
  );
  return [
    '## How training ended',
    '',
    "`plateau`: the convergence rule fired (the smoothed val IoU stopped improving after its lr drops); `budget`: the rule was on but the step budget ran out first; `fixed budget`: a model trained for a fixed number of steps (BLU-Nets, the equal-budget U-Net). Steps count the model's own optimizer steps (a continued model's start included); lineage: with every model it was made from.",
    '',
    table(
      ['model', 'seed', 'ended by', 'last step', 'kept step', 'val IoU there (raw / smoothed)', 'lr drops at step', 'lineage steps'],
      rows,
    ),
    '',
  ].join('\n');
}

/** The part of the dataset step's summary.json that names the data set. */
export interface DatasetSummary {
  readonly source: string;
  readonly derive?: unknown;
}

/** The data set's name for the title: the source folder's name, and how it was derived when it was. */
export function datasetName(summary: DatasetSummary): string {
  const base = path.basename(summary.source.replace(/[\\/]+$/, '')) || summary.source;
  const name = /^bbbc\d+$/i.test(base) ? base.toUpperCase() : base;
  return summary.derive !== null && typeof summary.derive === 'object' ? `a set derived from ${name} (robustness check)` : name;
}
