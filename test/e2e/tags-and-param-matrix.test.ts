// Two small runtime features the seeded BLU-Net experiment relies on, through the real CLI:
// a step reports a tag (`::blu::{"tag":…}`), which is kept with its cache entry and logged to
// MLflow also when the step is later fresh; and a matrix whose values come from a param, where
// adding a value runs only the new instances.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseProtocolLine } from '../../src/runtime/exec/step-protocol.js';
import { CLI, outcomes, TempProject } from '../rig/project.js';

const projects: TempProject[] = [];
afterEach(() => projects.splice(0).forEach((p) => p.dispose()));

const SCRIPT = `const [seed, out] = process.argv.slice(2);
require('node:fs').mkdirSync(require('node:path').dirname(out), { recursive: true });
require('node:fs').writeFileSync(out, String(Number(seed) * 10));
if (seed === '2') console.log('::blu::' + JSON.stringify({ tag: { key: 'blu.collapsed', value: 'seed 2 stayed at 0' } }));
if (seed === '2') console.log('::blu::' + JSON.stringify({ tag: { key: 'blu.warning', value: 'seed 2 collapsed' } }));
console.log('trained seed ' + seed);
`;

const PIPELINE = `name: seeds
params:
  seeds: [1, 2]
steps:
  train:
    matrix: { seed: "\${params.seeds}" }
    run: node train.cjs \${matrix.seed} out/seed-\${matrix.seed}.txt
    outs: ["out/seed-\${matrix.seed}.txt"]
  report:
    needs: [train]
    run: node -e "require('node:fs').writeFileSync('out/report.txt', require('node:fs').readdirSync('out').sort().join(' '))"
    outs: [out/report.txt]
`;

function project(): TempProject {
  const p = new TempProject();
  projects.push(p);
  p.write('train.cjs', SCRIPT);
  p.write('pipeline.yaml', PIPELINE);
  return p;
}

interface StepEnd {
  readonly type: string;
  readonly stepId: string;
  readonly tags?: Record<string, string>;
  readonly logPath?: string;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : [full];
  });
}
const ends = (stdout: string): StepEnd[] =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as StepEnd)
    .filter((e) => e.type === 'step-end');

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`build first: ${CLI} is missing (npm test builds it)`);
});

describe('step tags', () => {
  it('parses tag lines and rejects malformed ones', () => {
    expect(parseProtocolLine('::blu::{"tag":{"key":"a.b","value":"x y"}}')).toEqual({ type: 'tag', key: 'a.b', value: 'x y' });
    expect(parseProtocolLine('::blu::{"tag":{"key":"a","value":3}}')).toBeNull();
    expect(parseProtocolLine('::blu::{"tag":{"key":"","value":"x"}}')).toBeNull();
  });

  it('keeps a reported tag with the cache entry, logs it to MLflow, and not into the step log', async () => {
    const p = project();
    const tracking = `file://${p.path('mlruns')}`;
    const first = await p.cli(['run', 'pipeline.yaml', '--json'], { MLFLOW_TRACKING_URI: tracking });
    expect(first.exitCode, first.stderr).toBe(0);
    const tags = { 'blu.collapsed': 'seed 2 stayed at 0', 'blu.warning': 'seed 2 collapsed' };
    expect(ends(first.stdout).find((e) => e.stepId === 'train@seed=2')?.tags).toEqual(tags);
    expect(first.stdout).toContain('train@seed=2: seed 2 collapsed'); // the blu.warning tag, as a run warning
    expect(ends(first.stdout).find((e) => e.stepId === 'train@seed=1')?.tags).toBeUndefined();
    const second = await p.cli(['run', 'pipeline.yaml', '--json', '--track-noop'], { MLFLOW_TRACKING_URI: tracking });
    const fresh = ends(second.stdout).find((e) => e.stepId === 'train@seed=2');
    expect(fresh?.tags).toEqual(tags);
    // MLflow file store: the run that ran train@seed=2 has the tag on its child run; the second,
    // where it was fresh, lists it (with its tags) in the pipeline run's steps.json.
    const tagFiles = filesUnder(p.path('mlruns')).filter((f) => f.endsWith(path.join('tags', 'blu.collapsed')));
    expect(tagFiles).toHaveLength(1);
    expect(readFileSync(tagFiles[0]!, 'utf8')).toBe('seed 2 stayed at 0');
    const stepLists = filesUnder(p.path('mlruns'))
      .filter((f) => f.endsWith(path.join('artifacts', 'steps.json')))
      .map((f) => JSON.parse(readFileSync(f, 'utf8')) as { steps: { step: string; outcome: string; tags?: object }[] });
    expect(stepLists.flatMap((l) => l.steps).filter((s) => s.step === 'train@seed=2' && s.outcome === 'fresh')).toEqual([
      expect.objectContaining({ tags }),
    ]);
    const logPath = ends(first.stdout).find((e) => e.stepId === 'train@seed=2')?.logPath ?? '';
    const log = readFileSync(logPath, 'utf8');
    expect(log).toContain('trained seed 2');
    expect(log).not.toContain('::blu::');
  });
});

describe('a matrix over a param', () => {
  it('adding a value runs only the new instance', async () => {
    const p = project();
    const first = await p.cli(['run', 'pipeline.yaml', '--json', '--no-track']);
    expect(outcomes(first.stdout)).toEqual({ 'train@seed=1': 'ran', 'train@seed=2': 'ran', report: 'ran' });
    const more = await p.cli(['run', 'pipeline.yaml', '--json', '--no-track', '--set', 'seeds=[1,2,3]']);
    expect(more.exitCode, more.stderr).toBe(0);
    expect(outcomes(more.stdout)).toEqual({ 'train@seed=1': 'fresh', 'train@seed=2': 'fresh', 'train@seed=3': 'ran', report: 'ran' });
    expect(readFileSync(p.path('out/report.txt'), 'utf8')).toBe('seed-1.txt seed-2.txt seed-3.txt');
  });

  it('rejects a param that is not a list, with its position', async () => {
    const p = project();
    const bad = await p.cli(['run', 'pipeline.yaml', '--no-track', '--set', 'seeds=7']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr + bad.stdout).toMatch(/pipeline\.yaml:6:\d+.*matrix 'seed': param 'seeds' must be a list/);
    expect(bad.stderr + bad.stdout).not.toMatch(/\n\s+at /);
  });
});
