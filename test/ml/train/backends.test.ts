import { TEST_BACKEND } from '../test-backend.js';
import { describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../../../src/ml/backend/index.js';
import { buildUnet } from '../../../src/ml/models/index.js';
import { trainSupervised } from '../../../src/ml/train/index.js';
import { hasData } from '../data/data-dir.js';
import { realCrops } from './real-crops.js';

/** Same seed, same data, batch 1 (the cpu backend's upsampling gradient is wrong for batch > 1). */
async function lossesOn(backend: BackendName): Promise<number[]> {
  expect((await initBackend(backend)).ok).toBe(true);
  const samples = await realCrops(['cho28', 'cho29'], 48);
  const result = await trainSupervised(
    buildUnet({ baseFilters: 4, levels: 3, seed: 6 }),
    { train: samples, validation: samples },
    {
      epochs: 1,
      learningRate: 1e-3,
      batchSize: 1,
      cropSize: 32,
      seed: 3,
    },
  );
  expect(result.ok).toBe(true);
  return result.ok ? result.value.history.flatMap((h) => [h.loss, h.val.loss]) : [];
}

describe.skipIf(!hasData)('training on the cpu backend', () => {
  it(`runs and matches ${TEST_BACKEND} to float tolerance`, async () => {
    const cpu = await lossesOn('cpu');
    const ours = await lossesOn(TEST_BACKEND);
    console.log(`[debug] cpu ${cpu.map((v) => v.toFixed(6)).join(' ')} | ${TEST_BACKEND} ${ours.map((v) => v.toFixed(6)).join(' ')}`);
    expect(cpu.length).toBe(2);
    cpu.forEach((v, i) => expect(Math.abs(v - (ours[i] ?? Number.NaN))).toBeLessThan(1e-3 * Math.max(1, Math.abs(v))));
  }, 180_000);
});
