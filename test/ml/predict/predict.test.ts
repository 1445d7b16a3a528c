import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planAxis } from '../../../src/ml/predict/index.js';
import { buildBluNet, buildUnet, exportPackedBluNet, saveModel } from '../../../src/ml/models/index.js';
import { CLI, TempProject } from '../../rig/project.js';
import { useTestBackend } from '../models/setup-backend.js';
import { perturb } from '../engine/fixtures.js';

let p: TempProject;

function greyPng(file: string, width: number, height: number): Promise<unknown> {
  const bytes = Buffer.alloc(width * height);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37 + Math.floor(i / width) * 11) % 256;
  return sharp(bytes, { raw: { width, height, channels: 1 } })
    .png()
    .toFile(file);
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`build first: ${CLI} is missing (npm test builds it)`);
  await useTestBackend();
  p = new TempProject('blu-predict-');
  mkdirSync(p.path('images'));
  mkdirSync(p.path('bad'));
  await greyPng(p.path('images/a.png'), 52, 40);
  await greyPng(p.path('images/b.tif'), 150, 90);
  const colour = Buffer.alloc(20 * 10 * 3);
  for (let i = 0; i < colour.length; i++) colour[i] = i % 3 === 0 ? 200 : 10;
  await sharp(colour, { raw: { width: 20, height: 10, channels: 3 } })
    .png()
    .toFile(p.path('bad/colour.png'));
  writeFileSync(p.path('bad/broken.png'), 'not an image');
  const blu = buildBluNet({ baseFilters: 4, levels: 3, seed: 2 });
  perturb(blu, 2);
  const packed = await exportPackedBluNet(blu, p.path('blu.blupack'));
  if (!packed.ok) throw new Error(packed.error.message);
  const savedBlu = await saveModel(blu, p.path('artifacts/binarise/model'));
  if (!savedBlu.ok) throw new Error(savedBlu.error.message);
  blu.dispose();
  const unet = buildUnet({ baseFilters: 2, levels: 2 });
  const saved = await saveModel(unet, p.path('artifacts/pretrain/model'));
  if (!saved.ok) throw new Error(saved.error.message);
  const savedSeed = await saveModel(unet, p.path('artifacts/binarise_seed_1/model'));
  if (!savedSeed.ok) throw new Error(savedSeed.error.message);
  unet.dispose();
  p.write('pipelines/x.yaml', 'name: x\nsteps:\n  pretrain:\n    run: [echo]\n  binarise:\n    run: [echo]\n  other:\n    run: [echo]\n');
  writeFileSync(p.path('not-a-model.bin'), 'hello');
  // Matrix steps, as in pipelines/blu-net.yaml: a model per seed, and measure_seed names the one measured.
  p.write(
    'pipelines/m.yaml',
    [
      'name: m',
      'params: { seeds: [1, 2, 3], measure_seed: 1 }',
      'steps:',
      '  binarise:',
      '    matrix: { seed: "${params.seeds}" }',
      '    run: [echo, "${matrix.seed}"]',
      '  ablation:',
      '    matrix: { model: [a, b], seed: "${params.seeds}" }',
      '    run: [echo, "${matrix.model}"]',
      '  report:',
      '    run: [echo]',
      '    outs: [out/report.txt]',
      '',
    ].join('\n'),
  );
  p.write('experiments/two.yaml', 'params: { measure_seed: 2 }\n');
});
afterAll(() => p.dispose());

async function pngInfo(file: string) {
  const meta = await sharp(file).metadata();
  const { data } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { width: meta.width, height: meta.height, channels: meta.channels, values: new Set(data) };
}

describe('tile plan', () => {
  it('covers every pixel once, with the requested overlap and model-friendly sizes', () => {
    for (const [length, tile, overlap, multiple] of [
      [1000, 256, 32, 16],
      [257, 256, 64, 16],
      [90, 64, 16, 4],
      [40, 512, 64, 4],
      [37, 512, 64, 8],
    ] as const) {
      const tiles = planAxis(length, tile, overlap, multiple);
      expect(tiles[0]?.ownStart).toBe(0);
      expect(tiles.at(-1)?.ownEnd).toBe(length);
      tiles.forEach((t, i) => {
        expect(t.size % multiple).toBe(0);
        expect(t.ownStart).toBeGreaterThanOrEqual(t.start);
        expect(t.ownEnd).toBeLessThanOrEqual(t.start + t.size);
        const next = tiles[i + 1];
        if (next) {
          expect(next.ownStart).toBe(t.ownEnd);
          expect(t.start + t.size - next.start).toBeGreaterThanOrEqual(overlap);
          // Neither tile's border lies within overlap/2 of where the other takes over.
          expect(t.start + t.size - t.ownEnd).toBeGreaterThanOrEqual(Math.floor(overlap / 2));
          expect(next.ownStart - next.start).toBeGreaterThanOrEqual(Math.floor(overlap / 2));
        }
      });
    }
  });
});

describe('blu-pipe predict', () => {
  it('segments a folder with a packed BLU-Net on the binary engine, tiling the large image, with overlays', async () => {
    const r = await p.cli(['predict', 'blu.blupack', 'images', '--out', 'out', '--overlay', '--tile', '64', '--overlap', '16']);
    expect(r.stderr).toContain('binary engine');
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/\[2\/2\] images\/b\.tif → out\/b_mask\.png, out\/b_overlay\.png \(6 tiles/);
    const mask = await pngInfo(p.path('out/b_mask.png'));
    expect([mask.width, mask.height, mask.channels]).toEqual([150, 90, 1]);
    for (const v of mask.values) expect([0, 255]).toContain(v);
    const overlay = await pngInfo(p.path('out/a_overlay.png'));
    expect([overlay.width, overlay.height, overlay.channels]).toEqual([52, 40, 3]);
  });

  it('runs the binary engine on the thread count --threads asks for, with the same masks', async () => {
    const one = await p.cli([
      'predict',
      'blu.blupack',
      'images/b.tif',
      '--out',
      'out-t1',
      '--tile',
      '64',
      '--overlap',
      '16',
      '--threads',
      '1',
    ]);
    expect(one.exitCode).toBe(0);
    expect(one.stderr).toContain('1 thread(s)');
    const three = await p.cli([
      'predict',
      'blu.blupack',
      'images/b.tif',
      '--out',
      'out-t3',
      '--tile',
      '64',
      '--overlap',
      '16',
      '--threads',
      '3',
    ]);
    expect(three.stderr).toContain('3 thread(s)');
    const [a, b] = await Promise.all(
      ['out-t1', 'out-t3'].map((d) =>
        sharp(p.path(`${d}/b_mask.png`))
          .raw()
          .toBuffer(),
      ),
    );
    expect(a?.equals(b as Buffer)).toBe(true);
    expect((await p.cli(['predict', 'blu.blupack', 'images', '--out', 'x', '--threads', '0'])).exitCode).toBe(2);
  });

  it('runs the kernels --engine asks for: wasm always, native when built, auto saying which; rejects others with exit 2', async () => {
    const wasm = await p.cli(['predict', 'blu.blupack', 'images/a.png', '--out', 'out-wasm', '--engine', 'wasm', '--threads', '1']);
    expect(wasm.exitCode).toBe(0);
    expect(wasm.stderr).toContain('wasm SIMD (AssemblyScript) (--engine wasm)');
    const auto = await p.cli(['predict', 'blu.blupack', 'images/a.png', '--out', 'out-auto', '--engine', 'auto', '--threads', '1']);
    expect(auto.exitCode).toBe(0);
    expect(auto.stderr).toMatch(/--engine auto/);
    const native = await p.cli(['predict', 'blu.blupack', 'images/a.png', '--out', 'out-native', '--engine', 'native', '--threads', '1']);
    if (native.exitCode === 0) {
      expect(native.stderr).toMatch(/binary engine \(native /);
      expect(auto.stderr).toMatch(/binary engine \(native /);
    } else {
      expect(native.exitCode).toBe(1);
      expect(native.stderr).toMatch(/native engine/);
      expect(auto.stderr).toMatch(/native unavailable/);
    }
    const bad = await p.cli(['predict', 'blu.blupack', 'images/a.png', '--out', 'x', '--engine', 'gpu']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("--engine must be one of wasm, native, auto, got 'gpu'");
  });

  it('segments with a saved tfjs model named by --from <pipeline>:<step>', async () => {
    const r = await p.cli(['predict', '--from', 'pipelines/x.yaml:pretrain', 'images/a.png', '--out', 'out-unet']);
    expect(r.stderr).toContain('saved tfjs model');
    expect(r.exitCode).toBe(0);
    expect((await pngInfo(p.path('out-unet/a_mask.png'))).width).toBe(52);
  });

  it('--from a step with several instances takes the measure_seed one of the experiment -e names, or lists them', async () => {
    const measured = await p.cli(['predict', '--from', 'pipelines/m.yaml:binarise', 'images/a.png', '--out', 'out-m']);
    expect(measured.exitCode, measured.stderr).toBe(0);
    expect(measured.stderr).toContain(
      "--from: 'binarise' has 3 instances; using binarise@seed=1 (measure_seed 1); others: binarise@seed=2, binarise@seed=3",
    );
    // The experiment decides: its measure_seed 2 names an instance that has not run.
    const two = await p.cli([
      'predict',
      '--from',
      'pipelines/m.yaml:binarise',
      '-e',
      'experiments/two.yaml',
      'images/a.png',
      '--out',
      'out-m2',
    ]);
    expect(two.exitCode).toBe(2);
    expect(two.stderr).toContain(
      "--from: step 'binarise@seed=2' has no saved model at artifacts/binarise_seed_2/model; run 'blu-pipe run pipelines/m.yaml -e experiments/two.yaml binarise@seed=2' first",
    );
    // What the lock records as run is never to be "run first": it is restored.
    p.write(
      'pipelines/m.lock',
      JSON.stringify({
        schema: 2,
        pipeline: 'pipelines/m.yaml',
        experiments: {
          'experiments/two.yaml': {
            steps: { 'binarise@seed=2': { key: 'k'.repeat(64), components: {}, outputs: [], runId: '20261201-000000-abcd' } },
          },
        },
      }),
    );
    const ran = await p.cli([
      'predict',
      '--from',
      'pipelines/m.yaml:binarise',
      '-e',
      'experiments/two.yaml',
      'images/a.png',
      '--out',
      'out-m2',
    ]);
    expect(ran.stderr).toContain(
      "--from: step 'binarise@seed=2' ran (pipelines/m.lock records run 20261201-000000-abcd), but its model is not at artifacts/binarise_seed_2/model; 'blu-pipe run pipelines/m.yaml -e experiments/two.yaml binarise@seed=2' restores it",
    );
    const several = await p.cli(['predict', '--from', 'pipelines/m.yaml:ablation', 'images/a.png', '--out', 'o']);
    expect(several.exitCode).toBe(2);
    expect(several.stderr).toContain(
      "--from: step 'ablation' has 6 instances; name one, e.g. pipelines/m.yaml:ablation@model=a,seed=1. Instances: ablation@model=a,seed=1, ",
    );
    const noModel = await p.cli(['predict', '--from', 'pipelines/m.yaml:report', 'images/a.png', '--out', 'o']);
    expect([noModel.exitCode, noModel.stderr]).toEqual([
      2,
      expect.stringContaining("--from: step 'report' saves no model (its outputs: out/report.txt)"),
    ]);
    const exact = await p.cli(['predict', '--from', 'pipelines/m.yaml:binarise@seed=1', 'images/a.png', '--out', 'out-m1']);
    expect([exact.exitCode, exact.stderr.includes('instances')]).toEqual([0, false]);
  });

  it('packs a saved BLU-Net for the binary engine, or runs its simulation with --simulate; both give the same masks', async () => {
    const engine = await p.cli(['predict', '--from', 'pipelines/x.yaml:binarise', 'images/a.png', '--out', 'out-blu']);
    expect(engine.exitCode).toBe(0);
    expect(engine.stderr).toContain('packed BLU-Net (width 4) on the binary engine');
    const simulated = await p.cli(['predict', '--from', 'pipelines/x.yaml:binarise', 'images/a.png', '--out', 'out-sim', '--simulate']);
    expect(simulated.exitCode).toBe(0);
    expect(simulated.stderr).toContain('saved tfjs model');
    const [a, b] = await Promise.all(
      ['out-blu', 'out-sim'].map((d) =>
        sharp(p.path(`${d}/a_mask.png`))
          .raw()
          .toBuffer(),
      ),
    );
    expect(a?.equals(b as Buffer)).toBe(true);
  });

  it('reports unreadable and colour images per file and exits 1', async () => {
    const r = await p.cli(['predict', 'blu.blupack', 'bad', 'images/a.png', '--out', 'out-bad']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/bad\/broken\.png: cannot read it as an image/);
    expect(r.stderr).toMatch(/bad\/colour\.png: a colour image \(3 channels, differing at x=0, y=0\); the models take one grey channel/);
    expect(r.stderr).toContain('2 of 3 image(s) failed; 1 segmented');
    expect(existsSync(p.path('out-bad/a_mask.png'))).toBe(true);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('rejects what is not a model, a step without output and missing arguments with exit 2', async () => {
    const notModel = await p.cli(['predict', 'not-a-model.bin', 'images', '--out', 'o']);
    expect(notModel.exitCode).toBe(2);
    expect(notModel.stderr).toContain('not-a-model.bin: not a model file; expected a saved model folder');
    const folder = await p.cli(['predict', 'images', 'images', '--out', 'o']);
    expect(folder.exitCode).toBe(2);
    expect(folder.stderr).toContain('a folder without model.json is not a model');
    const noStep = await p.cli(['predict', '--from', 'pipelines/x.yaml:segment', 'images', '--out', 'o']);
    expect(noStep.exitCode).toBe(2);
    expect(noStep.stderr).toContain("pipelines/x.yaml has no step 'segment'");
    const notRun = await p.cli(['predict', '--from', 'pipelines/x.yaml:other', 'images', '--out', 'o']);
    expect(notRun.exitCode).toBe(2);
    expect(notRun.stderr).toContain(
      "step 'other' has no saved model at artifacts/other/model; run 'blu-pipe run pipelines/x.yaml other' first",
    );
    const noOut = await p.cli(['predict', 'blu.blupack', 'images']);
    expect(noOut.exitCode).toBe(2);
    expect(noOut.stderr).toContain('missing --out DIR');
    const badTile = await p.cli(['predict', 'blu.blupack', 'images', '--out', 'o', '--tile', '30']);
    expect(badTile.exitCode).toBe(2);
    expect(badTile.stderr).toContain('--tile 30 must be a multiple of 4');
  });
});
