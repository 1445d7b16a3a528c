import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineModel } from '../../../src/ml/engine/model.js';
import { packedRecordPlan } from '../../../src/ml/engine/plan.js';
import { runEngineLogits } from '../../../src/ml/engine/forward.js';
import { binariseReference, referenceKernels } from '../../../src/ml/engine/reference.js';
import { codeAt } from '../../../src/ml/engine/bitmaps.js';
import { residualBinarizeWith, residualSigns, signDeadZone } from '../../../src/ml/models/binary-ops.js';
import { BinaryConv2D, BinarySeparableConv2D, BinarySignActivation, buildBluNet } from '../../../src/ml/models/index.js';
import { useTestBackend } from '../models/setup-backend.js';
import { bluNetCases, packedEngine, perturb, simulate, zeroSignModel, type EngineCase } from './fixtures.js';

let dir: string;
beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(path.join(os.tmpdir(), 'blu-engine-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const packed = (model: tf.LayersModel, name: string) => packedEngine(model, path.join(dir, `${name}.blupack`));

function expectSameAsSimulation(model: tf.LayersModel, engine: EngineModel, c: EngineCase, image: Float32Array): void {
  const sim = simulate(model, image, c.height, c.width);
  const logits = runEngineLogits(engine, referenceKernels, { height: c.height, width: c.width, pixels: image });
  expect(logits.length).toBe(sim.logits.length);
  let worstLogit = 0;
  let worstProbability = 0;
  let maskDiffs = 0;
  sim.logits.forEach((expected, i) => {
    const got = logits[i] as number;
    worstLogit = Math.max(worstLogit, Math.abs(got - expected) / Math.max(1, Math.abs(expected)));
    const p = 1 / (1 + Math.exp(-got));
    worstProbability = Math.max(worstProbability, Math.abs(p - (sim.probabilities[i] as number)));
    if (p > 0.5 !== (sim.probabilities[i] as number) > 0.5) maskDiffs++;
  });
  expect(maskDiffs).toBe(0);
  expect(worstProbability).toBeLessThan(1e-4);
  expect(worstLogit).toBeLessThan(1e-4);
}

describe('binary engine (TypeScript reference) against the fp32 simulation', () => {
  it('reads records in the order the exporter writes them', () => {
    const opts = { baseFilters: 2, levels: 4 };
    const model = buildBluNet(opts);
    const binary = model.layers.filter(
      (l) => l instanceof BinaryConv2D || l instanceof BinarySeparableConv2D || l instanceof BinarySignActivation,
    );
    expect(packedRecordPlan(opts).map((r) => r.name)).toEqual(binary.map((l) => l.name));
    model.dispose();
  });

  it("binarises with TensorFlow's sign on every backend (subnormals are 0; recorded in the file), and still reads old wasm files", () => {
    expect(signDeadZone()).toBe(2 ** -126);
    const gammas = Float32Array.of(0.25, 0.125, 0.0625);
    const y = Float32Array.of(0.25 + 5e-8, 0.25 - 5e-8, 1e-8, -1e-8, 0, 2 ** -23, -(2 ** -23), 1e-45, 0.3, -0.3, 0.375 + 1e-7);
    const signOf = (planes: ReturnType<typeof binariseReference>, p: number, n: number): number => {
      const code = codeAt(planes, y.length, p, 0);
      return (code >> (3 + n)) & 1 ? 0 : (code >> n) & 1 ? 1 : -1;
    };
    const sim = residualSigns(tf.tensor1d(y), tf.tensor1d(gammas));
    // The tensor path of the quantiser (used for large activations) agrees with the signs, even on wasm.
    const device = residualBinarizeWith('device', tf.tensor1d(y), tf.tensor1d(gammas)).dataSync();
    const exact = binariseReference(y, 1, y.length, 1, gammas, signDeadZone());
    y.forEach((_, p) => {
      let value = 0;
      gammas.forEach((g, n) => {
        expect(signOf(exact, p, n), `value ${p}, level ${n}`).toBe((sim[n] as Float32Array)[p]);
        value = n === 0 ? g * sim[n]![p]! : Math.fround(value + g * sim[n]![p]!);
      });
      expect(device[p], `tensor path, value ${p}`).toBe(value);
    });
    // Files exported from a wasm simulation before signs were exact record 2^-23; the engine honours it.
    const old = binariseReference(y, 1, y.length, 1, gammas, 2 ** -23);
    expect(signOf(old, 2, 0)).toBe(0);
    expect(signOf(old, 6, 0)).toBe(-1);
  });

  for (const c of bluNetCases) {
    it(`matches on ${c.label}`, async () => {
      const model = buildBluNet(c.options);
      perturb(model, c.seed);
      const engine = await packed(model, c.label.replace(/[^a-z0-9]+/gi, '_'));
      const image = Float32Array.from(tf.randomUniform([c.height * c.width], 0, 1, 'float32', c.seed).dataSync());
      expectSameAsSimulation(model, engine, c, image);
      model.dispose();
    });
  }

  it('handles exact-zero signs in weights and in activations', async () => {
    const { model, options, image } = zeroSignModel();
    const engine = await packed(model, 'zeros');
    expect(engine.level0[1].conv.packed.nonzero).not.toBeNull();
    const zeroActs = referenceKernels.firstBlock({ height: 8, width: 10, pixels: image }, engine.level0[0]);
    expect(zeroActs.nonzero).not.toBeNull();
    expectSameAsSimulation(model, engine, { label: 'zeros', options, seed: 9, height: 8, width: 10 }, image);
    model.dispose();
  });
});
