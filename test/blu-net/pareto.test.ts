// The pareto step's pure parts: grouping evaluations by training step without seed, matching width-16
// and width-64 latencies, in-step speed-ups, the front, missing values, the markdown and the SVG.
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { Ajv } from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/runtime/load/diagnostics.js';
import { loadPipeline } from '../../src/runtime/load/load.js';
import { builtinRegistry } from '../../src/steps/registry.js';
import { TempProject } from '../rig/project.js';
import type { Architecture } from '../../src/steps/blu-net/common.js';
import type { EvaluationFile } from '../../src/steps/blu-net/impl/evaluate.js';
import { writePng } from '../../src/steps/blu-net/impl/figure.js';
import { paretoSvg, placeTags, shortTag } from '../../src/steps/blu-net/impl/figure-pareto.js';
import type { LatencyFile, ModelLatency } from '../../src/steps/blu-net/impl/latency.js';
import { groupLabel, groupOf, parseStepId, type LatencySource } from '../../src/steps/blu-net/impl/pareto-match.js';
import { renderPareto } from '../../src/steps/blu-net/impl/pareto-render.js';
import { paretoFront, paretoTable, slug } from '../../src/steps/blu-net/impl/pareto-table.js';

const LABELS: Record<Architecture, string> = {
  unet: 'U-Net',
  lw_unet: 'lw_unet (hint learning + BCE)',
  blu_net: 'BLU-Net (from distilled lw_unet)',
};

function evaluation(stepId: string, architecture: Architecture, seed: number, iou: number, collapsed?: string): EvaluationFile {
  return {
    model: { label: LABELS[architecture], architecture, width: 16, stepId, seed },
    crop: 64,
    images: 1,
    meanIou: iou,
    meanF1: iou,
    perImage: [{ image: 'a', iou, f1: iou }],
    ...(collapsed !== undefined ? { collapsed } : {}),
  };
}

function entry(stepId: string, architecture: Architecture, medianMs: number, packed: boolean, fileBytes?: number): ModelLatency {
  const label = packed ? `${LABELS[architecture]}, packed, binary engine` : LABELS[architecture];
  return {
    model: { label, architecture, width: 16, stepId },
    runtime: packed ? 'binary-engine' : 'tfjs',
    ...(packed ? { engine: 'native' } : {}),
    threads: 2,
    runs: 5,
    medianMs,
    p95Ms: medianMs * 1.1,
    meanMs: medianMs,
    minMs: medianMs,
    ...(fileBytes !== undefined ? { fileBytes } : {}),
  };
}

const file = (models: ModelLatency[]): LatencyFile => ({ backend: 'tensorflow', size: 256, warmup: 1, models });
const source = (stepId: string, models: ModelLatency[]): LatencySource => ({ stepId, file: file(models) });

const EVALUATIONS = [
  ...[1, 2, 3].map((s) => evaluation(`pretrain@seed=${s}`, 'unet', s, 0.8 + s / 100)),
  ...[1, 2, 3].map((s) => evaluation(`hint@seed=${s}`, 'lw_unet', s, 0.78)),
  ...[1, 2, 3].map((s) => evaluation(`binarise@seed=${s}`, 'blu_net', s, 0.7)),
  evaluation('binarise_variant@variant=sep_a1,seed=2', 'blu_net', 2, 0, 'val IoU never left 0'),
  evaluation('binarise_variant@variant=sep_a1,seed=1', 'blu_net', 1, 0.6),
  evaluation('binarise_variant@variant=sep_a3,seed=1', 'blu_net', 1, 0.72),
];

const WIDTH16 = [
  source('latency', [
    entry('pretrain@seed=1', 'unet', 40, false, 7_000_000),
    entry('hint@seed=1', 'lw_unet', 20, false, 1_000_000),
    entry('binarise@seed=1', 'blu_net', 30, false, 1_000_000),
    entry('binarise@seed=1', 'blu_net', 10, true, 90_000),
  ]),
  source('latency_variant@variant=sep_a1', [entry('binarise_variant@variant=sep_a1,seed=1', 'blu_net', 5, true, 80_000)]),
  // sep_a3 has no width-16 latency.
];

const WIDTH64 = [
  source('latency_thesis', [
    entry('latency_thesis', 'unet', 600, false),
    entry('latency_thesis', 'lw_unet', 300, false),
    entry('latency_thesis', 'blu_net', 500, false),
    entry('latency_thesis', 'blu_net', 100, true),
  ]),
  source('latency_variant_thesis@variant=sep_a1', [
    entry('latency_variant_thesis@variant=sep_a1', 'unet', 640, false),
    entry('latency_variant_thesis@variant=sep_a1', 'lw_unet', 320, false),
    entry('latency_variant_thesis@variant=sep_a1', 'blu_net', 40, true),
  ]),
  source('latency_variant_thesis@variant=sep_a3', [
    entry('latency_variant_thesis@variant=sep_a3', 'unet', 630, false),
    entry('latency_variant_thesis@variant=sep_a3', 'lw_unet', 310, false),
    entry('latency_variant_thesis@variant=sep_a3', 'blu_net', 90, true),
  ]),
];

const VARIANTS = [
  { name: 'sep_a1', separable_binarise: true, levels: { activation: 1, conv: 1, depthwise: 1, pointwise: 1 } },
  { name: 'sep_a3', separable_binarise: true, levels: { activation: 3, conv: 3, depthwise: 3, pointwise: 3 }, gamma_init: 'matched' },
  { name: 'sep_a2', separable_binarise: true, levels: { activation: 2, conv: 2, depthwise: 2, pointwise: 2 } },
];

const INPUT = { evaluations: EVALUATIONS, latency: WIDTH16, latencyThesis: WIDTH64, variants: VARIANTS };

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('pareto grouping', () => {
  it('removes the seed coordinate and keeps the others in the group and its label', () => {
    expect(groupOf('binarise_variant@variant=sep_a1,seed=2')).toBe('binarise_variant@variant=sep_a1');
    expect(groupOf('pretrain@seed=1')).toBe('pretrain');
    expect(groupOf('latency_thesis')).toBe('latency_thesis');
    expect(groupOf('ablation@model=blu_net,seed=3')).toBe('ablation@model=blu_net');
    expect(parseStepId('a@x=1,seed=2')).toEqual({
      name: 'a',
      coordinates: [
        ['x', '1'],
        ['seed', '2'],
      ],
    });
    expect(groupLabel('BLU-Net', 'binarise_variant@variant=sep_a1')).toBe('BLU-Net, variant sep_a1');
    expect(groupLabel('BLU-Net (from scratch)', 'ablation@model=blu_net')).toBe('BLU-Net (from scratch), model=blu_net');
    expect(groupLabel('U-Net', 'pretrain')).toBe('U-Net');
  });

  it('makes one row per training step over its seeds, collapsed seeds counted', () => {
    const { rows } = paretoTable(INPUT);
    expect(rows.map((r) => r.group)).toEqual([
      'pretrain',
      'hint',
      'binarise',
      'binarise_variant@variant=sep_a1',
      'binarise_variant@variant=sep_a3',
    ]);
    const sepA1 = rows[3]!;
    expect(sepA1.label).toBe('BLU-Net (from distilled lw_unet), variant sep_a1');
    expect(sepA1.seeds.map((s) => s.seed)).toEqual([1, 2]);
    expect(sepA1.collapsedSeeds).toBe(1);
    expect(sepA1.iou.mean).toBeCloseTo(0.3, 10);
    expect(sepA1.description).toBe('levels a1 c1 d1 p1, binary pointwise (separable binarise)');
    expect(rows[4]!.description).toBe('levels a3 c3 d3 p3, binary pointwise (separable binarise), matched start');
    expect(rows[0]!.description).toBe('fp32');
    expect(rows[2]!.description).toBe('thesis: 3 activation × 3 weight levels, real-valued pointwise');
  });

  it('says how each BLU-Net row trained: its variant’s own block, else with.training', () => {
    const variants = [...VARIANTS.slice(0, 1), { ...VARIANTS[1]!, train: { steps: 2400, loss: 'bce_dice' } }];
    const { rows } = paretoTable({ ...INPUT, variants, training: { steps: 600 } });
    expect(rows[2]!.description).toBe('thesis: 3 activation × 3 weight levels, real-valued pointwise, 600 steps of BCE');
    expect(rows[3]!.description).toBe('levels a1 c1 d1 p1, binary pointwise (separable binarise), 600 steps of BCE');
    expect(rows[4]!.description).toBe(
      'levels a3 c3 d3 p3, binary pointwise (separable binarise), matched start, 2400 steps of BCE + soft Dice',
    );
    expect(rows[0]!.description).toBe('fp32');
  });
});

describe('pareto figure tags', () => {
  it('keep the plain place above a lone point and never overlap for points at one spot', () => {
    expect(placeTags([{ cx: 200, cy: 200, text: 'lw_unet' }])).toEqual([{ x: 209, y: 192, end: false }]);
    const crowded = placeTags(['sep_a2w2_dice2400', 'thesis_dice2400', 'lw_unet', 'BLU-Net'].map((text) => ({ cx: 300, cy: 150, text })));
    const ys = crowded.map((t) => t.y);
    expect(new Set(ys).size).toBe(4);
    for (const [i, a] of ys.entries()) for (const b of ys.slice(i + 1)) expect(Math.abs(a - b)).toBeGreaterThanOrEqual(14);
    // In the right half of the plot the tag ends left of its point.
    expect(placeTags([{ cx: 600, cy: 200, text: 'U-Net' }])[0]).toEqual({ x: 591, y: 192, end: true });
  });
});

describe('pareto latency matching', () => {
  it('takes the packed entry for BLU-Nets and tfjs for the others at width 16, with the file size', () => {
    const [unet, , blu, sepA1] = paretoTable(INPUT).rows;
    expect(unet!.width16).toMatchObject({ stepId: 'latency', medianMs: 40, engine: 'tfjs (tensorflow)' });
    expect(blu!.width16).toMatchObject({ stepId: 'latency', medianMs: 10, engine: 'binary engine (native)', threads: 2 });
    expect(blu!.sizeMiB).toBeCloseTo(90_000 / 2 ** 20, 10);
    expect(sepA1!.width16?.stepId).toBe('latency_variant@variant=sep_a1');
  });

  it('takes width 64 from the step without coordinates, or the BLU-Net variant’s own, with in-step speed-ups', () => {
    const [unet, lw, blu, sepA1, sepA3] = paretoTable(INPUT).rows;
    expect(unet!.width64).toMatchObject({ stepId: 'latency_thesis', medianMs: 600 });
    expect(unet!.speedupVsUnet).toBe(1);
    expect(lw!.speedupVsUnet).toBe(2);
    expect(blu!.width64).toMatchObject({ stepId: 'latency_thesis', medianMs: 100, engine: 'binary engine (native)' });
    expect(blu!.speedupVsUnet).toBe(6);
    expect(blu!.speedupVsLwUnet).toBe(3);
    // In-step: sep_a1's own U-Net (640), not latency_thesis's (600).
    expect(sepA1!.width64?.stepId).toBe('latency_variant_thesis@variant=sep_a1');
    expect(sepA1!.speedupVsUnet).toBe(16);
    expect(sepA1!.speedupVsLwUnet).toBe(8);
    expect(sepA3!.speedupVsUnet).toBe(7); // sep_a3 (0.72 at 90 ms) dominates the thesis BLU-Net (0.70 at 100 ms)
  });

  it('marks a variant with no latency as missing instead of failing, and lists variants never evaluated', () => {
    const t = paretoTable(INPUT);
    const sepA3 = t.rows[4]!;
    expect(sepA3.width16).toBeNull();
    expect(sepA3.sizeMiB).toBeNull();
    expect(t.missing).toContain(
      'BLU-Net (from distilled lw_unet), variant sep_a3: no width-16 latency (no latency entry of a `binarise_variant@variant=sep_a3` model)',
    );
    expect(t.missing).toContain('variant sep_a2: no evaluations');
    const noThesis = paretoTable({ ...INPUT, latencyThesis: WIDTH64.slice(0, 2) });
    expect(noThesis.rows[4]!.width64).toBeNull();
    expect(
      noThesis.missing.some((m) =>
        m.includes('variant sep_a3: no width-64 latency (no packed blu_net entry in a width-64 step @variant=sep_a3)'),
      ),
    ).toBe(true);
    const md = renderPareto('T', noThesis);
    expect(md).toMatch(/\| BLU-Net \(from distilled lw_unet\), variant sep_a3 \| [^|]+ \| 0\.7200 \(n=1\) \| — \| — \| — \| — \| — \|/);
  });

  it('works with zero variants (only the thesis models)', () => {
    const t = paretoTable({
      evaluations: EVALUATIONS.slice(0, 9),
      latency: WIDTH16.slice(0, 1),
      latencyThesis: WIDTH64.slice(0, 1),
      variants: [],
    });
    expect(t.rows).toHaveLength(3);
    expect(t.missing).toEqual([]);
    expect(t.rows.map((r) => r.onFront)).toEqual([true, true, true]);
    expect(paretoTable({ ...INPUT, evaluations: [] }).rows).toEqual([]);
    expect(renderPareto('T', paretoTable({ ...INPUT, evaluations: [], variants: [] }))).toContain('No evaluations.');
  });
});

describe('the Pareto front and the outputs', () => {
  it('keeps a row unless another has both a higher mean IoU and a lower width-64 median', () => {
    const row = (mean: number, ms: number | null) => ({ iou: { mean, std: 0 }, width64: ms === null ? null : ({ medianMs: ms } as never) });
    expect(paretoFront([row(0.8, 100), row(0.7, 200), row(0.9, 300), row(0.85, 50), row(0.95, null)])).toEqual([
      false,
      false,
      true,
      true,
      false,
    ]);
    expect(paretoFront([row(0.8, 100), row(0.8, 100)])).toEqual([true, true]); // ties dominate nothing
  });

  it('renders the table, notes on the sources and thread counts, the front and the missing values', () => {
    const t = paretoTable(INPUT);
    expect(t.rows.filter((r) => r.onFront).map((r) => r.group)).toEqual([
      'pretrain',
      'hint',
      'binarise_variant@variant=sep_a1',
      'binarise_variant@variant=sep_a3',
    ]);
    const md = renderPareto('BLU-Net speed', t, 'iou-vs-latency.png');
    if (process.env.BLU_KEEP_MARKDOWN) writeFileSync(process.env.BLU_KEEP_MARKDOWN, md);
    expect(md).toContain('# BLU-Net speed');
    expect(md).toContain(
      '| **U-Net** | fp32 | 0.8200 ± 0.0100 (n=3) | 6.6757 | 40.00 (tfjs (tensorflow)) | 600.00 (tfjs (tensorflow)) | 1.00× | 0.50× |',
    );
    expect(md).toContain('| 0.3000 ± 0.4243 (n=2, 1 collapsed) |');
    expect(md).toContain('in-step ratios');
    expect(md).toContain(
      'bold in the table): U-Net; lw_unet (hint learning + BCE); BLU-Net (from distilled lw_unet), variant sep_a1; BLU-Net (from distilled lw_unet), variant sep_a3.',
    );
    expect(md).toContain(
      '- BLU-Net (from distilled lw_unet), variant sep_a1 (`binarise_variant@variant=sep_a1`): width 16 from `latency_variant@variant=sep_a1` (binary engine (native), 2 threads); width 64 from `latency_variant_thesis@variant=sep_a1` (binary engine (native), 2 threads).',
    );
    expect(md).toContain('**Missing values** (shown as —):');
    expect(md).toContain('![Test IoU against width-64 latency](iou-vs-latency.png)');
    expect(slug(t.rows[3]!.label)).toBe('blu_net_from_distilled_lw_unet_variant_sep_a1');
  });

  it('draws valid SVG with every label and rasterises it to PNG', async () => {
    const t = paretoTable({ ...INPUT, latencyThesis: WIDTH64.slice(0, 2) });
    const svg = paretoSvg('BLU-Net <speed>', t.rows);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.endsWith('</svg>')).toBe(true);
    expect(svg).toContain('BLU-Net &#60;speed&#62;: test IoU vs latency');
    // The legend wraps long labels; its text, lines joined, holds every label and every in-plot tag.
    const text = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)]
      .map((m) => m[1])
      .join(' ')
      .replace(/\s+/g, ' ');
    for (const r of t.rows) expect(text).toContain(r.label);
    expect(t.rows.map(shortTag)).toEqual(['U-Net', 'lw_unet', 'BLU-Net', 'sep_a1', 'sep_a3']);
    for (const tag of ['U-Net', 'lw_unet', 'sep_a1']) expect(svg).toMatch(new RegExp(`font-size="12" fill="#[0-9a-f]{6}">${tag}</text>`));
    expect(svg).toContain('variant sep_a3: no width-64 latency');
    expect(svg).toContain('<polyline');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'blu-pareto-'));
    dirs.push(dir);
    const png = path.join(dir, 'iou-vs-latency.png');
    await writePng(png, svg);
    expect((await sharp(png).metadata()).format).toBe('png');
    if (process.env.BLU_KEEP_FIGURE) await sharp(png).toFile(process.env.BLU_KEEP_FIGURE);
  });
});

describe('the pareto kind', () => {
  const kind = builtinRegistry().get('pareto')!;
  const W = {
    evaluations: ['evaluate', 'evaluate_variant'],
    latency: ['latency', 'latency_variant'],
    latency_thesis: ['latency_thesis', 'latency_variant_thesis'],
  };

  it('checks with: against its schema', () => {
    const ajv = new Ajv({ strict: false, allowUnionTypes: true });
    const valid = (v: unknown) => ajv.validate(kind.withSchema, v);
    expect(valid({ ...W, variants: VARIANTS, title: 'T', data: 'dataset' })).toBe(true);
    expect(valid({ ...W, variants: [] })).toBe(true);
    expect(valid({ ...W, latency_thesis: [] })).toBe(false);
    expect(valid({ ...W, extra: 1 })).toBe(false);
    expect(valid({ ...W, variants: [{ name: 'x', levels: { activation: 1, weights: 2 } }] })).toBe(false);
    expect(valid({ evaluations: ['evaluate'], latency: ['latency'] })).toBe(false);
  });

  it('declares its three artifacts and needs every referenced step', () => {
    const d = kind.declare({ stepId: 'pareto', name: 'pareto', with: { ...W, data: 'dataset' } });
    expect(d.outs.map((o) => o.path)).toEqual([
      'artifacts/pareto/pareto.md',
      'artifacts/pareto/pareto.json',
      'artifacts/pareto/iou-vs-latency.png',
    ]);
    expect(d.needs).toEqual([...W.evaluations, ...W.latency, ...W.latency_thesis, 'dataset']);
  });
});

// A step name with no instances (params.variants empty) is an empty set to the steps that need it
// (src/runtime/load/resolve.ts links every declared name), for a kind's declared needs as for `needs:`.
const PIPELINE = `name: p
params:
  variants: []
steps:
  latency_thesis:
    uses: latency
    with: { thesis_width: 4, size: 16, runs: 1, warmup: 0 }
  evaluate_variant:
    uses: evaluate
    matrix: { variant: "\${params.variants}" }
    with: { data: dataset, model: "binarise_variant@variant=\${matrix.variant.name}", crop: 16 }
  latency_variant_thesis:
    uses: latency
    matrix: { variant: "\${params.variants}" }
    with: { thesis_width: 4, size: 16, runs: 1, warmup: 0 }
  pareto:
    uses: pareto
    with: { evaluations: [EVALUATIONS], latency: [latency_variant_thesis], latency_thesis: [latency_thesis, latency_variant_thesis] }
`;

describe('pareto over a variant list with no entries', () => {
  const projects: TempProject[] = [];
  afterAll(() => projects.forEach((p) => p.dispose()));
  async function load(evaluations: string) {
    const p = new TempProject();
    projects.push(p);
    p.write('p.yaml', PIPELINE.replace('EVALUATIONS', evaluations));
    return loadPipeline({ file: 'p.yaml', cwd: p.dir, overlays: [], sets: [], registry: builtinRegistry(), env: { HOME: '/root' } });
  }

  it('loads, and the pareto step needs only the instances that exist', async () => {
    const loaded = await load('evaluate_variant');
    expect(loaded.ok ? [] : loaded.error.map(formatDiagnostic)).toEqual([]);
    if (!loaded.ok) return;
    expect(loaded.value.steps.find((s) => s.id === 'pareto')?.needs).toEqual(['latency_thesis']);
    expect(loaded.value.emptySteps?.map((s) => s.name)).toEqual(['evaluate_variant', 'latency_variant_thesis']);
  });

  it('still reports a misspelt step name', async () => {
    const loaded = await load('evaluate_varaint');
    expect(loaded.ok ? [] : loaded.error.map(formatDiagnostic)).toEqual([
      expect.stringContaining("'pareto' needs unknown step 'evaluate_varaint' (did you mean 'evaluate_variant'?)"),
    ]);
  });
});
