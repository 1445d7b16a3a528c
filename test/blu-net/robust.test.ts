// The robustness check at smoke scale, with the real CLI: experiments/robust.yaml derives from
// BBBC030 a set that looks like another DIC data set (9/3/3 images of 640x480 before scaling, cells
// magnified x2, ~9 % foreground), and the U-Net trains and is evaluated on it. Needs `npm run build`
// and the data folder (BLU_DATA_DIR, default ../shared/data/bbbc030 next to the repository).
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const cli = path.join(repo, 'dist', 'src', 'cli', 'main.js');
const dataDir = path.resolve(repo, process.env.BLU_DATA_DIR ?? '../shared/data/bbbc030');
const skip = !existsSync(path.join(dataDir, 'train', 'images')) || !existsSync(cli);
if (skip) console.warn(`[blu-net robust skipped] needs ${dataDir} and ${cli}`);

let project = '';
let run: { exitCode: number; stdout: string; stderr: string };

async function json(rel: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path.join(project, rel), 'utf8')) as Record<string, unknown>;
}

describe.skipIf(skip)('robustness check at smoke scale (derived data set)', () => {
  beforeAll(async () => {
    project = await mkdtemp(path.join(os.tmpdir(), 'blu-net-robust-'));
    for (const dir of ['pipelines', 'experiments', '.blu']) await mkdir(path.join(project, dir));
    await copyFile(path.join(repo, 'pipelines', 'blu-net.yaml'), path.join(project, 'pipelines', 'blu-net.yaml'));
    for (const file of ['smoke.yaml', 'robust.yaml'])
      await copyFile(path.join(repo, 'experiments', file), path.join(project, 'experiments', file));
    // The pinned data set's manifest (the dataset step's key), at the path the pipeline names.
    await mkdir(path.join(project, 'src/steps/blu-net'), { recursive: true });
    await copyFile(path.join(repo, 'src/steps/blu-net/bbbc030-sources.tsv'), path.join(project, 'src/steps/blu-net/bbbc030-sources.tsv'));
    const args = [
      cli,
      'run',
      'pipelines/blu-net.yaml',
      '-e',
      'experiments/smoke.yaml',
      '-e',
      'experiments/robust.yaml',
      '--set',
      `data_dir=${dataDir}`,
      '--set',
      'data.max_images={train: 9, validation: 3, test: 3}',
      '--no-track',
      '--json',
      'evaluate@source=pretrain,seed=1',
    ];
    const result = await execa('node', args, { cwd: project, reject: false, env: { BLU_BACKEND: process.env.BLU_BACKEND ?? 'wasm' } });
    run = { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
  }, 300_000);

  afterAll(async () => {
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('derives 9/3/3 images at 640x480 x scale with large cells and ~9 % foreground', async () => {
    expect(run.exitCode, run.stderr).toBe(0);
    const summary = await json('artifacts/dataset/summary.json');
    const splits = summary.splits as Record<
      string,
      { images: number; foregroundFraction: number; width: { min: number; max: number }; height: { max: number } }
    >;
    expect([splits.train?.images, splits.validation?.images, splits.test?.images]).toEqual([9, 3, 3]);
    expect([splits.train?.width.min, splits.train?.width.max, splits.train?.height.max]).toEqual([160, 160, 120]); // 640x480 at smoke scale 0.25
    for (const split of Object.values(splits)) {
      expect(split.foregroundFraction).toBeGreaterThan(0.05); // BBBC030 itself: ~0.02
      expect(split.foregroundFraction).toBeLessThan(0.2);
    }
    expect(summary.derive).toMatchObject({ width: 640, height: 480, zoom: 2 });
  });

  it('trains and evaluates the U-Net on it; a collapse is marked, never silent', async () => {
    const evaluation = await json('artifacts/evaluate_source_pretrain_seed_1/eval.json');
    expect(evaluation.images).toBe(3);
    const info = await json('artifacts/pretrain_seed_1/model/blu-model.json');
    const end = run.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type: string; stepId?: string; tags?: Record<string, string> })
      .find((e) => e.type === 'step-end' && e.stepId === 'pretrain@seed=1');
    expect(end?.tags?.['blu.collapsed']).toBe(info.collapsed as string | undefined);
    if (evaluation.collapsed !== undefined) expect(run.stdout).toContain('collapsed');
  });
});
