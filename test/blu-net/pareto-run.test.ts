// The pareto step for real through the built CLI: `run:` steps write eval.json and latency.json files
// where the evaluate and latency steps would, and the pareto step reads them, with no variants, with
// a variant that has no width-16 latency, and with an unreadable file.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cliProjects, outcomes } from '../rig/project.js';

const project = cliProjects();

const FIXTURE = `const fs = require('node:fs');
const path = require('node:path');
const [what, a, b, out, corrupt] = process.argv.slice(2);
const arch = { pretrain: 'unet', binarise: 'blu_net', binarise_variant: 'blu_net' };
const label = { unet: 'U-Net', blu_net: 'BLU-Net (from distilled lw_unet)' };
const timed = (stepId, architecture, medianMs, packed) => ({
  model: { label: label[architecture] + (packed ? ', packed, binary engine' : ''), architecture, width: 16, stepId },
  runtime: packed ? 'binary-engine' : 'tfjs', ...(packed ? { engine: 'native' } : {}), threads: 2, runs: 3, medianMs, p95Ms: medianMs, meanMs: medianMs, minMs: medianMs,
  fileBytes: packed ? 50000 : 4000000,
});
let value;
if (what === 'eval') {
  const stepId = a.startsWith('sep') ? 'binarise_variant@variant=' + a + ',seed=' + b : a + '@seed=' + b;
  const architecture = arch[stepId.split('@')[0]];
  const iou = architecture === 'unet' ? 0.8 + Number(b) / 100 : a.startsWith('sep') ? 0.72 : 0.7;
  value = { model: { label: label[architecture], architecture, width: 16, stepId, seed: Number(b) }, crop: 64, images: 1,
    meanIou: iou, meanF1: iou, perImage: [{ image: 'x', iou, f1: iou }] };
} else if (what === 'summary') {
  value = { source: '/data/bbbc030/', derive: null };
} else if (what === 'latency16') {
  value = { backend: 'tensorflow', size: 256, warmup: 1,
    models: [timed('pretrain@seed=1', 'unet', 40, false), timed('binarise@seed=1', 'blu_net', 30, false), timed('binarise@seed=1', 'blu_net', 8, true)] };
} else {
  value = { backend: 'tensorflow', size: 256, warmup: 1,
    models: [timed(a, 'unet', 600, false), timed(a, 'lw_unet', 300, false), timed(a, 'blu_net', a === 'latency_thesis' ? 100 : 50, true)] };
}
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, corrupt === 'true' ? '{ not json' : JSON.stringify(value));
`;

const PIPELINE = `name: pareto-test
params:
  seeds: [1, 2]
  variants: []
  corrupt: false
steps:
  evaluate:
    matrix: { source: [pretrain, binarise], seed: "\${params.seeds}" }
    run: node fx.cjs eval \${matrix.source} \${matrix.seed} artifacts/evaluate_source_\${matrix.source}_seed_\${matrix.seed}/eval.json \${params.corrupt}
    outs: ["artifacts/evaluate_source_\${matrix.source}_seed_\${matrix.seed}/eval.json"]
  evaluate_variant:
    matrix: { variant: "\${params.variants}", seed: "\${params.seeds}" }
    run: node fx.cjs eval \${matrix.variant.name} \${matrix.seed} artifacts/evaluate_variant_variant_\${matrix.variant.name}_seed_\${matrix.seed}/eval.json
    outs: ["artifacts/evaluate_variant_variant_\${matrix.variant.name}_seed_\${matrix.seed}/eval.json"]
  latency:
    run: node fx.cjs latency16 - - artifacts/latency/latency.json
    outs: [artifacts/latency/latency.json]
  latency_thesis:
    run: node fx.cjs latency64 latency_thesis - artifacts/latency_thesis/latency.json
    outs: [artifacts/latency_thesis/latency.json]
  latency_variant_thesis:
    matrix: { variant: "\${params.variants}" }
    run: node fx.cjs latency64 latency_variant_thesis@variant=\${matrix.variant.name} - artifacts/latency_variant_thesis_variant_\${matrix.variant.name}/latency.json
    outs: ["artifacts/latency_variant_thesis_variant_\${matrix.variant.name}/latency.json"]
  dataset:
    run: node fx.cjs summary - - artifacts/dataset/summary.json
    outs: [artifacts/dataset/summary.json]
  pareto:
    uses: pareto
    with:
      evaluations: [evaluate, evaluate_variant]
      latency: [latency]
      latency_thesis: [latency_thesis, latency_variant_thesis]
      variants: \${params.variants}
      title: Speed
      data: dataset
`;

const OVERLAY = `params:
  variants:
    - { name: sep_a1, separable_binarise: true, levels: { activation: 1, conv: 1, depthwise: 1, pointwise: 1 } }
`;

function setUp() {
  const p = project();
  p.write('fx.cjs', FIXTURE);
  p.write('pipeline.yaml', PIPELINE);
  p.write('variants.yaml', OVERLAY);
  return p;
}

describe('the pareto step', () => {
  it('tabulates the thesis models with no variants, then a variant with a missing width-16 latency', async () => {
    const p = setUp();
    const none = await p.cli(['run', 'pipeline.yaml', '--json', '--no-track']);
    expect(none.exitCode, none.stderr).toBe(0);
    expect(outcomes(none.stdout).pareto).toBe('ran');
    const md = readFileSync(p.path('artifacts/pareto/pareto.md'), 'utf8');
    expect(md).toContain('# Speed on BBBC030\n'); // the report's title rule (impl/title.ts)
    expect(md).toContain(
      '| **U-Net** | fp32 | 0.8150 ± 0.0071 (n=2) | 3.8147 | 40.00 (tfjs (tensorflow)) | 600.00 (tfjs (tensorflow)) | 1.00× | 0.50× |',
    );
    expect(md).not.toContain('**Missing values**');

    const one = await p.cli(['run', 'pipeline.yaml', '-e', 'variants.yaml', '--json', '--no-track']);
    expect(one.exitCode, one.stderr).toBe(0);
    const md2 = readFileSync(p.path('artifacts/pareto/pareto.md'), 'utf8');
    expect(md2).toContain(
      '| **BLU-Net (from distilled lw_unet), variant sep_a1** | levels a1 c1 d1 p1, binary pointwise (separable binarise) | 0.7200 ± 0.0000 (n=2) | — | — | 50.00 (binary engine (native)) | 12.00× | 6.00× |',
    );
    expect(md2).toContain('variant sep_a1: no width-16 latency');
    const json = JSON.parse(readFileSync(p.path('artifacts/pareto/pareto.json'), 'utf8')) as {
      rows: { group: string; onFront: boolean }[];
    };
    expect(json.rows.map((r) => [r.group, r.onFront])).toEqual([
      ['pretrain', true],
      ['binarise', false],
      ['binarise_variant@variant=sep_a1', true],
    ]);
    expect(readFileSync(p.path('artifacts/pareto/iou-vs-latency.png')).subarray(1, 4).toString()).toBe('PNG');
  });

  it('fails with the file named when an evaluation cannot be read', async () => {
    const p = setUp();
    const bad = await p.cli(['run', 'pipeline.yaml', '--set', 'corrupt=true', '--no-track']);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr + bad.stdout).toMatch(/cannot read .*eval\.json/);
    expect(bad.stderr + bad.stdout).not.toMatch(/\n\s+at /); // no stack trace
  });
});
