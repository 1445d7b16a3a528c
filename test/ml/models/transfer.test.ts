import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildBluNet, buildLwUnet, transferLwUnetToBluNet } from '../../../src/ml/models/index.js';
import { useTestBackend } from './setup-backend.js';

beforeAll(async () => {
  await useTestBackend();
});

const snapshot = (m: tf.LayersModel) => new Map(m.weights.map((w) => [w.originalName, Array.from(w.read().dataSync())]));

describe('transferLwUnetToBluNet', () => {
  it('copies exactly the conv kernels and biases, not gammas or the output layer', () => {
    const lw = buildLwUnet({ baseFilters: 4, seed: 21 });
    // Non-zero biases so a missed bias copy is visible.
    lw.setWeights(lw.getWeights().map((w, i) => tf.add(w, tf.randomNormal(w.shape, 0, 0.1, 'float32', i))));
    const blu = buildBluNet({ baseFilters: 4, seed: 22 });
    const before = snapshot(blu);
    const source = snapshot(lw);

    const result = transferLwUnetToBluNet(lw, blu);
    if (!result.ok) throw new Error(result.error.message);
    expect(result.value).toHaveLength(22);
    const copied = new Set(result.value.flatMap((t) => t.weights));
    const after = snapshot(blu);

    for (const [name, values] of after) {
      const lwName = name.replaceAll('Binary', '');
      if (copied.has(name)) {
        expect(values).toEqual(source.get(lwName));
        expect(values).not.toEqual(before.get(name));
      } else {
        expect(values).toEqual(before.get(name));
      }
    }
    // Copied: 2 level-0 convs × (kernel, bias) + 20 separable × (depthwise, pointwise, bias).
    expect(copied.size).toBe(2 * 2 + 20 * 3);
    expect([...copied].some((n) => n.includes('gamma') || n.startsWith('logit_output'))).toBe(false);
    expect(after.get('logit_output/kernel')).toEqual(before.get('logit_output/kernel'));
    expect(after.get('Level0_BinaryConv2D_1/gamma')).toEqual(before.get('Level0_BinaryConv2D_1/gamma'));
  });

  it('fails with a message when widths do not match', () => {
    const result = transferLwUnetToBluNet(buildLwUnet({ baseFilters: 4 }), buildBluNet({ baseFilters: 2 }));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toMatch(/shape/);
  });
});
