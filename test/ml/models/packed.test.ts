import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm, stat, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBluNet, exportPackedBluNet, loadPackedBluNet, thesisSize } from '../../../src/ml/models/index.js';
import { ByteReader, readPackedHeader } from '../../../src/ml/models/packed-format.js';
import { useTestBackend } from './setup-backend.js';

let dir: string;
beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(path.join(os.tmpdir(), 'blu-packed-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

function predictBytes(model: tf.LayersModel, x: tf.Tensor): Buffer {
  const y = model.predict(x) as tf.Tensor;
  const bytes = Buffer.from((y.dataSync() as Float32Array).slice().buffer);
  y.dispose();
  return bytes;
}

/** Trained-looking weights: latent kernels and biases moved, gammas moved off their init. */
function perturb(model: tf.LayersModel): void {
  const values = model.getWeights().map((w, i) => tf.add(w, tf.randomNormal(w.shape, 0, 0.05, 'float32', 300 + i)));
  model.setWeights(values);
  tf.dispose(values);
}

/** Forces exact zeros in the residual signs: w = 0 (3 zero levels) and w = |γ1| (2 zero levels). */
function forceZeroSigns(model: tf.LayersModel): number {
  const layer = model.getLayer('Level0_BinaryConv2D_2');
  const [kernel, bias, gamma] = layer.getWeights() as [tf.Tensor, tf.Tensor, tf.Tensor];
  const values = kernel.dataSync().slice();
  const g1 = Math.abs(gamma.dataSync()[0] as number);
  values.fill(0, 0, 5);
  values.fill(g1, 5, 9);
  layer.setWeights([tf.tensor(values, kernel.shape), bias, gamma]);
  return 5 * 3 + 4 * 2;
}

describe('packed BLU-Net export', () => {
  it('round-trips with bit-identical predictions (width 8)', async () => {
    const model = buildBluNet({ baseFilters: 8, seed: 5 });
    perturb(model);
    const file = path.join(dir, 'w8.blupack');
    const info = await exportPackedBluNet(model, file);
    if (!info.ok) throw new Error(info.error.message);
    expect((await stat(file)).size).toBe(info.value.fileBytes);
    const loaded = await loadPackedBluNet(file);
    if (!loaded.ok) throw new Error(loaded.error.message);
    const x = tf.randomUniform([1, 32, 32, 1], 0, 1, 'float32', 17);
    expect(predictBytes(loaded.value, x).equals(predictBytes(model, x))).toBe(true);
    // The gammas and biases come back verbatim.
    expect(loaded.value.getLayer('Level2_BinaryLightweight_Expanding_BinarySeparableConv2D_3').getWeights()[4]?.dataSync()).toEqual(
      model.getLayer('Level2_BinaryLightweight_Expanding_BinarySeparableConv2D_3').getWeights()[4]?.dataSync(),
    );
    model.dispose();
    loaded.value.dispose();
  });

  it('separable_binarise: round-trips with bit-identical predictions, the option and the inner gammas and bias in the file', async () => {
    const model = buildBluNet({ baseFilters: 6, levels: 3, seed: 8, separableBinarise: true, activationLevels: 2 });
    perturb(model);
    const file = path.join(dir, 'sb.blupack');
    const info = await exportPackedBluNet(model, file);
    if (!info.ok) throw new Error(info.error.message);
    const header = readPackedHeader(new ByteReader(new Uint8Array(await readFile(file))));
    expect(header.options.separableBinarise).toBe(true);
    const loaded = await loadPackedBluNet(file);
    if (!loaded.ok) throw new Error(loaded.error.message);
    const x = tf.randomUniform([1, 32, 32, 1], 0, 1, 'float32', 21);
    expect(predictBytes(loaded.value, x).equals(predictBytes(model, x))).toBe(true);
    const name = 'Level1_BinaryLightweight_Expanding_BinarySeparableConv2D_2';
    const weights = (m: tf.LayersModel) => m.getLayer(name).getWeights();
    expect(weights(loaded.value)).toHaveLength(7);
    for (const i of [5, 6]) expect(weights(loaded.value)[i]?.dataSync()).toEqual(weights(model)[i]?.dataSync());
    model.dispose();
    loaded.value.dispose();
  });

  it('reads a file written before separable_binarise existed (no key in the header) as the thesis variant', async () => {
    const model = buildBluNet({ baseFilters: 4, levels: 2, seed: 3 });
    perturb(model);
    const file = path.join(dir, 'old.blupack');
    const info = await exportPackedBluNet(model, file);
    if (!info.ok) throw new Error(info.error.message);
    const bytes = new Uint8Array(await readFile(file));
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const length = view.getUint32(8, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + length))) as { options: Record<string, unknown> };
    expect(header.options['separableBinarise']).toBe(false);
    delete header.options['separableBinarise'];
    const old = new TextEncoder().encode(JSON.stringify(header));
    const rewritten = new Uint8Array(12 + old.length + bytes.length - 12 - length);
    rewritten.set(bytes.subarray(0, 8));
    new DataView(rewritten.buffer).setUint32(8, old.length, true);
    rewritten.set(old, 12);
    rewritten.set(bytes.subarray(12 + length), 12 + old.length);
    await writeFile(file, rewritten);
    expect(readPackedHeader(new ByteReader(rewritten)).options.separableBinarise).toBe(false);
    const loaded = await loadPackedBluNet(file);
    if (!loaded.ok) throw new Error(loaded.error.message);
    const x = tf.randomUniform([1, 16, 16, 1], 0, 1, 'float32', 22);
    expect(predictBytes(loaded.value, x).equals(predictBytes(model, x))).toBe(true);
    model.dispose();
    loaded.value.dispose();
  });

  it('stores exact-zero residual signs so predictions stay identical', async () => {
    const model = buildBluNet({ baseFilters: 4, levels: 3, seed: 6 });
    const baseline = await exportPackedBluNet(model, path.join(dir, 'base.blupack'));
    const forced = forceZeroSigns(model);
    const file = path.join(dir, 'zeros.blupack');
    const info = await exportPackedBluNet(model, file);
    if (!info.ok || !baseline.ok) throw new Error('export failed');
    expect(info.value.zeroSigns - baseline.value.zeroSigns).toBe(forced);
    expect(info.value.fileBytes - baseline.value.fileBytes).toBe(4 * forced);
    const loaded = await loadPackedBluNet(file);
    if (!loaded.ok) throw new Error(loaded.error.message);
    const x = tf.randomUniform([1, 32, 32, 1], 0, 1, 'float32', 19);
    expect(predictBytes(loaded.value, x).equals(predictBytes(model, x))).toBe(true);
  });

  it('rejects a corrupted file with an error value', async () => {
    const good = path.join(dir, 'w8.blupack');
    const bytes = await readFile(good);
    const truncated = path.join(dir, 'truncated.blupack');
    await writeFile(truncated, bytes.subarray(0, bytes.length - 10));
    const loaded = await loadPackedBluNet(truncated);
    expect(loaded.ok).toBe(false);
    if (!loaded.ok) expect(loaded.error.message).toMatch(/truncated/);
  });

  it('width 64: file size within 5 % of the thesis accounting (1.4312 MiB)', async () => {
    const model = buildBluNet({ baseFilters: 64 });
    const file = path.join(dir, 'w64.blupack');
    const info = await exportPackedBluNet(model, file);
    if (!info.ok) throw new Error(info.error.message);
    const thesisBytes = thesisSize(model).bytes;
    const ratio = info.value.fileBytes / thesisBytes;
    console.log(
      `packed width-64 BLU-Net: ${info.value.fileBytes} B (${(info.value.fileBytes / 2 ** 20).toFixed(4)} MiB) vs thesis ${thesisBytes} B; ` +
        `ratio ${ratio.toFixed(5)}; header ${info.value.headerBytes} B; zero signs ${info.value.zeroSigns}, zero bookkeeping ${info.value.zeroBytes} B`,
    );
    expect(Math.abs(ratio - 1)).toBeLessThan(0.05);
    // The naturally occurring zero signs of the full-width model must survive as well.
    const loaded = await loadPackedBluNet(file);
    if (!loaded.ok) throw new Error(loaded.error.message);
    const x = tf.randomUniform([1, 16, 16, 1], 0, 1, 'float32', 23);
    expect(predictBytes(loaded.value, x).equals(predictBytes(model, x))).toBe(true);
    model.dispose();
    loaded.value.dispose();
  });
});
