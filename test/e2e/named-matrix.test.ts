// A matrix over named configurations, through the real CLI, as the Pareto study (issue 24) uses it:
// the pipeline lists no variants, an overlay (-e) lists them, and adding a variant to the overlay
// runs only the new variant's instances.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cliProjects, outcomes } from '../rig/project.js';

const project = cliProjects();

// Appends every call to calls.log (not an output), so the test sees what really ran.
const TRAIN = `const [name, act, seed, out] = process.argv.slice(2);
const fs = require('node:fs');
fs.appendFileSync('calls.log', name + ' ' + act + ' ' + seed + '\\n');
fs.mkdirSync(require('node:path').dirname(out), { recursive: true });
fs.writeFileSync(out, name + ':' + act + ':' + seed);
`;

const REPORT = `const fs = require('node:fs');
const files = fs.existsSync('out') ? fs.readdirSync('out').sort() : [];
fs.mkdirSync('summary', { recursive: true });
fs.writeFileSync('summary/report.txt', files.length + ' ' + files.join(' '));
`;

const PIPELINE = `name: variants
params:
  seeds: [1, 2]
  variant_list: []
steps:
  train:
    matrix: { variant: "\${params.variant_list}", seed: "\${params.seeds}" }
    run: node train.cjs \${matrix.variant.name} \${matrix.variant.levels.activation} \${matrix.seed} out/\${matrix.variant.name}-\${matrix.seed}.txt
    outs: ["out/\${matrix.variant.name}-\${matrix.seed}.txt"]
  report:
    needs: [train]
    run: node report.cjs
    outs: [summary/report.txt]
`;

const variant = (name: string, act: number): string =>
  `    - { name: ${name}, separable_binarise: true, levels: { activation: ${act}, conv: 3 } }\n`;

function setUp() {
  const p = project();
  p.write('train.cjs', TRAIN);
  p.write('report.cjs', REPORT);
  p.write('pipeline.yaml', PIPELINE);
  p.write('one.yaml', `params:\n  variant_list:\n${variant('sep_a3', 3)}`);
  p.write('two.yaml', `params:\n  variant_list:\n${variant('sep_a3', 3)}${variant('sep_a2', 2)}`);
  return p;
}

const calls = (p: ReturnType<typeof setUp>): string[] => readFileSync(p.path('calls.log'), 'utf8').trim().split('\n');

describe('a matrix over named variants from an overlay', () => {
  it('runs no variant by default, then only the instances of an added variant', async () => {
    const p = setUp();
    const none = await p.cli(['run', 'pipeline.yaml', '--json', '--no-track']);
    expect(none.exitCode, none.stderr).toBe(0);
    expect(outcomes(none.stdout)).toEqual({ report: 'ran' });
    expect(readFileSync(p.path('summary/report.txt'), 'utf8')).toBe('0 ');

    const one = await p.cli(['run', 'pipeline.yaml', '-e', 'one.yaml', '--json', '--no-track']);
    expect(one.exitCode, one.stderr).toBe(0);
    expect(outcomes(one.stdout)).toEqual({ 'train@variant=sep_a3,seed=1': 'ran', 'train@variant=sep_a3,seed=2': 'ran', report: 'ran' });
    expect(calls(p).sort()).toEqual(['sep_a3 3 1', 'sep_a3 3 2']);

    const two = await p.cli(['run', 'pipeline.yaml', '-e', 'two.yaml', '--json', '--no-track']);
    expect(two.exitCode, two.stderr).toBe(0);
    expect(outcomes(two.stdout)).toEqual({
      'train@variant=sep_a3,seed=1': 'fresh',
      'train@variant=sep_a3,seed=2': 'fresh',
      'train@variant=sep_a2,seed=1': 'ran',
      'train@variant=sep_a2,seed=2': 'ran',
      report: 'ran',
    });
    // The train script ran four times in all: twice for sep_a3 (first run), twice for sep_a2.
    expect(calls(p).sort()).toEqual(['sep_a2 2 1', 'sep_a2 2 2', 'sep_a3 3 1', 'sep_a3 3 2']);
    expect(readFileSync(p.path('summary/report.txt'), 'utf8')).toBe('4 sep_a2-1.txt sep_a2-2.txt sep_a3-1.txt sep_a3-2.txt');
  });

  it('says in status and dag that a step has no instances, and refuses it as a target with the reason', async () => {
    const p = setUp();
    const status = await p.cli(['status', 'pipeline.yaml']);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout).toContain("train: no instances (matrix 'variant' is params.variant_list, which is empty)");
    expect(status.stdout).toMatch(/stale\s+report/);
    const dag = await p.cli(['dag', 'pipeline.yaml']);
    expect(dag.stdout).toBe("report\n# train: no instances (matrix 'variant' is params.variant_list, which is empty)");
    const target = await p.cli(['run', 'pipeline.yaml', 'train', '--no-track']);
    expect(target.exitCode).toBe(2);
    expect(target.stderr + target.stdout).toContain("step train: no instances (matrix 'variant' is params.variant_list, which is empty)");
  });

  it('reports a variant without a name in the overlay at its position, exit 2', async () => {
    const p = setUp();
    p.write('bad.yaml', `params:\n  variant_list:\n${variant('sep_a3', 3)}    - { levels: { activation: 1 } }\n`);
    const bad = await p.cli(['run', 'pipeline.yaml', '-e', 'bad.yaml', '--no-track']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr + bad.stdout).toContain("bad.yaml:4:7: matrix 'variant' (params.variant_list), value 2: a mapping needs a 'name'");
    expect(bad.stderr + bad.stdout).toContain("pipeline.yaml:7:24: used by matrix 'variant' here");
    expect(bad.stderr + bad.stdout).not.toMatch(/\n\s+at /); // no stack trace
  });
});
