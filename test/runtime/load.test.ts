import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { formatDiagnostic } from '../../src/runtime/load/diagnostics.js';
import { loadPipeline } from '../../src/runtime/load/load.js';
import type { StepKindDefinition } from '../../src/runtime/kinds/kind.js';
import { loaderWith } from '../rig/load-temp.js';

const trainKind: StepKindDefinition = {
  name: 'train',
  version: '3',
  description: 'test kind',
  withSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['epochs'],
    properties: { epochs: { type: 'integer', minimum: 1 }, teacher: { type: 'string' } },
  },
  declare: ({ stepId, with: w }) => ({
    deps: [],
    outs: [{ path: `out/${stepId}`, cache: true, persist: false, track: false }],
    needs: typeof w === 'object' && w && !Array.isArray(w) && typeof w.teacher === 'string' ? [w.teacher] : [],
  }),
  load: () => Promise.reject(new Error('not needed')),
};

const load = loaderWith(trainKind);

describe('pipeline loading: every problem at once, each at its exact position', () => {
  it('reports unknown keys with did-you-mean, bad types and a missing run/uses together', async () => {
    const { messages } = await load(`steps:
  prep:
    run: echo hi
    dpes: [a.txt]
  train:
    retries: many
  other:
    needs: [prep]
`);
    expect(messages).toEqual([
      "p.yaml:4:5: unknown key 'dpes' in 'steps.prep' (did you mean 'deps'?)",
      "p.yaml:6:14: 'steps.train.retries' must be integer",
    ]);
  });

  it('reports step-level rules after the schema passes: run/uses, unknown needs, unknown params', async () => {
    const { messages } = await load(`params:
  lr: 0.1
  train: { epochs: 3 }
steps:
  a:
    description: nothing to do
  b:
    run: python train.py --lr \${params.lr} --epochs \${params.train.epoch}
    needs: [prepp]
  c:
    run: echo
    needs: [b]
`);
    expect(messages).toEqual([
      "p.yaml:5:3: step 'a' needs exactly one of 'run' (a command) or 'uses' (a step kind)",
      "p.yaml:8:53: unknown param 'train.epoch' (did you mean 'train.epochs'?)",
      "p.yaml:9:13: 'b' needs unknown step 'prepp'",
    ]);
  });

  it('checks with: against the kind schema and suggests kinds', async () => {
    const { messages } = await load(`steps:
  t:
    uses: train
    with:
      epochs: 0
      epoch: 3
  u:
    uses: trian
`);
    expect(messages).toEqual([
      "p.yaml:5:15: 'steps.t.with.epochs' must be >= 1",
      "p.yaml:6:7: unknown key 'epoch' in 'steps.t.with' (did you mean 'epochs'?)",
      "p.yaml:8:11: unknown step kind 'trian' (did you mean 'train'?); known kinds: train",
    ]);
  });

  it('names every edge of a cycle with its position', async () => {
    const { messages } = await load(`steps:
  a:
    run: echo a
    needs: [c]
  b:
    run: echo b
    needs: [a]
  c:
    run: echo c
    needs: [b]
`);
    expect(messages).toEqual([
      "p.yaml:4:13: cycle in the pipeline: a → c → b → a\n  p.yaml:4:13: 'a' needs 'c'\n  p.yaml:10:13: 'c' needs 'b'\n  p.yaml:7:13: 'b' needs 'a'",
    ]);
  });

  it('reports YAML syntax errors with a position and a hint for ${} in flow lists', async () => {
    const { messages } = await load(`steps:
  a:
    run: echo
    outs: [out/\${matrix.k}.txt]
`);
    expect(messages[0]).toMatch(/^p\.yaml:4:\d+: YAML syntax error: .*quote values that contain \$\{…\}/);
  });

  it('refuses outputs outside the project and overlapping outputs', async () => {
    const { messages } = await load(`steps:
  a:
    run: echo
    outs: [../escape.txt, data]
  b:
    run: echo
    outs: [data/sub]
`);
    expect(messages[0]).toMatch(/^p\.yaml:4:12: output '\.\.\/escape\.txt' of step 'a' is outside the project/);
    expect(messages[1]).toMatch(/^p\.yaml:7:12: output 'data\/sub' of step 'b' overlaps the output 'data' of step 'a'/);
  });

  it('keeps deps relative to the project, also outside it, unless they were written absolute', async () => {
    const { result } = await load(`steps:
  a:
    run: echo
    deps: [./in/../in/x.txt, ../shared/data/, /opt/abs.txt]
`);
    expect(result.ok && result.value.steps[0]?.deps).toEqual(['in/x.txt', '../shared/data', '/opt/abs.txt']);
  });
});

describe('params, overlays, --set, interpolation and matrix', () => {
  const base = `params:
  lr: 0.001
  train: { epochs: 20, model: unet }
steps:
  prep:
    run: echo prep
    outs: [data/prep]
  fit:
    matrix:
      model: [unet, lw_unet]
      bits: [1, 2]
    run: [fit, --epochs, "\${params.train.epochs}", --lr, "\${params.lr}", "--model=\${matrix.model}"]
    deps: [data/prep]
    outs: ["models/\${matrix.model}-\${matrix.bits}"]
  kd:
    uses: train
    with: { epochs: "\${params.train.epochs}", teacher: prep }
`;

  it('expands a matrix into instances with stable ids and keeps value types', async () => {
    const { result } = await load(base);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const ids = result.value.steps.map((s) => s.id);
    expect(ids).toEqual([
      'prep',
      'fit@model=unet,bits=1',
      'fit@model=unet,bits=2',
      'fit@model=lw_unet,bits=1',
      'fit@model=lw_unet,bits=2',
      'kd',
    ]);
    const fit = result.value.steps[1]!;
    expect(fit.command).toEqual(['fit', '--epochs', '20', '--lr', '0.001', '--model=unet']);
    expect(fit.params).toEqual({ lr: 0.001, 'train.epochs': 20 });
    expect(fit.needs).toEqual(['prep']); // implied by deps on prep's output
    const kd = result.value.steps[5]!;
    expect(kd.with).toEqual({ epochs: 20, teacher: 'prep' }); // a whole-string reference keeps its number type
    expect(kd.needs).toEqual(['prep']);
    expect(kd.outs[0]!.path).toBe('out/kd');
  });

  it('applies overlays then --set, and rejects unknown params with positions', async () => {
    const { result } = await load(base, { overlays: { 'smoke.yaml': 'params:\n  train: { epochs: 2 }\n' }, sets: ['lr=0.5'] });
    expect(result.ok && result.value.params).toEqual({ lr: 0.5, train: { epochs: 2, model: 'unet' } });
    const bad = await load(base, { overlays: { 'bad.yaml': 'params:\n  train:\n    epoch: 2\n' }, sets: ['train.modle=x', 'oops'] });
    expect(bad.messages).toEqual([
      '--set oops: expected --set <param.path>=<value>, e.g. --set train.epochs=3',
      "--set train.modle=x: unknown param 'train.modle' (did you mean 'train.model'?); no step kind given params.train lists 'modle': to add it anyway, declare it there in the pipeline first",
      "bad.yaml:3:5: unknown param 'train.epoch': the pipeline declares no such param (did you mean 'train.epochs'?); no step kind given params.train lists 'epoch': to add it anyway, declare it there in the pipeline first",
    ]);
    // Outside any declared mapping there is nothing to declare it in: no hint.
    const top = await load(base, { sets: ['nope.x=1'] });
    expect(top.messages).toEqual(["--set nope.x=1: unknown param 'nope.x'"]);
  });
});

describe('YAML alias bombs', () => {
  const bomb = (indent: string): string =>
    [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
    ]
      .map((l) => `${indent}${l}`)
      .join('\n');

  it('are a positioned spec error at the first alias of a nested anchor, in the pipeline and in overlays', async () => {
    const inPipeline = await load(`params:\n${bomb('  ')}\nsteps:\n  s:\n    run: echo hi\n    outs: [o.txt]\n`);
    expect(inPipeline.messages).toEqual([
      expect.stringMatching(/^p\.yaml:4:10: .*YAML aliases expand too much: \*b refers to an anchor that itself holds aliases/),
    ]);
    const inOverlay = await load('steps:\n  s:\n    run: echo hi\n    outs: [o.txt]\n', {
      overlays: { 'x.yaml': `params:\n${bomb('  ')}\n` },
    });
    expect(inOverlay.messages).toEqual([expect.stringMatching(/^x\.yaml:4:10: .*YAML aliases expand too much/)]);
  });

  it('leave ordinary aliases alone', async () => {
    const { result } = await load(
      'params:\n  base: &base { lr: 0.1 }\n  other: *base\nsteps:\n  s:\n    run: echo ${params.other.lr}\n    outs: [o.txt]\n',
    );
    expect(result.ok).toBe(true);
  });
});

describe('a with: value that is one reference: its problems also point where the value was written', () => {
  const pipeline = `params:
  epochs: 3
  runs: []
steps:
  fit:
    uses: train
    matrix: { run: "\${params.runs}" }
    with: { epochs: "\${matrix.run.epochs ?? params.epochs}" }
`;

  it('in the matrix value that supplied it (an overlay), down to the bad field', async () => {
    const { messages } = await load(pipeline, {
      overlays: { 'x.yaml': 'params:\n  runs:\n    - { name: a }\n    - { name: b, epochs: 0 }\n' },
    });
    expect(messages).toEqual([
      "p.yaml:8:21: 'steps.fit.with.epochs' must be >= 1\n  x.yaml:4:26: the value comes from matrix 'run' (b), written here",
    ]);
  });

  it('in the param that supplied it when the matrix value has no such field (the alternative after ??)', async () => {
    const { messages } = await load(pipeline, {
      overlays: { 'x.yaml': 'params:\n  epochs: -1\n  runs: [{ name: a }]\n' },
    });
    expect(messages).toEqual([
      "p.yaml:8:21: 'steps.fit.with.epochs' must be >= 1\n  x.yaml:2:11: the value comes from params.epochs, written here",
    ]);
  });

  it('in the --set that supplied it, which has no file position', async () => {
    const { messages } = await load(pipeline, { overlays: { 'x.yaml': 'params:\n  runs: [{ name: a }]\n' }, sets: ['epochs=0'] });
    expect(messages).toEqual(["p.yaml:8:21: 'steps.fit.with.epochs' must be >= 1\n  --set epochs=0: the value comes from this --set"]);
  });
});

describe('the Pareto overlay (experiments/pareto.yaml)', () => {
  it('adds only variant instances: every instance of the CPU experiment but the pareto step keeps its key', async () => {
    const { builtinRegistry } = await import('../../src/steps/registry.js');
    const { keyComponents, stepKey } = await import('../../src/runtime/plan/keys.js');
    const load = async (overlays: string[]) => {
      const result = await loadPipeline({
        file: 'pipelines/blu-net.yaml',
        cwd: process.cwd(),
        overlays,
        sets: [],
        registry: builtinRegistry(),
        env: { HOME: '/root' },
      });
      if (!result.ok) throw new Error(result.error.map(formatDiagnostic).join('\n'));
      return new Map(result.value.steps.map((s) => [s.id, stepKey(keyComponents(s, {}, {}, undefined))]));
    };
    const cpu = await load(['experiments/cpu.yaml']);
    const pareto = await load(['experiments/cpu.yaml', 'experiments/pareto.yaml']);
    // Only the pareto step, which lists the variants, changes its key.
    for (const [id, key] of cpu) if (id !== 'pareto') expect(pareto.get(id), id).toBe(key);
    expect(pareto.get('pareto')).not.toBe(cpu.get('pareto'));
    const added = [...pareto.keys()].filter((id) => !cpu.has(id));
    const variants = (parse(readFileSync('experiments/pareto.yaml', 'utf8')) as { params: { variants: { name: string }[] } }).params
      .variants;
    expect(variants.length).toBeGreaterThan(0);
    expect(added.filter((id) => id.startsWith('binarise_variant@'))).toHaveLength(3 * variants.length); // × 3 seeds
    for (const { name } of variants) {
      expect(added).toContain(`latency_variant@variant=${name}`);
      expect(added).toContain(`latency_variant_thesis@variant=${name}`);
    }
    expect(added).toHaveLength(8 * variants.length); // binarise and evaluate per seed, two latency steps per variant
  });

  it('trains a variant by its own train block when it has one, else by params.binarise', async () => {
    const { builtinRegistry } = await import('../../src/steps/registry.js');
    const result = await loadPipeline({
      file: 'pipelines/blu-net.yaml',
      cwd: process.cwd(),
      overlays: ['experiments/cpu.yaml', 'experiments/pareto.yaml'],
      sets: [],
      registry: builtinRegistry(),
      env: { HOME: '/root' },
    });
    if (!result.ok) throw new Error(result.error.map(formatDiagnostic).join('\n'));
    const trainOf = (id: string) => (result.value.steps.find((s) => s.id === id)?.with as { train?: unknown } | undefined)?.train;
    const variants = (
      parse(readFileSync('experiments/pareto.yaml', 'utf8')) as { params: { variants: { name: string; train?: unknown }[] } }
    ).params.variants;
    const own = variants.filter((v) => v.train !== undefined);
    expect(own.length).toBeGreaterThan(0);
    for (const v of variants) {
      const expected = v.train ?? trainOf('binarise@seed=1');
      expect(trainOf(`binarise_variant@variant=${v.name},seed=2`), v.name).toEqual(expected);
    }
    expect(trainOf(`binarise_variant@variant=${own[0]!.name},seed=1`)).not.toEqual(trainOf('binarise@seed=1'));
  });
});

describe("what tracking logs as an instance's params", () => {
  it('logs the matrix values and the with: values the ablation really uses (one lr, not the per-model map)', async () => {
    const { builtinRegistry } = await import('../../src/steps/registry.js');
    const result = await loadPipeline({
      file: 'pipelines/blu-net.yaml',
      cwd: process.cwd(),
      overlays: [],
      sets: ['data_dir=/nowhere'],
      registry: builtinRegistry(),
      env: { HOME: '/root' },
    });
    if (!result.ok) throw new Error(result.error.map(formatDiagnostic).join('\n'));
    const byId = new Map(result.value.steps.map((s) => [s.id, s]));
    const blu = byId.get('ablation@model=blu_net,seed=1')!.trackedParams as Record<string, Record<string, unknown>>;
    const lw = byId.get('ablation@model=lw_unet,seed=1')!.trackedParams as Record<string, Record<string, unknown>>;
    expect(blu.matrix).toEqual({ model: 'blu_net', seed: 1 });
    expect(lw.matrix).toEqual({ model: 'lw_unet', seed: 1 });
    expect((blu.with!.train as Record<string, unknown>).lr).toBe(0.0001);
    expect((lw.with!.train as Record<string, unknown>).lr).toBe(0.001);
    expect(blu.with).not.toHaveProperty('lr_by_model');
    expect(blu.with).toHaveProperty('gamma_init');
    expect(lw.with).not.toHaveProperty('gamma_init'); // BLU-Net only
    expect(blu).not.toHaveProperty('ablation.lr.lw_unet');
    // The convergence rule is the full-precision lw_unet's only, folded into its train block.
    expect(blu.with).not.toHaveProperty('convergence');
    expect((blu.with!.train as Record<string, unknown>).steps).toBe(150);
    expect(lw.with).not.toHaveProperty('convergence');
    expect(lw.with!.train).toMatchObject({ steps: 1500, val_every: 50, val_crop: 512, smooth: 3, plateau: { patience: 200 } });
  });

  it("keeps a run: step's referenced params and adds its matrix values", async () => {
    const { result } = await load(`params: { lr: { a: 1, b: 2 } }
steps:
  fit:
    matrix: { m: [a, b] }
    run: [echo, '\${params.lr.a}', '\${matrix.m}']
    outs: ['out/\${matrix.m}.txt']
`);
    if (!result.ok) throw new Error('load failed');
    expect(result.value.steps.find((s) => s.id === 'fit@m=b')!.trackedParams).toEqual({ 'lr.a': 1, matrix: { m: 'b' } });
  });
});
