import { describe, expect, it } from 'vitest';
import type { StepKindDefinition } from '../../src/runtime/kinds/kind.js';
import { stepKey, keyComponents } from '../../src/runtime/plan/keys.js';
import { loaderWith, type LoadOptions } from '../rig/load-temp.js';

/** A kind whose `opts` mapping has an optional `loss` the pipeline below does not declare. */
const fitKind: StepKindDefinition = {
  name: 'fit',
  version: '1',
  description: 'test kind',
  withSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['opts'],
    properties: {
      opts: {
        type: 'object',
        additionalProperties: false,
        required: ['lr'],
        properties: { lr: { type: 'number' }, loss: { enum: ['bce', 'dice'] } },
      },
    },
  },
  declare: ({ stepId }) => ({ deps: [], outs: [{ path: `out/${stepId}`, cache: true, persist: false, track: false }], needs: [] }),
  load: () => Promise.reject(new Error('not needed')),
};

const PIPELINE = `params:
  opts: { lr: 0.1 }
  other: { lr: 0.1 }
steps:
  a:
    uses: fit
    with: { opts: "\${params.opts}" }
  b:
    run: echo \${params.other.lr}
    outs: [b.txt]
`;

const loadYaml = loaderWith(fitKind);

async function load(options: LoadOptions = {}) {
  const loaded = await loadYaml(PIPELINE, options);
  const a = loaded.result.ok ? loaded.result.value.steps.find((s) => s.id === 'a') : undefined;
  return { ...loaded, keyOfA: a === undefined ? null : stepKey(keyComponents(a, {}, {}, undefined)) };
}

describe("a kind's optional key inside a param mapping it is given whole", () => {
  it('may be set by an overlay or --set without declaring it; only then does the step re-key', async () => {
    const plain = await load();
    const viaSet = await load({ sets: ['opts.loss=dice'] });
    const viaOverlay = await load({ overlays: { 'x.yaml': 'params:\n  opts: { loss: dice }\n' } });
    expect(viaSet.result.ok && viaSet.result.value.params.opts).toEqual({ lr: 0.1, loss: 'dice' });
    expect(viaOverlay.result.ok && viaOverlay.result.value.params.opts).toEqual({ lr: 0.1, loss: 'dice' });
    expect(viaSet.keyOfA).not.toBe(plain.keyOfA);
    expect(viaOverlay.keyOfA).toBe(viaSet.keyOfA);
  });

  it('is still checked by the kind, and a key no kind lists is still an unknown param (with the kind keys as did-you-mean)', async () => {
    const bad = await load({ sets: ['opts.los=dice', 'other.loss=dice'] });
    expect(bad.messages).toEqual([
      "--set opts.los=dice: unknown param 'opts.los' (did you mean 'opts.loss'?); no step kind given params.opts lists 'los': to add it anyway, declare it there in the pipeline first",
      // params.other is read by a run: step only: no kind lists anything for it.
      "--set other.loss=dice: unknown param 'other.loss' (did you mean 'other.lr'?); no step kind given params.other lists 'loss': to add it anyway, declare it there in the pipeline first",
    ]);
    const badValue = await load({ sets: ['opts.loss=mse'] });
    expect(badValue.messages).toEqual([
      'p.yaml:7:19: \'steps.a.with.opts.loss\' must be one of "bce", "dice"\n  --set opts.loss=mse: the value comes from this --set',
    ]);
  });
});
