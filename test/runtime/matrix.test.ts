// Matrices over named configurations (mapping values with a `name`) and over empty lists, as the
// Pareto study of issue 24 uses them: ids, interpolation of fields, errors with positions, and the
// keys of existing instances staying the same when a variant is added.
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/runtime/load/diagnostics.js';
import type { StepKindDefinition } from '../../src/runtime/kinds/kind.js';
import { keyComponents, stepKey } from '../../src/runtime/plan/keys.js';
import type { StepInstance } from '../../src/runtime/pipeline.js';
import { loaderWith } from '../rig/load-temp.js';

/** A kind that reads the names of the steps it consumes from `with.evaluations`, like `report`. */
const reportKind: StepKindDefinition = {
  name: 'collect',
  version: '1',
  description: 'test kind',
  withSchema: { type: 'object', properties: { evaluations: { type: 'array', items: { type: 'string' } } } },
  declare: ({ stepId, with: w }) => ({
    deps: [],
    outs: [{ path: `out/${stepId}`, cache: true, persist: false, track: false }],
    needs: typeof w === 'object' && w !== null && !Array.isArray(w) && Array.isArray(w.evaluations) ? w.evaluations.map(String) : [],
  }),
  load: () => Promise.reject(new Error('not needed')),
};

const load = loaderWith(reportKind);

function steps(result: Awaited<ReturnType<typeof load>>['result']): StepInstance[] {
  if (!result.ok) throw new Error(result.error.map(formatDiagnostic).join('\n'));
  return [...result.value.steps];
}

const PIPELINE = `params:
  seeds: [1, 2]
  variant_list:
    - { name: sep_a3, separable_binarise: true, levels: { activation: 3, conv: 3 } }
    - { name: plain_a2, separable_binarise: false, levels: { activation: 2, conv: 4 } }
steps:
  binarise_variant:
    matrix: { variant: "\${params.variant_list}", seed: "\${params.seeds}" }
    run: [train, --name, "\${matrix.variant.name}", --act, "\${matrix.variant.levels.activation}", "--levels=\${matrix.variant.levels.conv}", "--seed=\${matrix.seed}"]
    outs: ["out/\${matrix.variant.name}-\${matrix.seed}"]
  report:
    uses: collect
    with: { evaluations: [binarise_variant] }
  after:
    needs: [binarise_variant]
    run: [echo, done]
`;

describe('a matrix over named mappings', () => {
  it('names instances by the mapping name and reads its fields, typed when a string is one reference', async () => {
    const all = steps((await load(PIPELINE)).result);
    expect(all.map((s) => s.id)).toEqual([
      'binarise_variant@variant=sep_a3,seed=1',
      'binarise_variant@variant=sep_a3,seed=2',
      'binarise_variant@variant=plain_a2,seed=1',
      'binarise_variant@variant=plain_a2,seed=2',
      'report',
      'after',
    ]);
    const first = all[0]!;
    expect(first.command).toEqual(['train', '--name', 'sep_a3', '--act', '3', '--levels=3', '--seed=1']);
    expect(first.outs.map((o) => o.path)).toEqual(['out/sep_a3-1']);
    expect(first.matrix).toEqual({
      variant: { name: 'sep_a3', separable_binarise: true, levels: { activation: 3, conv: 3 } },
      seed: 1,
    });
    expect(all[4]!.needs).toEqual(all.slice(0, 4).map((s) => s.id));
    expect(all[5]!.needs).toEqual(all.slice(0, 4).map((s) => s.id));
  });

  it('passes a whole sub-mapping with its type to with:, and only the instance its own value', async () => {
    const yaml = `params:
  variant_list: [{ name: a, levels: { activation: 3 } }, { name: b, levels: { activation: 2 } }]
steps:
  v:
    matrix: { variant: "\${params.variant_list}" }
    uses: collect
    with: { levels: "\${matrix.variant.levels}", whole: "\${matrix.variant}", label: "v-\${matrix.variant.name}" }
`;
    const all = steps((await load(yaml)).result);
    expect(all.map((s) => s.with)).toEqual([
      { levels: { activation: 3 }, whole: { name: 'a', levels: { activation: 3 } }, label: 'v-a' },
      { levels: { activation: 2 }, whole: { name: 'b', levels: { activation: 2 } }, label: 'v-b' },
    ]);
    // Neither the list param nor the other variant: the key cannot change when the list grows.
    expect(all.map((s) => s.params)).toEqual([{}, {}]);
  });

  it('takes the first set alternative of ${a ?? b}, typed, and keys only the param it read', async () => {
    const yaml = `params:
  start: calibrated
  lr: 0.5
  variant_list: [{ name: a, start: matched }, { name: b }]
steps:
  v:
    matrix: { variant: "\${params.variant_list}" }
    uses: collect
    with: { start: "\${matrix.variant.start ?? params.start}", lr: "\${ matrix.variant.lr ?? params.lr }", label: "\${matrix.variant.start ?? env.NOPE ?? params.start}-x" }
`;
    const all = steps((await load(yaml)).result);
    expect(all.map((s) => s.with)).toEqual([
      { start: 'matched', lr: 0.5, label: 'matched-x' },
      { start: 'calibrated', lr: 0.5, label: 'calibrated-x' },
    ]);
    // a's start comes from its own value, so params.start is not in its key; b's is.
    expect(all.map((s) => s.params)).toEqual([{ lr: 0.5 }, { lr: 0.5, start: 'calibrated' }]);
  });

  it('reports ${a ?? b} with none set at the last alternative, and a malformed one as bad syntax', async () => {
    const { messages } = await load(`params: { start: x }
steps:
  v:
    matrix: { variant: [{ name: a }] }
    run: [echo, "\${matrix.variant.start ?? params.strat}", "\${params.start ??}"]
`);
    expect(messages).toEqual([
      "p.yaml:5:44: unknown param 'strat' (did you mean 'start'?)",
      expect.stringMatching(/^p\.yaml:5:\d+: bad reference '\$\{params\.start \?\?\}': write/),
    ]);
  });

  it('keeps the keys of existing instances when an overlay adds a variant', async () => {
    const yaml = `params:
  variant_list: [{ name: a, levels: { activation: 3 } }]
steps:
  v:
    matrix: { variant: "\${params.variant_list}" }
    run: [train, "\${matrix.variant.levels.activation}"]
    outs: ["out/\${matrix.variant.name}"]
`;
    const overlay =
      'params:\n  variant_list:\n    - { name: a, levels: { activation: 3 } }\n    - { name: b, levels: { activation: 1 } }\n';
    const keyOf = (s: StepInstance): string => stepKey(keyComponents(s, {}, {}, undefined));
    const before = steps((await load(yaml)).result);
    const after = steps((await load(yaml, { overlays: { 'more.yaml': overlay } })).result);
    expect(after.map((s) => s.id)).toEqual(['v@variant=a', 'v@variant=b']);
    expect(keyOf(after[0]!)).toBe(keyOf(before[0]!));
    expect(keyOf(after[1]!)).not.toBe(keyOf(after[0]!));
  });

  it('accepts named mappings written in the matrix itself', async () => {
    const yaml = `steps:
  v:
    matrix: { variant: [{ name: x, n: 1 }, { name: y, n: 2 }] }
    run: [echo, "\${matrix.variant.n}"]
    outs: ["out/\${matrix.variant.name}"]
`;
    expect(steps((await load(yaml)).result).map((s) => [s.id, s.command])).toEqual([
      ['v@variant=x', ['echo', '1']],
      ['v@variant=y', ['echo', '2']],
    ]);
  });
});

describe('bad matrix values: every problem at once, where the value was written', () => {
  it('reports a missing name, a repeated name and a bad name in the params, with the matrix as related, and no needs error', async () => {
    const { messages } = await load(`params:
  variant_list:
    - { levels: 3 }
    - { name: a }
    - { name: a }
    - { name: "sep a3" }
steps:
  v:
    matrix: { variant: "\${params.variant_list}" }
    run: [echo, "\${matrix.variant.name}"]
    outs: ["out/\${matrix.variant.name}"]
  w:
    run: [echo, "\${params.nope}"]
  after_v:
    needs: [v]
    run: [echo]
`);
    const used = "\n  p.yaml:9:24: used by matrix 'variant' here";
    expect(messages).toEqual([
      `p.yaml:3:7: matrix 'variant' (params.variant_list), value 1: a mapping needs a 'name' (it names the instances, e.g. name: sep_a3)${used}`,
      `p.yaml:5:15: matrix 'variant' (params.variant_list), value 3: 'a' repeats value 2; values must be distinct${used}`,
      `p.yaml:6:15: matrix 'variant' (params.variant_list), value 4: name "sep a3" must be letters, digits, '_', '.' or '-' (not first: '.' or '-'), as it becomes part of instance ids${used}`,
      "p.yaml:13:18: unknown param 'nope'",
    ]);
  });

  it('points into the overlay that wrote the list', async () => {
    const { messages } = await load(
      `params:
  variant_list: []
steps:
  v:
    matrix: { variant: "\${params.variant_list}" }
    run: [echo, "\${matrix.variant.name}"]
    outs: ["out/\${matrix.variant.name}"]
`,
      { overlays: { 'x.yaml': 'params:\n  variant_list:\n    - { name: a }\n    - [1, 2]\n' } },
    );
    expect(messages).toEqual([
      `x.yaml:4:7: matrix 'variant' (params.variant_list), value 2: must be a string, number, boolean or a mapping with a 'name' (it is [1,2])\n  p.yaml:5:24: used by matrix 'variant' here`,
    ]);
  });

  it('reports bad values of a matrix written inline at the value, and a list given by --set at the matrix', async () => {
    const inline = await load(`steps:
  v:
    matrix: { variant: [{ name: x }, { n: 2 }] }
    run: [echo]
    outs: ["out/\${matrix.variant.name}"]
`);
    expect(inline.messages).toEqual([
      "p.yaml:3:38: matrix 'variant', value 2: a mapping needs a 'name' (it names the instances, e.g. name: sep_a3)",
    ]);
    const set = await load(
      `params:\n  l: [a]\nsteps:\n  v:\n    matrix: { k: "\${params.l}" }\n    run: [echo]\n    outs: ["out/\${matrix.k}"]\n`,
      { sets: ['l=[a, a]'] },
    );
    expect(set.messages).toEqual([
      "p.yaml:5:18: matrix 'k' (params.l), value 2: 'a' repeats value 1; values must be distinct (the list is given by --set)",
    ]);
  });

  it('names the value that lacks a field, once, without the errors that follow from it', async () => {
    const { messages } = await load(
      `params:
  variant_list: []
steps:
  v:
    matrix: { variant: "\${params.variant_list}", seed: [1] }
    uses: collect
    with: { start: "\${matrix.variant.start}" }
  w:
    matrix: { variant: "\${params.variant_list}" }
    needs: ["v@variant=\${matrix.variant.name},seed=1"]
    run: [echo, "\${matrix.variant.strat}"]
`,
      { overlays: { 'x.yaml': 'params:\n  variant_list:\n    - { name: a, start: s }\n    - { name: b, levels: 2 }\n' } },
    );
    expect(messages).toEqual([
      "p.yaml:7:21: matrix 'variant': value 'b' has no 'start'; it has name, levels\n  x.yaml:4:7: value 'b' is written here",
      "p.yaml:11:18: matrix 'variant': value 'a' has no 'strat' (did you mean 'start'?); it has name, start\n  x.yaml:3:7: value 'a' is written here",
      "p.yaml:11:18: matrix 'variant': value 'b' has no 'strat'; it has name, levels\n  x.yaml:4:7: value 'b' is written here",
    ]);
    const inline = await load(`steps:
  v:
    matrix: { variant: [{ name: x }] }
    run: [echo, "\${matrix.variant.y}"]
`);
    expect(inline.messages).toEqual([
      "p.yaml:4:18: matrix 'variant': value 'x' has no 'y'; it has name\n  p.yaml:3:25: value 'x' is written here",
    ]);
  });

  it('says how to get the name when a whole mapping is placed inside a string', async () => {
    const { messages } = await load(`steps:
  v:
    matrix: { variant: [{ name: x }] }
    run: [echo]
    outs: ["out/\${matrix.variant}"]
`);
    expect(messages).toEqual([
      "p.yaml:5:17: '${matrix.variant}' is a list or map and cannot be placed inside a string (a named matrix value's name is ${matrix.variant.name})",
    ]);
  });
});

describe('an empty matrix list', () => {
  it('gives no instances, and an empty set to the steps that need or consume the step', async () => {
    const { result } = await load(PIPELINE.replace(/ {2}variant_list:\n(?: {4}- .*\n)+/, '  variant_list: []\n'));
    const all = steps(result);
    expect(all.map((s) => [s.id, s.needs])).toEqual([
      ['report', []],
      ['after', []],
    ]);
    expect(result.ok && result.value.emptySteps).toEqual([{ name: 'binarise_variant', axes: [{ key: 'variant', param: 'variant_list' }] }]);
  });

  it('still reports a need of a step that does not exist', async () => {
    const { messages } = await load(`params: { l: [] }
steps:
  v:
    matrix: { k: "\${params.l}" }
    run: [echo]
    outs: ["out/\${matrix.k}"]
  w:
    needs: [vv]
    run: [echo]
`);
    expect(messages).toEqual(["p.yaml:8:13: 'w' needs unknown step 'vv' (did you mean 'v'?)"]);
  });
});
