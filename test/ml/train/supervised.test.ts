import { TEST_BACKEND } from '../test-backend.js';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend/index.js';
import type { Sample } from '../../../src/ml/data/index.js';
import { buildUnet } from '../../../src/ml/models/index.js';
import { trainSupervised, validateSupervised, type TrainEvent } from '../../../src/ml/train/index.js';
import { hasData } from '../data/data-dir.js';
import { realCrops } from './real-crops.js';

const CROP = 64;
let samples: Sample[] = [];

beforeAll(async () => {
  const backend = await initBackend(TEST_BACKEND);
  expect(backend.ok).toBe(true);
  if (hasData) samples = await realCrops(['cho21', 'cho22', 'cho23', 'cho24'], CROP);
});

const tinyUnet = () => buildUnet({ baseFilters: 4, levels: 3, seed: 3 });

describe.skipIf(!hasData)(`trainSupervised on real BBBC030 crops (${TEST_BACKEND})`, () => {
  it('overfits 4 fixed 64×64 crops: loss falls, IoU rises, best weights are left in the model', async () => {
    const model = tinyUnet();
    const events: TrainEvent[] = [];
    const before = await validateSupervised(model, samples, CROP, 4);
    const started = performance.now();
    const result = await trainSupervised(
      model,
      { train: samples, validation: samples },
      {
        epochs: 40,
        learningRate: 1e-2,
        lrDecayStartEpoch: 30,
        batchSize: 4,
        cropSize: CROP,
        seed: 1,
        augment: false,
        bestMetric: 'val_iou',
        onEvent: (e) => events.push(e),
      },
    );
    const seconds = (performance.now() - started) / 1000;
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { history, bestEpoch, bestMetric } = result.value;
    const first = history[0]!;
    const last = history.at(-1)!;
    console.log(
      `[debug] 40 epochs in ${seconds.toFixed(1)} s; loss ${first.loss.toFixed(3)} → ${last.loss.toFixed(3)}; ` +
        `val IoU ${before.iou?.toFixed(3)} → best ${bestMetric.toFixed(3)} @${bestEpoch}; F1 ${last.val.f1?.toFixed(3)}`,
    );
    expect(last.loss).toBeLessThan(first.loss * 0.7);
    expect(bestMetric).toBeGreaterThan((before.iou ?? 0) + 0.2);
    const after = await validateSupervised(model, samples, CROP, 4);
    expect(after.iou).toBeCloseTo(bestMetric, 5);
    expect(events.filter((e) => e.type === 'batch-end').length).toBe(40);
    expect(events[0]).toEqual({ type: 'epoch-start', epoch: 0, lr: 1e-2 });
  }, 180_000); // ~20 s on an idle 2-core box; the shared machine can be several times slower.

  it('leaks no tensors across epochs and releases everything at the end', async () => {
    const model = tinyUnet();
    const baseline = tf.memory().numTensors;
    const atEpochStart: number[] = [];
    const result = await trainSupervised(
      model,
      { train: samples, validation: samples.slice(0, 2) },
      {
        epochs: 4,
        learningRate: 1e-3,
        batchSize: 2,
        cropSize: 32,
        seed: 2,
        onEvent: (e) => {
          if (e.type === 'epoch-start') atEpochStart.push(tf.memory().numTensors);
        },
      },
    );
    expect(result.ok).toBe(true);
    // epoch-start of epochs 1 and 3 = after one and after three full epochs (with augmentation).
    expect(atEpochStart[3]).toBe(atEpochStart[1]);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('is reproducible for a seed on the same backend', async () => {
    const run = async () => {
      const result = await trainSupervised(
        tinyUnet(),
        { train: samples, validation: samples.slice(0, 2) },
        {
          epochs: 2,
          learningRate: 1e-3,
          batchSize: 2,
          cropSize: 32,
          seed: 7,
        },
      );
      return result.ok ? result.value.history.map((h) => [h.loss, h.val.loss]) : [];
    };
    const a = await run();
    expect(a.length).toBe(2);
    expect(await run()).toEqual(a);
  });

  it("adds the model's L2 regularisation to the training loss", async () => {
    const firstLoss = async (l2: number) => {
      let loss = Number.NaN;
      const model = buildUnet({ baseFilters: 4, levels: 3, seed: 3, l2 });
      await trainSupervised(
        model,
        { train: samples.slice(0, 1), validation: samples.slice(0, 1) },
        {
          epochs: 1,
          learningRate: 1e-3,
          batchSize: 1,
          cropSize: 32,
          seed: 5,
          onEvent: (e) => {
            if (e.type === 'batch-end') loss = e.loss;
          },
        },
      );
      return loss;
    };
    const plain = await firstLoss(0);
    const regularised = await firstLoss(1);
    expect(regularised).toBeGreaterThan(plain + 1);
  });

  it('returns a typed error for an empty validation set', async () => {
    const result = await trainSupervised(
      tinyUnet(),
      { train: samples, validation: [] },
      {
        epochs: 1,
        learningRate: 1e-3,
        batchSize: 1,
        cropSize: 32,
        seed: 1,
      },
    );
    expect(result).toMatchObject({ ok: false, error: { message: expect.stringContaining('validation') } });
  });
});
