import { TEST_BACKEND } from '../test-backend.js';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend/index.js';
import type { Sample } from '../../../src/ml/data/index.js';
import { buildLwUnet, buildUnet, tapModel } from '../../../src/ml/models/index.js';
import { trainHint, validateHint, type TrainEvent } from '../../../src/ml/train/index.js';
import { hasData } from '../data/data-dir.js';
import { realCrops } from './real-crops.js';

let samples: Sample[] = [];

beforeAll(async () => {
  const backend = await initBackend(TEST_BACKEND);
  expect(backend.ok).toBe(true);
  if (hasData) samples = await realCrops(['cho25', 'cho26', 'cho27'], 32);
});

/** Level-0 and level-1 convs (same indices as the thesis table) plus the sigmoid output. */
function hintIndices(model: tf.LayersModel): number[] {
  return [1, 2, 4, 5, model.layers.length - 1];
}

async function weightValues(model: tf.LayersModel): Promise<number[]> {
  const all = await Promise.all(model.getWeights().map((w) => w.data()));
  return all.flatMap((d) => Array.from(d));
}

describe.skipIf(!hasData)(`trainHint on a tiny U-Net teacher and lw_unet student (${TEST_BACKEND})`, () => {
  it('hint loss falls, the teacher stays frozen, no tensors leak', async () => {
    const teacher = buildUnet({ baseFilters: 4, levels: 3, seed: 1 });
    const student = buildLwUnet({ baseFilters: 4, levels: 3, seed: 2 });
    const indices = hintIndices(teacher);
    const teacherTaps = tapModel(teacher, indices);
    const studentTaps = tapModel(student, indices);
    const teacherBefore = await weightValues(teacher);
    const baseline = tf.memory().numTensors;
    const atEpochStart: number[] = [];
    const events: TrainEvent[] = [];
    const result = await trainHint(
      teacherTaps,
      studentTaps,
      { teacherIndices: indices, studentIndices: indices },
      { train: samples, validation: samples },
      {
        epochs: 8,
        learningRate: 1e-2,
        batchSize: 3,
        cropSize: 32,
        seed: 4,
        augment: false,
        onEvent: (e) => {
          events.push(e);
          if (e.type === 'epoch-start') atEpochStart.push(tf.memory().numTensors);
        },
      },
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { history, bestMetric, metricName } = result.value;
    console.log(`[debug] hint val loss ${history.map((h) => h.val.loss.toFixed(4)).join(' ')}`);
    expect(metricName).toBe('val_loss');
    expect(bestMetric).toBeLessThan(history[0]!.val.loss * 0.8);
    expect(history.at(-1)!.loss).toBeLessThan(history[0]!.loss);
    expect(await weightValues(teacher)).toEqual(teacherBefore);
    expect(atEpochStart[3]).toBe(atEpochStart[1]);
    expect(tf.memory().numTensors).toBe(baseline);
    expect(events.some((e) => e.type === 'best-updated')).toBe(true);
    // The best student weights are the ones left in the (shared) student variables.
    const after = await validateHint(teacherTaps, studentTaps, samples, 32, 3);
    expect(after.loss).toBeCloseTo(bestMetric, 5);
  });

  it('rejects tap models that do not match the index lists', async () => {
    const teacher = buildUnet({ baseFilters: 4, levels: 3, seed: 1 });
    const student = buildLwUnet({ baseFilters: 4, levels: 3, seed: 2 });
    const result = await trainHint(
      tapModel(teacher, [1, 2]),
      tapModel(student, [1]),
      { teacherIndices: [1, 2], studentIndices: [1, 2] },
      { train: samples, validation: samples },
      {
        epochs: 1,
        learningRate: 1e-3,
        batchSize: 1,
        cropSize: 32,
        seed: 1,
      },
    );
    expect(result).toMatchObject({ ok: false, error: { message: expect.stringContaining('outputs') } });
  });
});
