// The pipeline run's headline metrics, through the real CLI into a file store: a step's results
// (metrics it reported once) become `<step>.<metric>` on the parent run, whether the step ran or
// was fresh; its curves stay on its own child run, whole.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, outcomes, TempProject } from '../rig/project.js';

const projects: TempProject[] = [];
afterEach(() => projects.splice(0).forEach((p) => p.dispose()));

const FIT = `const line = (name, value, step) => console.log('::blu::' + JSON.stringify({ metric: { name, value, step } }));
[0.9, 0.5, 0.3].forEach((loss, step) => line('loss', loss, step));
line('test_iou', 0.81, 0);
require('node:fs').writeFileSync('model.txt', 'weights');
`;

const PIPELINE = `name: headline
steps:
  fit:
    run: node fit.cjs
    outs: [model.txt]
`;

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`build first: ${CLI} is missing (npm test builds it)`);
});

/** Metric files of every run in the store, by run role (`pipeline` or `step`). */
function metricFiles(mlruns: string, role: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const exp of readdirSync(mlruns).filter((d) => /^\d+$/.test(d) && d !== '0')) {
    for (const run of readdirSync(path.join(mlruns, exp), { withFileTypes: true }).filter((e) => e.isDirectory())) {
      const dir = path.join(mlruns, exp, run.name);
      if (readFileSync(path.join(dir, 'tags', 'blu.role'), 'utf8') === role) found.set(dir, readdirSync(path.join(dir, 'metrics')).sort());
    }
  }
  return found;
}

describe('headline metrics', () => {
  it("puts a step's results on the pipeline run, ran or fresh, and leaves its curves on the step's run", async () => {
    const p = new TempProject();
    projects.push(p);
    p.write('fit.cjs', FIT);
    p.write('pipeline.yaml', PIPELINE);
    const env = { MLFLOW_TRACKING_URI: `file://${p.path('mlruns')}` };
    const first = await p.cli(['run', 'pipeline.yaml', '--json'], env);
    expect(first.exitCode, first.stderr).toBe(0);
    const again = await p.cli(['run', 'pipeline.yaml', '--json', '--track-noop'], env); // a no-op records no run by default
    expect(outcomes(again.stdout)).toEqual({ fit: 'fresh' });
    const parents = [...metricFiles(p.path('mlruns'), 'pipeline').values()];
    expect(parents).toEqual([
      ['duration_s', 'fit.test_iou'],
      ['duration_s', 'fit.test_iou'],
    ]);
    const [[stepDir, stepMetrics]] = [...metricFiles(p.path('mlruns'), 'step')] as [[string, string[]]];
    expect(stepMetrics).toEqual(['duration_s', 'loss', 'test_iou']);
    expect(
      readFileSync(path.join(stepDir, 'metrics', 'loss'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(3);
  });
});
