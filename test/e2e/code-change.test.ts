/**
 * Editing a built module's code reruns exactly the kinds whose module graph holds it ("code changed");
 * a comment does not.
 * Works on a copy of the built CLI (dist/ and the schemas, node_modules linked), edited like an
 * upgrade would, with a real `dataset` step on a few BBBC030 images.
 */
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { CodeHasher } from '../../src/runtime/kinds/code-hash.js';
import { dataDir, hasData } from '../ml/data/data-dir.js';
import { CLI, REPO, TempProject } from '../rig/project.js';

const install = mkdtempSync(path.join(os.tmpdir(), 'blu-install-'));
const project = new TempProject();
afterAll(() => {
  project.dispose();
  rmSync(install, { recursive: true, force: true });
});

function copyInstall(): string {
  cpSync(path.join(REPO, 'dist'), path.join(install, 'dist'), { recursive: true });
  mkdirSync(path.join(install, 'src'));
  cpSync(path.join(REPO, 'src/schemas'), path.join(install, 'src/schemas'), { recursive: true });
  cpSync(path.join(REPO, 'package.json'), path.join(install, 'package.json'));
  symlinkSync(path.join(REPO, 'node_modules'), path.join(install, 'node_modules'));
  return path.join(install, 'dist/src/cli/main.js');
}

interface StatusJson {
  steps: { id: string; state: string; reasons: { kind: string; detail?: string }[] }[];
}

describe.skipIf(!hasData || !existsSync(CLI))('code changes invalidate built-in kinds', () => {
  it('an edit outside a kind\'s module graph keeps it fresh; an edit inside reruns it with "code changed"', async () => {
    const cli = copyInstall();
    const blu = (...args: string[]) =>
      execa(process.execPath, [cli, ...args], { cwd: project.dir, reject: false, env: { MLFLOW_TRACKING_URI: '' } });
    project.write(
      'p.yaml',
      `steps:
  data:
    uses: dataset
    with: { path: ${JSON.stringify(dataDir)}, layout: split-folders, scale: 0.125, max_images: { train: 1, validation: 1, test: 1 } }
  count:
    needs: [data]
    run: [node, -e, "require('fs').writeFileSync('count.txt', String(require('fs').readdirSync('artifacts/data/data/train/images').length))"]
    outs: [count.txt]
`,
    );
    expect((await blu('run', 'p.yaml', '--no-track')).exitCode).toBe(0);

    const hasher = new CodeHasher();
    const entry = (name: string): string => path.join(install, `dist/src/steps/blu-net/impl/${name}.js`);
    const datasetFiles = await hasher.graphFiles(entry('dataset'));
    const trainingOnly = (await hasher.graphFiles(entry('train-steps'))).find(
      (f) => f.includes('/ml/train/') && !datasetFiles.includes(f),
    )!;
    const datasetOnly = datasetFiles.find((f) => f.includes('/ml/data/') && f !== entry('dataset'))!;
    expect([trainingOnly, datasetOnly].every(Boolean)).toBe(true);

    appendFileSync(datasetOnly, '\n// a comment mended in data code: no behaviour, no rerun\n');
    appendFileSync(trainingOnly, '\nexport const probe = 1; // a change to training code only\n');
    const untouched = JSON.parse((await blu('status', 'p.yaml', '--json')).stdout) as StatusJson;
    expect(untouched.steps.map((s) => s.state)).toEqual(['fresh', 'fresh']);

    appendFileSync(datasetOnly, '\nexport const probe = 2; // a change to data code\n');
    const touched = JSON.parse((await blu('status', 'p.yaml', '--json')).stdout) as StatusJson;
    expect(touched.steps[0]).toMatchObject({
      id: 'data',
      state: 'stale',
      reasons: [{ kind: 'code-changed', detail: expect.stringMatching(/^kind dataset: [0-9a-f]{12} → [0-9a-f]{12}$/) }],
    });
    expect(touched.steps[1]).toMatchObject({ id: 'count', state: 'stale', reasons: [{ kind: 'upstream-changed', step: 'data' }] });
    const rerun = await blu('run', 'p.yaml', '--no-track');
    expect(rerun.exitCode).toBe(0);
    expect(rerun.stderr).toMatch(/▶ data: run \(code changed \(kind dataset: /);
  });
});
