// The report's pure parts: per-model mean ± std over seeds, per-seed values, collapse marks, and the
// PNG figure (test IoU vs size), rendered for real with sharp.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import type { Architecture } from '../../src/steps/blu-net/common.js';
import type { EvaluationFile } from '../../src/steps/blu-net/impl/evaluate.js';
import { figureSvg, writePng } from '../../src/steps/blu-net/impl/figure.js';
import { checkText, renderResults, sizeOfModel, THESIS_MODELS } from '../../src/steps/blu-net/impl/report-table.js';
import { meanStd, summariseSeeds } from '../../src/steps/blu-net/impl/seed-summary.js';
import { curveOf } from '../../src/steps/blu-net/impl/curves.js';
import { curvesSvg } from '../../src/steps/blu-net/impl/figure-curves.js';
import { datasetName } from '../../src/steps/blu-net/impl/report-fair.js';
import type { SizeFile } from '../../src/steps/blu-net/impl/size.js';

function evaluation(label: string, architecture: Architecture, seed: number, iou: number, collapsed?: string): EvaluationFile {
  return {
    model: { label, architecture, width: 8, stepId: `${architecture}@seed=${seed}`, seed },
    crop: 64,
    images: 2,
    meanIou: iou,
    meanF1: Math.min(1, iou + 0.1),
    perImage: [
      { image: 'a', iou, f1: iou },
      { image: 'b', iou, f1: iou },
    ],
    ...(collapsed !== undefined ? { collapsed } : {}),
  };
}

const size = (architecture: Architecture, mib: number) => ({
  label: architecture,
  architecture,
  width: 8,
  fp32Params: 1,
  binaryBits: 0,
  bytes: mib * 2 ** 20,
  mib,
  ratioThesis: 1,
});
const SIZES = {
  trained: [size('unet', 1.85), size('lw_unet', 0.262), size('blu_net', 0.0283)],
  thesisWidth: [],
  packedCheck: null,
} as unknown as SizeFile;

const EVALUATIONS = [
  evaluation('U-Net', 'unet', 2, 0.76),
  evaluation('U-Net', 'unet', 1, 0.74),
  evaluation('U-Net', 'unet', 3, 0.75),
  evaluation('BLU-Net (from distilled lw_unet)', 'blu_net', 1, 0.6),
  evaluation('BLU-Net (from distilled lw_unet)', 'blu_net', 2, 0, 'val IoU never left 0 (max 0 over 30 validations)'),
  evaluation('BLU-Net (from distilled lw_unet)', 'blu_net', 3, 0.66),
  evaluation('lw_unet (from scratch)', 'lw_unet', 1, 0.7),
  evaluation('BLU-Net (from scratch)', 'blu_net', 1, 0.3),
];

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('report over seeds', () => {
  it('computes mean and sample std', () => {
    expect(meanStd([0.74, 0.76, 0.75])).toEqual({ mean: expect.closeTo(0.75, 10), std: expect.closeTo(0.01, 10) });
    expect(Number.isNaN(meanStd([0.5]).std)).toBe(true);
  });

  it('groups by model, orders seeds, keeps collapsed seeds in the mean and counts them', () => {
    const [unet, blu, lw, scratch] = summariseSeeds(EVALUATIONS);
    expect(unet?.seeds.map((s) => s.seed)).toEqual([1, 2, 3]);
    expect(unet?.iou.mean).toBeCloseTo(0.75, 10);
    expect(blu?.collapsedSeeds).toBe(1);
    expect(blu?.iou.mean).toBeCloseTo(0.42, 10);
    expect(lw?.seeds).toHaveLength(1);
    expect(scratch?.architecture).toBe('blu_net');
    expect(sizeOfModel(SIZES, blu!)?.mib).toBe(0.0283);
  });

  it('renders mean ± std, per-seed values and a collapse mark with its reason', () => {
    const latency = { backend: 'wasm', size: 64, warmup: 1, models: [] };
    const md = renderResults({ title: 'T', params: {}, evaluations: EVALUATIONS, size: SIZES, latency } as never, 'iou-vs-size.png');
    expect(md).toContain('| U-Net | 8 | 3 | 0.7500 ± 0.0100 | 1: 0.7400, 2: 0.7600, 3: 0.7500 |');
    expect(md).toMatch(
      /\| BLU-Net \(from distilled lw_unet\) \| 8 \| 3 \| 0\.4200 ± 0\.3\d+ ⚠ 1 of 3 collapsed \| 1: 0\.6000, 2: 0\.0000 ⚠, 3: 0\.6600 \|/,
    );
    expect(md).toContain('- ⚠ BLU-Net (from distilled lw_unet), seed 2 (`blu_net@seed=2`): val IoU never left 0');
    expect(md).toContain('| lw_unet (from scratch) | 8 | 1 | 0.7000 |');
    expect(md).toContain('![Test IoU against model size](iou-vs-size.png)');
  });

  it('draws the figure as a PNG', async () => {
    const models = summariseSeeds(EVALUATIONS);
    const points = models.map((summary) => ({ label: summary.label, mib: sizeOfModel(SIZES, summary)!.mib, summary }));
    const svg = figureSvg('BLU-Net test', points, THESIS_MODELS);
    expect(svg).toContain('U-Net (3 seeds)');
    expect(svg).toContain('lw_unet (from scratch) (1 seed)');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'blu-figure-'));
    dirs.push(dir);
    const file = path.join(dir, 'iou-vs-size.png');
    await writePng(file, svg);
    const meta = await sharp(file).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(800);
    if (process.env.BLU_KEEP_FIGURE) await sharp(file).toFile(process.env.BLU_KEEP_FIGURE);
  });
});

describe('the packed engine against the simulation, in words', () => {
  it('tells mask flips at a tie (an untrained model: p ≈ 0.5) from real disagreements', () => {
    expect(checkText({ pixels: 100, maskDiffs: 0, maskDiffsBeyondTies: 0, maxAbsDiff: 3e-7 }, 'wasm')).toBe(
      'against the fp32 simulation on wasm: the same mask over 100 pixels, max |Δp| 3.0e-7',
    );
    expect(checkText({ pixels: 100, maskDiffs: 40, maskDiffsBeyondTies: 0, maxAbsDiff: 2e-7 }, 'tensorflow')).toContain(
      '40 of 100 mask pixels differ, all ties at 0.5 (|Δp| ≤ 1e-4)',
    );
    expect(checkText({ pixels: 100, maskDiffs: 3, maskDiffsBeyondTies: 2, maxAbsDiff: 0.41 }, 'tensorflow')).toContain(
      '3 of 100 mask pixels differ, 2 of them with |Δp| > 1e-4; max |Δp| 4.1e-1',
    );
    // Files written before ties were counted: every flip counts as a disagreement.
    expect(checkText({ pixels: 100, maskDiffs: 3, maxAbsDiff: 0.41 }, 'tensorflow')).toContain('3 of them with |Δp| > 1e-4');
  });
});

describe('fair-comparison parts of the report (issues 21, 22, 23)', () => {
  it('gives each thesis model its own marker and legend entry', () => {
    const svg = figureSvg('T', [], THESIS_MODELS);
    for (const m of THESIS_MODELS) expect(svg).toContain(`thesis: ${m.label.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)}`);
    // Each shape twice: on the plot and in the legend.
    const shapes = [...svg.matchAll(/<path d="(M[^"]+)" transform="translate\([0-9.]+ [0-9.]+\)" fill="none" stroke="#666"/g)].map(
      (m) => m[1],
    );
    expect(shapes).toHaveLength(2 * THESIS_MODELS.length);
    expect(new Set(shapes).size).toBe(THESIS_MODELS.length);
  });

  it('names the data set from the dataset summary', () => {
    expect(datasetName({ source: '../shared/data/bbbc030', derive: null })).toBe('BBBC030');
    expect(datasetName({ source: '../shared/data/bbbc030/', derive: { zoom: 2 } })).toBe('a set derived from BBBC030 (robustness check)');
    expect(datasetName({ source: '/data/dic-set-2' })).toBe('dic-set-2');
  });

  it('reads a learning curve from train.json phases: the last IoU phase, at its offset', () => {
    const record = (epoch: number, step: number, iou: number | undefined, smoothed?: number) => ({
      epoch,
      step,
      loss: 1,
      lr: 1,
      seconds: 1,
      val: { loss: 1, ...(iou !== undefined ? { iou } : {}) },
      ...(smoothed !== undefined ? { smoothed } : {}),
    });
    const phases = [
      { phase: 'hint_encoder', offset: 0, bestEpoch: 0, history: [record(0, 50, undefined)] },
      {
        phase: 'supervised',
        offset: 200,
        bestEpoch: 1,
        stoppedBy: 'plateau' as const,
        lrDrops: [{ epoch: 0, step: 50, lr: 5e-4 }],
        history: [record(0, 50, 0.5, 0.5), record(1, 100, 0.7, 0.6), record(2, 150, 0.6, 0.6)],
      },
    ];
    expect(curveOf(phases, 350)).toEqual({
      points: [
        { step: 250, iou: 0.5, smoothed: 0.5 },
        { step: 300, iou: 0.7, smoothed: 0.6 },
        { step: 350, iou: 0.6, smoothed: 0.6 },
      ],
      bestStep: 300,
      stopStep: 350,
      endedBy: 'plateau',
      lrDrops: [{ step: 250, lr: 5e-4 }],
      lineageSteps: 350,
    });
    expect(curveOf([phases[0]!], undefined)).toBeUndefined();
  });

  it('draws the learning curves (a panel per model with curves, end labels) as a PNG', async () => {
    const withCurve = (label: string, seed: number, endedBy: string): EvaluationFile => ({
      ...evaluation(label, 'unet', seed, 0.8),
      training: {
        points: [
          { step: 50, iou: 0.5, smoothed: 0.5 },
          { step: 100, iou: 0.7, smoothed: 0.6 },
        ],
        bestStep: 100,
        stopStep: 100,
        endedBy,
        lrDrops: [],
      },
    });
    const evaluations = [withCurve('U-Net', 1, 'plateau'), withCurve('U-Net', 2, 'budget'), evaluation('BLU-Net', 'blu_net', 1, 0.7)];
    const svg = curvesSvg('T', evaluations, ['U-Net', 'BLU-Net']);
    expect(svg).toContain('>U-Net</text>');
    expect(svg).not.toContain('>BLU-Net</text>'); // no curve, no panel
    expect(svg).toMatch(/>P<\/text>/);
    expect(svg).toMatch(/>B<\/text>/);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'blu-curves-'));
    try {
      await writePng(path.join(dir, 'c.png'), svg);
      expect((await sharp(path.join(dir, 'c.png')).metadata()).format).toBe('png');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the shared figure code (factored out for the Pareto figure)', () => {
  it('leaves the iou-vs-size SVG byte-identical', async () => {
    const { createHash } = await import('node:crypto');
    const models = summariseSeeds(EVALUATIONS);
    const points = models.map((summary) => ({ label: summary.label, mib: sizeOfModel(SIZES, summary)!.mib, summary }));
    const svg = figureSvg('BLU-Net <test> & "figure"', points, THESIS_MODELS);
    // sha256 of the SVG as drawn before the factoring (commit 4b20f48).
    expect(createHash('sha256').update(svg).digest('hex')).toBe('c663babddf46ab21e0a31cd3d5e05d363eae98c088209dc023b499a96d70eec7');
  });
});
