// End to end: the real CLI runs pipelines/blu-net.yaml with experiments/smoke.yaml on a small
// subset of BBBC030 in a temporary project, checks every artifact and metric, then checks that a
// second run is all fresh and that changing a hint-learning param reruns only hint and what
// depends on it. Needs `npm run build` (dist/src/cli/main.js) and the data folder
// (BLU_DATA_DIR, default ../shared/data/bbbc030 next to the repository).
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const cli = path.join(repo, 'dist', 'src', 'cli', 'main.js');
const dataDir = path.resolve(repo, process.env.BLU_DATA_DIR ?? '../shared/data/bbbc030');

function skipReason(): string | null {
  if (!existsSync(path.join(dataDir, 'train', 'images'))) return `data folder ${dataDir} absent (set BLU_DATA_DIR)`;
  if (!existsSync(cli)) return `${cli} missing: run \`npm run build\` first`;
  return null;
}
const skip = skipReason();
if (skip) console.warn(`[blu-net smoke e2e skipped] ${skip}`);

interface StepEnd {
  readonly type: 'step-end';
  readonly stepId: string;
  readonly outcome: string;
  readonly metrics: Record<string, number>;
  readonly tags?: Record<string, string>;
}

interface RunOutput {
  readonly exitCode: number;
  readonly ends: StepEnd[];
  readonly stderr: string;
}

/** The training and evaluation steps of one seed. */
const seedSteps = (seed: number) => [
  `pretrain@seed=${seed}`,
  `hint@seed=${seed}`,
  `binarise@seed=${seed}`,
  `pretrain_equal@seed=${seed}`,
  `ablation@model=lw_unet,seed=${seed}`,
  `ablation@model=blu_net,seed=${seed}`,
  `evaluate@source=pretrain,seed=${seed}`,
  `evaluate@source=hint,seed=${seed}`,
  `evaluate@source=binarise,seed=${seed}`,
  `evaluate_scratch@model=lw_unet,seed=${seed}`,
  `evaluate_scratch@model=blu_net,seed=${seed}`,
  `evaluate_equal@seed=${seed}`,
];

const STEPS = ['dataset', ...seedSteps(1), 'size', 'size_thesis', 'latency', 'latency_thesis', 'pareto', 'segment', 'report'];

let project = '';
// The backend is part of every step key: every command of the test uses the same one.
const BACKEND_ENV = { BLU_BACKEND: process.env.BLU_BACKEND ?? 'wasm' };

async function run(...extra: string[]): Promise<RunOutput> {
  const args = [
    cli,
    'run',
    'pipelines/blu-net.yaml',
    '-e',
    'experiments/smoke.yaml',
    '--set',
    `data_dir=${dataDir}`,
    '--no-track',
    '--json',
    ...extra,
  ];
  const result = await execa('node', args, { cwd: project, reject: false, env: BACKEND_ENV });
  const ends = result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { type: string })
    .filter((e): e is StepEnd => e.type === 'step-end');
  return { exitCode: result.exitCode ?? -1, ends, stderr: result.stderr };
}

function outcomes(output: RunOutput): Record<string, string> {
  return Object.fromEntries(output.ends.map((e) => [e.stepId, e.outcome]));
}

async function json(rel: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path.join(project, rel), 'utf8')) as Record<string, unknown>;
}

const inUnit = (x: unknown) => typeof x === 'number' && x >= 0 && x <= 1;

describe.skipIf(skip !== null)('blu-net smoke pipeline (real CLI, BBBC030 subset)', () => {
  let first: RunOutput;

  beforeAll(async () => {
    project = await mkdtemp(path.join(os.tmpdir(), 'blu-net-smoke-'));
    await mkdir(path.join(project, 'pipelines'));
    await mkdir(path.join(project, 'experiments'));
    await mkdir(path.join(project, '.blu'));
    await copyFile(path.join(repo, 'pipelines', 'blu-net.yaml'), path.join(project, 'pipelines', 'blu-net.yaml'));
    await copyFile(path.join(repo, 'experiments', 'smoke.yaml'), path.join(project, 'experiments', 'smoke.yaml'));
    // The pinned data set's manifest (the dataset step's key), at the path the pipeline names.
    await mkdir(path.join(project, 'src/steps/blu-net'), { recursive: true });
    await copyFile(path.join(repo, 'src/steps/blu-net/bbbc030-sources.tsv'), path.join(project, 'src/steps/blu-net/bbbc030-sources.tsv'));
    first = await run();
  }, 300_000);

  afterAll(async () => {
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('runs every step once', () => {
    expect(first.exitCode, first.stderr).toBe(0);
    expect(outcomes(first)).toEqual(Object.fromEntries(STEPS.map((s) => [s, 'ran'])));
  });

  it('materialises the dataset subset with a summary', async () => {
    const summary = await json('artifacts/dataset/summary.json');
    const splits = summary.splits as Record<string, { images: number; foregroundFraction: number; width: { max: number } }>;
    expect([splits.train?.images, splits.validation?.images, splits.test?.images]).toEqual([4, 2, 2]);
    expect(splits.train?.width.max).toBe(344); // 1376 px at scale 0.25
    expect(splits.train?.foregroundFraction).toBeGreaterThan(0);
    expect(splits.train?.foregroundFraction).toBeLessThan(0.2);
    expect(await readdir(path.join(project, 'artifacts/dataset/data/test/masks'))).toHaveLength(2);
  });

  it('saves every trained model with its info and training record', async () => {
    const expected: [string, string, string][] = [
      ['pretrain@seed=1', 'pretrain_seed_1', 'unet'],
      ['hint@seed=1', 'hint_seed_1', 'lw_unet'],
      ['binarise@seed=1', 'binarise_seed_1', 'blu_net'],
      ['ablation@model=lw_unet,seed=1', 'ablation_model_lw_unet_seed_1', 'lw_unet'],
      ['ablation@model=blu_net,seed=1', 'ablation_model_blu_net_seed_1', 'blu_net'],
    ];
    for (const [stepId, dir, architecture] of expected) {
      const info = await json(`artifacts/${dir}/model/blu-model.json`);
      expect(info.architecture).toBe(architecture);
      expect(info.seed).toBe(1);
      expect(existsSync(path.join(project, `artifacts/${dir}/model/weights.bin`))).toBe(true);
      const train = await json(`artifacts/${dir}/train.json`);
      const phases = train.phases as { history: { step: number }[] }[];
      expect(phases.length).toBe(dir.startsWith('hint') ? 3 : 1);
      // Step budgets: fixed smoke phases are 2 steps; the full-precision ones converge within 6, validated every 2 steps.
      const steps = phases.at(-1)?.history.map((h) => h.step) ?? [];
      const converged = architecture !== 'blu_net';
      if (converged) expect(steps).toEqual([2, 4, 6].slice(0, steps.length));
      else expect(steps).toEqual([2]);
      expect((phases.at(-1) as { stoppedBy?: string } | undefined)?.stoppedBy).toEqual(
        converged ? expect.stringMatching(/^(plateau|budget)$/) : undefined,
      );
      // A collapsed model is marked in its info, tagged and warned about, never silent.
      const end = first.ends.find((e) => e.stepId === stepId);
      expect(end?.tags?.['blu.collapsed']).toBe(info.collapsed as string | undefined);
    }
  });

  it('evaluates every model: IoU/F1 per image and mean in [0, 1], overlays written', async () => {
    const dirs = [
      'evaluate_source_pretrain_seed_1',
      'evaluate_source_hint_seed_1',
      'evaluate_source_binarise_seed_1',
      'evaluate_scratch_model_lw_unet_seed_1',
      'evaluate_scratch_model_blu_net_seed_1',
    ];
    for (const dir of dirs) {
      const evaluation = await json(`artifacts/${dir}/eval.json`);
      expect(inUnit(evaluation.meanIou) && inUnit(evaluation.meanF1)).toBe(true);
      const perImage = evaluation.perImage as { iou: number; f1: number }[];
      expect(perImage).toHaveLength(2);
      for (const s of perImage) expect(inUnit(s.iou) && inUnit(s.f1) && s.f1 >= s.iou).toBe(true);
      const overlays = await readdir(path.join(project, `artifacts/${dir}/overlays`));
      expect(overlays.filter((f) => f.endsWith('.png'))).toHaveLength(2);
    }
    const end = first.ends.find((e) => e.stepId === 'evaluate@source=binarise,seed=1');
    expect(inUnit(end?.metrics.test_iou)).toBe(true);
  });

  it('accounts sizes as the thesis does and packs a BLU-Net that predicts identically', async () => {
    const size = await json('artifacts/size/size.json');
    const trained = size.trained as {
      architecture: string;
      bytes: number;
      ratioThesis: number;
      packedBytes?: number;
      ratioPacked?: number;
    }[];
    expect(trained.map((t) => t.architecture)).toEqual(['unet', 'lw_unet', 'blu_net']);
    for (const t of trained) expect(t.bytes).toBeGreaterThan(0);
    const blu = trained.find((t) => t.architecture === 'blu_net');
    expect(blu?.ratioThesis).toBeGreaterThan(1);
    expect(blu?.ratioPacked).toBeGreaterThan(1);
    expect(blu?.packedBytes).toBeGreaterThan(0);
    expect((size.packedCheck as { identical: boolean }).identical).toBe(true);
    expect(size.thesisWidth).toEqual([]);
    const thesis = (await json('artifacts/size_thesis/size.json')).thesisWidth as {
      architecture: string;
      fp32Params: number;
      binaryBits: number;
      mib: number;
      ratioThesis: number;
    }[];
    expect(thesis.find((t) => t.architecture === 'unet')?.fp32Params).toBe(31_030_593);
    expect(thesis.find((t) => t.architecture === 'blu_net')?.binaryBits).toBe(11_780_352);
    expect(thesis.find((t) => t.architecture === 'blu_net')?.ratioThesis).toBeCloseTo(82.71, 1);
  });

  it('measures latency per model and writes the results table', async () => {
    const latency = await json('artifacts/latency/latency.json');
    type Entry = {
      medianMs: number;
      p95Ms: number;
      runs: number;
      runtime: string;
      threads: number;
      peakRssBytes: number;
      check?: { maskDiffs: number; maxAbsDiff: number; pixels: number };
    };
    const models = latency.models as Entry[];
    // U-Net, lw_unet and BLU-Net on tfjs, then the BLU-Net packed on the binary engine.
    expect(models.map((m) => m.runtime)).toEqual(['tfjs', 'tfjs', 'tfjs', 'binary-engine']);
    for (const m of models) {
      expect(m.medianMs).toBeGreaterThan(0);
      expect(m.p95Ms).toBeGreaterThanOrEqual(m.medianMs);
      expect(m.runs).toBe(5);
      expect(m.threads).toBeGreaterThanOrEqual(1);
      expect(m.peakRssBytes).toBeGreaterThan(0);
    }
    // The trained BLU-Net on the engine: same mask as the simulation, probabilities within 1e-4.
    const check = models[3]?.check;
    expect(check?.pixels).toBe(128 * 128);
    expect(check?.maskDiffs).toBe(0);
    expect(check?.maxAbsDiff).toBeLessThan(1e-4);
    const table = await readFile(path.join(project, 'artifacts/report/results.md'), 'utf8');
    // engine: auto in the pipeline: native where its addon is built, else wasm.
    expect(table).toMatch(/packed, binary engine \((?:wasm SIMD|native .+?), 1 thread\): median [0-9.]+ ms/);
    for (const label of [
      'U-Net',
      'lw_unet (hint learning + BCE)',
      'BLU-Net (from distilled lw_unet)',
      'lw_unet (from scratch)',
      'BLU-Net (from scratch)',
    ]) {
      expect(table).toContain(`| ${label} | 4 | 1 |`);
    }
    // The untrained thesis-width (64) models, timed the same way, get their own section with the engine's speed-up.
    const thesis = (await json('artifacts/latency_thesis/latency.json')).models as (Entry & { model: { width: number } })[];
    expect(thesis.map((m) => [m.runtime, m.model.width, m.runs])).toEqual([
      ['tfjs', 64, 2],
      ['tfjs', 64, 2],
      ['tfjs', 64, 2],
      ['binary-engine', 64, 2],
    ]);
    // Untrained, timed with generic weights (seeded noise): many pre-activations lie near 0, where the
    // fp32 summation order decides a sign, so the packed net and the simulation may differ on a few
    // pixels; the trained BLU-Net above must agree exactly. Deterministic for the seeded weights.
    const untrainedCheck = thesis[3]?.check;
    expect(untrainedCheck?.pixels).toBe(128 * 128);
    expect(untrainedCheck?.maskDiffs).toBeLessThan(0.1 * 128 * 128);
    expect(table).toMatch(/### Latency at the thesis width \(64, untrained models, 128², batch 1, 2 runs\)/);
    expect(table).toMatch(
      /blu_net \(width 64, untrained\), packed, binary engine \((?:wasm SIMD|native .+?), 1 thread\): median [0-9.]+ ms/,
    );
    const figure = await sharp(path.join(project, 'artifacts/report/iou-vs-size.png')).metadata();
    expect([figure.format, figure.width]).toEqual(['png', 2000]);
    expect(table).toContain('![Test IoU against model size](iou-vs-size.png)');
  });

  it('trains the equal-budget U-Net to the BLU-Net lineage and reports the fair comparison', async () => {
    const equal = await json('artifacts/pretrain_equal_seed_1/model/blu-model.json');
    const blu = await json('artifacts/binarise_seed_1/model/blu-model.json');
    const unet = await json('artifacts/pretrain_seed_1/model/blu-model.json');
    const lw = await json('artifacts/hint_seed_1/model/blu-model.json');
    expect(equal.label).toBe('U-Net (equal budget)');
    // binarise's lineage: its 2 steps + the lw_unet's (hint 2 + 2 + retraining) + the U-Net's.
    expect(blu.lineageSteps).toBe((lw.lineageSteps as number) + 2);
    expect(equal.lineageSteps).toBe(blu.lineageSteps);
    const phases = (await json('artifacts/pretrain_equal_seed_1/train.json')).phases as { offset: number; history: { step: number }[] }[];
    expect(phases[0]?.offset).toBe(unet.lineageSteps);
    expect((unet.lineageSteps as number) + (phases[0]?.history.at(-1)?.step ?? 0)).toBe(blu.lineageSteps);
    const table = await readFile(path.join(project, 'artifacts/report/results.md'), 'utf8');
    expect(table.split('\n')[0]).toBe('# BLU-Net on BBBC030');
    expect(table).toMatch(/\*\*BLU-Net minus U-Net: [+−][0-9.]+ IoU points, 95 % interval \[[+−][0-9.]+, [+−][0-9.]+\]\*\*/);
    expect(table).toContain('| U-Net (equal budget) | 4 | 1 |');
    expect(table).toMatch(/\| U-Net \| 1 \| (plateau|budget) \| [246] \|/);
    expect(table).toContain('![Validation IoU against optimizer step, every model and seed](learning-curves.png)');
    const curves = await sharp(path.join(project, 'artifacts/report/learning-curves.png')).metadata();
    expect(curves.format).toBe('png');
    const evaluation = await json('artifacts/evaluate_source_pretrain_seed_1/eval.json');
    const training = evaluation.training as { points: { step: number }[]; endedBy: string };
    expect(training.points.map((p) => p.step)).toEqual([2, 4, 6].slice(0, training.points.length));
    expect(['plateau', 'budget']).toContain(training.endedBy);
  });

  it('segments the full-size test images with the packed BLU-Net (predict step)', async () => {
    const summary = await json('artifacts/segment/predict.json');
    expect(summary.model).toContain('binary engine');
    expect(summary.segmented).toBe(summary.images);
    expect(summary.images).toBeGreaterThan(0);
    const masks = await readdir(path.join(project, 'artifacts/segment/masks'));
    expect(masks.filter((m) => m.endsWith('_mask.png'))).toHaveLength(summary.images as number);
    expect(masks.filter((m) => m.endsWith('_overlay.png'))).toHaveLength(summary.images as number);
  });

  it('finds everything fresh on a second run', async () => {
    const second = await run();
    expect(second.exitCode).toBe(0);
    expect(outcomes(second)).toEqual(Object.fromEntries(STEPS.map((s) => [s, 'fresh'])));
  }, 120_000);

  it("plans a second seed as only that seed's steps (and the two aggregates)", async () => {
    const status = await execa(
      'node',
      [
        cli,
        'status',
        'pipelines/blu-net.yaml',
        '-e',
        'experiments/smoke.yaml',
        '--set',
        `data_dir=${dataDir}`,
        '--set',
        'seeds=[1,2]',
        '--json',
      ],
      { cwd: project, reject: false, env: BACKEND_ENV },
    );
    const steps = (JSON.parse(status.stdout) as { steps: { id: string; state: string }[] }).steps;
    expect(
      steps
        .filter((s) => s.state !== 'fresh')
        .map((s) => s.id)
        .sort(),
    ).toEqual([...seedSteps(2), 'pareto', 'report'].sort());
  });

  it('reruns only hint and its dependents when a hint-learning param changes', async () => {
    const changed = await run('--set', 'hint.encoder.steps=4');
    expect(changed.exitCode).toBe(0);
    const got = outcomes(changed);
    const rerun = [
      'hint@seed=1',
      'binarise@seed=1',
      'pretrain_equal@seed=1',
      'evaluate@source=hint,seed=1',
      'evaluate@source=binarise,seed=1',
      'evaluate_equal@seed=1',
      'size',
      'latency',
      'pareto',
      'segment',
      'report',
    ];
    for (const step of STEPS) {
      if (rerun.includes(step)) expect(got[step], step).toBe('ran');
      else expect(['fresh', 'restored'], step).toContain(got[step]);
    }
    const train = await json('artifacts/hint_seed_1/train.json');
    const phases = train.phases as { phase: string; history: unknown[] }[];
    expect(phases[0]?.phase).toBe('hint_encoder');
    expect(phases[0]?.history).toHaveLength(2);
  }, 240_000);

  it('adds a BLU-Net variant as its own steps only, timed and placed on the Pareto table', async () => {
    const variant = '[{name: v1, separable_binarise: true, levels: {activation: 1, conv: 1, depthwise: 1, pointwise: 1}}]';
    const output = await run('--set', `variants=${variant}`);
    expect(output.exitCode, output.stderr).toBe(0);
    const got = outcomes(output);
    const variantSteps = [
      'binarise_variant@variant=v1,seed=1',
      'evaluate_variant@variant=v1,seed=1',
      'latency_variant@variant=v1',
      'latency_variant_thesis@variant=v1',
      'pareto',
    ];
    for (const step of variantSteps) expect(got[step], step).toBe('ran');
    for (const step of STEPS.filter((s) => !variantSteps.includes(s))) expect(['fresh', 'restored'], step).toContain(got[step]);
    // Width 64: U-Net and lw_unet on tfjs and the untrained variant packed only (simulation: false).
    const thesis = (await json('artifacts/latency_variant_thesis_variant_v1/latency.json')).models as {
      runtime: string;
      model: { label: string };
      fileBytes: number;
    }[];
    expect(thesis.map((m) => m.runtime)).toEqual(['tfjs', 'tfjs', 'binary-engine']);
    expect(thesis[2]?.model.label).toBe('blu_net (width 64, untrained, a1c1d1p1, separable binarised), packed, binary engine');
    expect(thesis[2]?.fileBytes).toBeGreaterThan(0);
    const table = await readFile(path.join(project, 'artifacts/pareto/pareto.md'), 'utf8');
    expect(table).toContain('BLU-Net (from distilled lw_unet), variant v1');
    expect(table).toMatch(/^\| (?:\*\*)?U-Net(?:\*\*)? \| fp32/m);
    // The variant's row has both in-step speed-ups at width 64.
    expect(table).toMatch(/variant v1(?:\*\*)? \|.* \| [0-9.]+× \| [0-9.]+× \|$/m);
    const figure = await sharp(path.join(project, 'artifacts/pareto/iou-vs-latency.png')).metadata();
    expect(figure.format).toBe('png');
  }, 300_000);
});
