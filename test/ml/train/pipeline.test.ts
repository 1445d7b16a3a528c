import { TEST_BACKEND } from '../test-backend.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend/index.js';
import { loadDataset } from '../../../src/ml/data/index.js';
import { buildUnet } from '../../../src/ml/models/index.js';
import { trainSupervised, type TrainEvent } from '../../../src/ml/train/index.js';
import { dataDir, hasData } from '../data/data-dir.js';

beforeAll(async () => {
  expect((await initBackend(TEST_BACKEND)).ok).toBe(true);
});

describe.skipIf(!hasData)('loadDataset → trainSupervised end to end (real BBBC030, quarter scale)', () => {
  it('trains on random augmented foreground-aware crops of whole images and validates on centre crops', async () => {
    const loaded = await loadDataset(dataDir, { layout: 'split-folders', scale: 0.25 });
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    const { train, validation } = loaded.value;
    expect([train[0]?.width, train[0]?.height]).toEqual([344, 258]);
    const events: TrainEvent[] = [];
    const result = await trainSupervised(
      buildUnet({ baseFilters: 4, levels: 3, seed: 1 }),
      { train, validation: validation.slice(0, 2) },
      {
        epochs: 2,
        learningRate: 1e-3,
        batchSize: 2,
        cropSize: 48,
        valCropSize: 128,
        stepsPerEpoch: 3,
        seed: 9,
        crop: { sampler: 'foreground', foregroundProbability: 0.8 },
        bestMetric: 'val_loss',
        onEvent: (e) => events.push(e),
      },
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(events.filter((e) => e.type === 'batch-end').length).toBe(6);
    for (const h of result.value.history) {
      expect(Number.isFinite(h.loss)).toBe(true);
      expect(h.val.iou).toBeGreaterThanOrEqual(0);
      expect(h.val.iou).toBeLessThanOrEqual(1);
      expect(h.seconds).toBeGreaterThan(0);
    }
    // A validation that predicts nothing (IoU ≤ 0.001) is never kept; 6 steps may not get further.
    const learned = result.value.history.some((h) => (h.val.iou ?? 0) > 0.001);
    expect(result.value.bestEpoch >= 0).toBe(learned);
  }, 120_000); // decoding 60 images dominates; slow only when the shared box is busy.
});
