import { describe, expect, it } from 'vitest';
import type * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/ml/backend/index.js';
import { buildBluNet, buildLwUnet, fitResidualGammas, transferLwUnetToBluNet } from '../../../src/ml/models/index.js';

describe('gamma initialisation after the lw_unet → BLU-Net transfer', () => {
  it('fits the greedy residual scales: g_m = mean |r_m|', () => {
    // r1 = [0.3, -0.1] → g1 = 0.2, r2 = [0.1, 0.1] → g2 = 0.1, r3 = [0, 0] → g3 = 0
    const g = fitResidualGammas(new Float32Array([0.3, -0.1]), 3);
    expect(g[0]).toBeCloseTo(0.2, 6);
    expect(g[1]).toBeCloseTo(0.1, 6);
    expect(g[2]).toBeCloseTo(0, 6);
  });

  it('thesis mode keeps [0.5, 0.333, 0.167]; weight-scale mode fits every transferred kernel', async () => {
    expect((await initBackend('cpu')).ok).toBe(true);
    const lw = buildLwUnet({ baseFilters: 2, levels: 3, seed: 3 });
    const gammasOf = (blu: tf.LayersModel, name: string): number[] => Array.from(blu.getLayer(name).getWeights().at(-1)!.dataSync());
    const thesis = buildBluNet({ baseFilters: 2, levels: 3, seed: 1 });
    expect(transferLwUnetToBluNet(lw, thesis).ok).toBe(true);
    const scaled = buildBluNet({ baseFilters: 2, levels: 3, seed: 1 });
    expect(transferLwUnetToBluNet(lw, scaled, { gammaInit: 'weight-scale' }).ok).toBe(true);
    const first = thesis.layers.find((l) => l.name.includes('Level0_BinaryConv2D'))!.name;
    expect(gammasOf(thesis, first).map((v) => Number(v.toFixed(3)))).toEqual([0.5, 0.333, 0.167]);
    const kernel = lw.getLayer(first.replaceAll('Binary', '')).getWeights()[0]!.dataSync();
    const expected = fitResidualGammas(kernel, 3);
    gammasOf(scaled, first).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    lw.dispose();
    thesis.dispose();
    scaled.dispose();
  });

  it('copies the output layer only when asked (the thesis re-initialises it)', async () => {
    expect((await initBackend('cpu')).ok).toBe(true);
    const lw = buildLwUnet({ baseFilters: 2, levels: 3, seed: 3 });
    const source = lw
      .getLayer('logit_output')
      .getWeights()
      .map((w) => Array.from(w.dataSync()));
    const outputOf = (blu: tf.LayersModel) =>
      blu
        .getLayer('logit_output')
        .getWeights()
        .slice(0, 2)
        .map((w) => Array.from(w.dataSync()));
    const thesis = buildBluNet({ baseFilters: 2, levels: 3, seed: 1 });
    const moved = transferLwUnetToBluNet(lw, thesis);
    expect(moved.ok && moved.value.some((t) => t.to === 'logit_output')).toBe(false);
    expect(outputOf(thesis)).not.toEqual(source);
    const withOutput = buildBluNet({ baseFilters: 2, levels: 3, seed: 1 });
    const all = transferLwUnetToBluNet(lw, withOutput, { transferOutput: true });
    expect(all.ok && all.value.some((t) => t.to === 'logit_output')).toBe(true);
    expect(outputOf(withOutput)).toEqual(source);
    [lw, thesis, withOutput].forEach((m) => m.dispose());
  });
});
