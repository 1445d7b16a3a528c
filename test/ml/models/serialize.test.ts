import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BinarySeparableConv2D, buildBluNet, buildModel, loadModel, saveModel, type ModelName } from '../../../src/ml/models/index.js';
import { useTestBackend } from './setup-backend.js';

let dir: string;
beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(path.join(os.tmpdir(), 'blu-models-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

function build(name: ModelName): tf.LayersModel {
  const built = buildModel(name, { baseFilters: 4, seed: 11 });
  if (!built.ok) throw new Error(built.error.message);
  return built.value;
}

/** Perturbs every weight (incl. gammas) so a load that silently keeps initial values would fail. */
function perturb(model: tf.LayersModel): void {
  const values = model.getWeights().map((w, i) => tf.add(w, tf.randomNormal(w.shape, 0, 0.05, 'float32', 100 + i)));
  model.setWeights(values);
  tf.dispose(values);
}

describe('saveModel / loadModel', () => {
  for (const name of ['unet', 'lw_unet', 'blu_net'] as const) {
    it(`${name}: save → load gives bit-identical predictions`, async () => {
      const model = build(name);
      perturb(model);
      const target = path.join(dir, name);
      const saved = await saveModel(model, target);
      expect(saved.ok).toBe(true);
      if (!saved.ok) return;
      expect((await stat(saved.value.weightsPath)).size).toBe(model.countParams() * 4);
      const loaded = await loadModel(target);
      if (!loaded.ok) throw new Error(loaded.error.message);
      const x = tf.randomUniform([2, 32, 32, 1], 0, 1, 'float32', 5);
      const before = (model.predict(x) as tf.Tensor).dataSync();
      const after = (loaded.value.predict(x) as tf.Tensor).dataSync();
      expect(Buffer.from(after.buffer)).toEqual(Buffer.from(before.buffer));
      expect(loaded.value.layers.map((l) => [l.name, l.getClassName()])).toEqual(model.layers.map((l) => [l.name, l.getClassName()]));
      const json = JSON.parse(await readFile(saved.value.modelJsonPath, 'utf8')) as { format: string };
      expect(json.format).toBe('layers-model');
      model.dispose();
      loaded.value.dispose();
    });
  }

  it('blu_net with separable_binarise: save → load keeps the option and gives bit-identical predictions', async () => {
    const model = buildBluNet({ baseFilters: 4, levels: 3, seed: 12, separableBinarise: true, activationLevels: 1 });
    perturb(model);
    const target = path.join(dir, 'blu_net_sb');
    const saved = await saveModel(model, target);
    if (!saved.ok) throw new Error(saved.error.message);
    const loaded = await loadModel(target);
    if (!loaded.ok) throw new Error(loaded.error.message);
    const layer = loaded.value.getLayer('Level1_BinaryLightweight_Contracting_BinarySeparableConv2D_1') as BinarySeparableConv2D;
    expect([layer.separableBinarise, layer.activationLevels, layer.getWeights().length]).toEqual([true, 1, 7]);
    const x = tf.randomUniform([1, 16, 16, 1], 0, 1, 'float32', 6);
    const before = (model.predict(x) as tf.Tensor).dataSync();
    const after = (loaded.value.predict(x) as tf.Tensor).dataSync();
    expect(Buffer.from(after.buffer)).toEqual(Buffer.from(before.buffer));
    model.dispose();
    loaded.value.dispose();
  });

  it('reports a missing directory as an error value', async () => {
    const loaded = await loadModel(path.join(dir, 'nope'));
    expect(loaded.ok).toBe(false);
    if (!loaded.ok) expect(loaded.error.message).toContain('nope');
  });
});
