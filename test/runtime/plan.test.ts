import { describe, expect, it } from 'vitest';
import { computeStepKey } from '../../src/artifacts/canonical.js';
import type { ActionCacheEntry, KeyComponents, StepKey } from '../../src/artifacts/types.js';
import type { PlanFacts, PlanStepInput } from '../../src/runtime/plan/plan.js';
import { describeReason, diffComponents, planRun, summariseReasons } from '../../src/runtime/plan/plan.js';
import { splitWords } from '../../src/runtime/load/words.js';

const components = (over: Partial<KeyComponents> = {}): KeyComponents => ({
  keySchema: 1,
  kind: 'run',
  kindVersion: '1',
  command: ['python', 'train.py', '--lr', '0.001'],
  with: null,
  params: { lr: 0.001 },
  deps: { 'data/x.csv': 'aa' },
  upstream: { prep: 'k1' },
  env: {},
  outs: ['model.bin'],
  ...over,
});

describe('staleness reasons come from diffing key components', () => {
  it('explains a param change once (the command change it causes is implied)', () => {
    const after = components({ command: ['python', 'train.py', '--lr', '0.0005'], params: { lr: 0.0005 } });
    expect(diffComponents(components(), after).map(describeReason)).toEqual(['param changed: lr: 0.001 → 0.0005']);
  });

  it('names inputs, upstream steps, env, code and commands that changed', () => {
    const after = components({
      kindVersion: '2',
      command: ['python', 'fit.py', '--lr', '0.001'],
      deps: { 'data/x.csv': 'bb', 'data/y.csv': 'cc' },
      upstream: { prep: 'k2' },
      env: { SEED: '1' },
    });
    expect(diffComponents(components(), after).map(describeReason)).toEqual([
      'code changed (run v1 → run v2)',
      'command changed: python train.py --lr 0.001 → python fit.py --lr 0.001',
      'input changed: data/x.csv',
      'input changed: data/y.csv',
      'upstream changed: prep',
      'environment changed: SEED',
    ]);
  });

  it('gives no reasons without a previous record', () => {
    expect(diffComponents(undefined, components())).toEqual([]);
  });
});

describe('reasons for humans', () => {
  it('shows up to six reasons, then says how many more there are', () => {
    const reasons = Array.from({ length: 9 }, (_, i) => ({ kind: 'input-changed' as const, path: `f${i}` }));
    expect(summariseReasons(reasons.slice(0, 6)).split('; ')).toHaveLength(6);
    const long = summariseReasons(reasons);
    expect(long.split('; ')).toHaveLength(6);
    expect(long).toContain(describeReason(reasons[4]!));
    expect(long).not.toContain(describeReason(reasons[5]!));
    expect(long.endsWith('and 4 more (status --json lists all)')).toBe(true);
    expect(summariseReasons([])).toBe('');
  });
});

describe('planRun decides fresh / restore / run as a pure function', () => {
  const step = (id: string, over: Partial<PlanStepInput> = {}): PlanStepInput => ({
    id,
    needs: [],
    cache: true,
    alwaysRun: false,
    outs: [{ path: `${id}.out`, cache: true }],
    ...over,
  });
  const keyOf = (c: KeyComponents): StepKey => computeStepKey(c);
  const entry = (id: string, c: KeyComponents, hash = 'h1'): ActionCacheEntry => ({
    schema: 1,
    key: keyOf(c),
    stepId: id,
    components: c,
    outputs: [{ path: `${id}.out`, type: 'file', hash: hash as never, size: 1 }],
    metrics: {},
    series: [],
    durationMs: 1,
    producer: { runId: 'r1', stepId: id, host: 'h', pid: 1, startedAt: '', finishedAt: 'then' },
  });

  function facts(over: Partial<PlanFacts> & { c: KeyComponents }): PlanFacts {
    const { c, ...rest } = over;
    return {
      keys: new Map([['a', { key: keyOf(c), components: c }]]),
      entries: new Map(),
      storeComplete: new Map(),
      workspace: new Map(),
      lock: { steps: {} },
      incomplete: new Map(),
      ...rest,
    };
  }

  const plan = (f: PlanFacts, opts: { forced?: string[] } = {}) =>
    planRun([step('a')], f, { selected: new Set(['a']), forced: new Set(opts.forced ?? []) }).steps[0]!;

  it('never-run without entry or lock; fresh when outputs match; restore when missing; run when forced', () => {
    const c = components();
    expect(plan(facts({ c })).action).toBe('run');
    expect(plan(facts({ c })).reasons).toEqual([{ kind: 'never-run' }]);
    const e = entry('a', c);
    const withEntry = { c, entries: new Map([[e.key as string, e]]), storeComplete: new Map([[e.key as string, true]]) };
    expect(plan(facts({ ...withEntry, workspace: new Map([['a.out', { type: 'file', hash: 'h1' }]]) })).action).toBe('fresh');
    const missing = plan(facts(withEntry));
    expect([missing.action, missing.reasons]).toEqual(['restore', [{ kind: 'output-missing', path: 'a.out' }]]);
    const modified = plan(facts({ ...withEntry, workspace: new Map([['a.out', { type: 'file', hash: 'zz' }]]) }));
    expect(modified.reasons).toEqual([{ kind: 'output-modified', path: 'a.out' }]);
    expect(plan(facts({ ...withEntry, storeComplete: new Map([[e.key as string, false]]) })).action).toBe('run');
    expect(plan(facts({ ...withEntry, workspace: new Map([['a.out', { type: 'file', hash: 'h1' }]]) }), { forced: ['a'] }).reasons).toEqual(
      [{ kind: 'forced' }],
    );
  });

  it('says the cache entry is gone when the lock records this very key', () => {
    const c = components();
    const lock = { steps: { a: { key: keyOf(c), components: c, outputs: [], runId: 'r0' } } };
    expect(plan(facts({ c, lock })).reasons.map(describeReason)).toEqual([
      'its cache entry is gone (gc, cache verify --repair, or another cache)',
    ]);
  });

  it('reports an incomplete previous attempt and the param change together', () => {
    const before = components();
    const now = components({ params: { lr: 0.01 }, command: ['python', 'train.py', '--lr', '0.01'] });
    const lock = { steps: { a: { key: keyOf(before), components: before, outputs: [], runId: 'r0' } } };
    const p = plan(facts({ c: now, lock, incomplete: new Map([['a', 'r9']]) }));
    expect(p.reasons.map(describeReason)).toEqual(['param changed: lr: 0.001 → 0.01', 'previous attempt did not finish (run r9)']);
  });
});

describe('command strings are split into argv without a shell', () => {
  it('groups quotes, keeps shell syntax literal', () => {
    expect(splitWords(`python "my script.py" --x 'a b' $HOME | tee \\"q`).words).toEqual([
      'python',
      'my script.py',
      '--x',
      'a b',
      '$HOME',
      '|',
      'tee',
      '"q',
    ]);
    expect(splitWords(`echo "unterminated`).error).toBe('unterminated double quote');
  });
});

describe('object-valued params', () => {
  it('name the changed leaf, once, even when the object is also interpolated into with:', () => {
    const train = { epochs: 25, lr: 0.001 };
    const before = components({ command: null, with: { train }, params: { 'ablation.train': train } });
    const after = components({ command: null, with: { train: { ...train, p: 0.9 } }, params: { 'ablation.train': { ...train, p: 0.9 } } });
    expect(diffComponents(before, after).map(describeReason)).toEqual(['param changed: ablation.train.p: (unset) → 0.9']);
  });
});

describe('outputs kept out of the cache', () => {
  it('are recreated by a run, never by a restore', () => {
    const c = components();
    const key = computeStepKey(c);
    const entry: ActionCacheEntry = {
      schema: 1,
      key,
      stepId: 'a',
      components: c,
      outputs: [],
      metrics: {},
      series: [],
      durationMs: 1,
      producer: { runId: 'r1', stepId: 'a', host: 'h', pid: 1, startedAt: '', finishedAt: '' },
    };
    const facts: PlanFacts = {
      keys: new Map([['a', { key, components: c }]]),
      entries: new Map([[key as string, entry]]),
      storeComplete: new Map([[key as string, true]]),
      workspace: new Map(),
      lock: { steps: {} },
      incomplete: new Map(),
    };
    const step: PlanStepInput = { id: 'a', needs: [], cache: true, alwaysRun: false, outs: [{ path: 'scratch.txt', cache: false }] };
    const planned = planRun([step], facts, { selected: new Set(['a']), forced: new Set() }).steps[0]!;
    expect([planned.action, planned.reasons]).toEqual(['run', [{ kind: 'output-missing', path: 'scratch.txt' }]]);
  });
});

describe('consumed digests: a result is current only while its upstream holds the bytes it read', () => {
  const up = (hash: string, type: 'file' | 'dir' = 'file'): ActionCacheEntry => {
    const c = components({ command: ['gen'], deps: {}, upstream: {} });
    return {
      schema: 1,
      key: computeStepKey(c),
      stepId: 'gen',
      components: c,
      outputs: [{ path: 'out/gen', type, hash: hash as never, size: 1 }],
      metrics: {},
      series: [],
      durationMs: 1,
      producer: { runId: 'r1', stepId: 'gen', host: 'h', pid: 1, startedAt: '', finishedAt: '' },
    };
  };
  const down = (consumed: Record<string, string> | undefined): ActionCacheEntry => {
    const c = components({ command: ['use'], upstream: { gen: up('x').key } });
    return {
      ...up('x'),
      key: computeStepKey(c),
      stepId: 'use',
      components: c,
      outputs: [{ path: 'out/use', type: 'file', hash: 'u1' as never, size: 1 }],
      ...(consumed ? { consumed: consumed as never } : {}),
    };
  };
  const steps: PlanStepInput[] = [
    { id: 'gen', needs: [], cache: true, alwaysRun: false, outs: [{ path: 'out/gen', cache: true }] },
    { id: 'use', needs: ['gen'], cache: true, alwaysRun: false, outs: [{ path: 'out/use', cache: true }] },
  ];
  function planBoth(gen: ActionCacheEntry, use: ActionCacheEntry, workspace: [string, string][], forced: string[] = []) {
    const facts: PlanFacts = {
      keys: new Map([
        ['gen', { key: gen.key, components: gen.components }],
        ['use', { key: use.key, components: use.components }],
      ]),
      entries: new Map([
        [gen.key as string, gen],
        [use.key as string, use],
      ]),
      storeComplete: new Map([
        [gen.key as string, true],
        [use.key as string, true],
      ]),
      workspace: new Map(workspace.map(([p, h]) => [p, { type: 'file' as const, hash: h }])),
      lock: { steps: {} },
      incomplete: new Map(),
    };
    return planRun(steps, facts, { selected: new Set(['gen', 'use']), forced: new Set(forced) }).steps;
  }

  it('names the upstream, the path and both digests; a reader to restore is run instead', () => {
    const [, use] = planBoth(up('b2b2b2b2'), down({ 'out/gen': 'a1a1a1a1' }), [
      ['out/gen', 'b2b2b2b2'],
      ['out/use', 'u1'],
    ]);
    expect([use!.action, use!.reasons.map(describeReason)]).toEqual(['run', ['upstream output changed: gen (out/gen: a1a1a1… → b2b2b2…)']]);
    const [, restore] = planBoth(up('b2b2b2b2'), down({ 'out/gen': 'a1a1a1a1' }), [['out/gen', 'b2b2b2b2']]);
    expect(restore!.action).toBe('run');
  });

  it('compares against what a restore will put back (a directory: its manifest digest)', () => {
    const [gen, use] = planBoth(up('m2', 'dir'), down({ 'out/gen': 'm1' }), [['out/use', 'u1']]);
    expect([gen!.action, use!.action]).toEqual(['restore', 'run']);
    // The bytes it consumed come back with the restore, but until then it is not fresh (issue 20, class e).
    const [, pending] = planBoth(up('m1', 'dir'), down({ 'out/gen': 'm1' }), [['out/use', 'u1']]);
    expect([pending!.action, pending!.reasons.map(describeReason)]).toEqual([
      'run',
      ['upstream not fresh: gen (to be restored: output missing: out/gen)'],
    ]);
  });

  it('is not fresh while an upstream output it consumed is missing or edited in the workspace, whatever the upstream plans', () => {
    const edited = planBoth(
      up('a1'),
      down({ 'out/gen': 'a1' }),
      [
        ['out/gen', 'e9'],
        ['out/use', 'u1'],
      ],
      ['gen'],
    )[1]!;
    expect([edited.action, edited.reasons.map(describeReason)]).toEqual([
      'run',
      ['upstream not fresh: gen (out/gen holds other bytes than it read)'],
    ]);
  });

  it('leaves a reader of an upstream that runs to the scheduler, and does not judge entries without a record', () => {
    expect(
      planBoth(
        up('b2'),
        down({ 'out/gen': 'a1' }),
        [
          ['out/gen', 'a1'],
          ['out/use', 'u1'],
        ],
        ['gen'],
      )[1]!.action,
    ).toBe('fresh');
    expect(
      planBoth(up('b2'), down(undefined), [
        ['out/gen', 'b2'],
        ['out/use', 'u1'],
      ])[1]!.action,
    ).toBe('fresh');
  });

  it('an output kept out of the cache is compared with what the workspace holds', () => {
    const gen = { ...up('b2'), outputs: [] };
    const uncached: PlanStepInput[] = [{ ...steps[0]!, outs: [{ path: 'out/gen', cache: false }] }, steps[1]!];
    const use = down({ 'out/gen': 'a1' });
    const facts: PlanFacts = {
      keys: new Map([
        ['gen', { key: gen.key, components: gen.components }],
        ['use', { key: use.key, components: use.components }],
      ]),
      entries: new Map([
        [gen.key as string, gen],
        [use.key as string, use],
      ]),
      storeComplete: new Map(),
      workspace: new Map([
        ['out/gen', { type: 'file', hash: 'c3' }],
        ['out/use', { type: 'file', hash: 'u1' }],
      ]),
      lock: { steps: {} },
      incomplete: new Map(),
    };
    const planned = planRun(uncached, facts, { selected: new Set(['gen', 'use']), forced: new Set() }).steps;
    expect(planned.map((p) => p.action)).toEqual(['fresh', 'run']);
    expect(planned[1]!.reasons).toEqual([{ kind: 'upstream-output-changed', step: 'gen', path: 'out/gen', before: 'a1', after: 'c3' }]);
  });
});
