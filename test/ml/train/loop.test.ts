import { TEST_BACKEND } from '../test-backend.js';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend/index.js';
import { binaryCrossEntropy, learningRateAt, summedHintMse, type TrainEvent } from '../../../src/ml/train/index.js';
import { runEpochLoop } from '../../../src/ml/train/loop.js';
import { ScheduledAdam } from '../../../src/ml/train/optimizer.js';

beforeAll(async () => {
  const backend = await initBackend(TEST_BACKEND);
  expect(backend.ok).toBe(true);
});

describe('lr schedule (thesis CustomLRScheduler / get_lr_scheduler)', () => {
  it('is constant before the decay start, then ×0.95 per epoch', () => {
    expect(learningRateAt(0, 1e-3, 200)).toBe(1e-3);
    expect(learningRateAt(199, 1e-3, 200)).toBe(1e-3);
    expect(learningRateAt(200, 1e-3, 200)).toBeCloseTo(0.95e-3, 15);
    expect(learningRateAt(201, 1e-3, 200)).toBeCloseTo(0.9025e-3, 15);
    expect(learningRateAt(399, 1e-3, 200)).toBeCloseTo(1e-3 * 0.95 ** 200, 15);
    expect(learningRateAt(399, 1e-3, 200)).toBeCloseTo(3.5e-8, 9);
  });
});

describe('losses', () => {
  it('BCE matches a hand value and stays finite at p = 0 and p = 1', async () => {
    const truth = tf.tensor1d([1, 0]);
    const probabilities = tf.tensor1d([0.8, 0.4]);
    const hand = -(Math.log(0.8) + Math.log(0.6)) / 2;
    expect((await binaryCrossEntropy(truth, probabilities).data())[0]).toBeCloseTo(hand, 5);
    const saturated = binaryCrossEntropy(tf.tensor1d([1, 0]), tf.tensor1d([0, 1]));
    const value = (await saturated.data())[0] ?? Number.NaN;
    expect(Number.isFinite(value)).toBe(true);
    expect(value).toBeCloseTo(-Math.log(1e-7), 0);
  });

  it('hint loss is the sum of per-layer means', async () => {
    const teacher = [tf.tensor1d([1, 2]), tf.tensor2d([[0, 0, 0, 4]])];
    const student = [tf.tensor1d([0, 0]), tf.tensor2d([[0, 0, 0, 0]])];
    // (1 + 4) / 2 + 16 / 4 = 6.5
    expect((await summedHintMse(teacher, student).data())[0]).toBeCloseTo(6.5, 6);
  });
});

/** A one-weight model so the loop can be driven with scripted validation numbers. */
function scalarModel(): tf.LayersModel {
  const input = tf.input({ shape: [1] });
  const output = tf.layers.dense({ units: 1, kernelInitializer: 'zeros' }).apply(input) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output });
}

describe('epoch loop', () => {
  async function drive(valLosses: number[], options: { ignoreEpochs?: number; patience?: number }) {
    const model = scalarModel();
    const optimizer = new ScheduledAdam(0.1);
    const events: TrainEvent[] = [];
    let epochSeen = 0;
    const result = await runEpochLoop(
      { epochs: valLosses.length, learningRate: 0.1, lrDecayStartEpoch: 2, onEvent: (e) => events.push(e), ...options },
      {
        model,
        optimizer,
        metric: 'val_loss',
        // Each epoch writes its number into the weight, so the restored weight names the best epoch.
        trainEpoch: async (epoch) => {
          model.setWeights([tf.tensor2d([[epoch]]), tf.tensor1d([0])]);
          epochSeen = epoch;
          return 1;
        },
        validate: async () => ({ loss: valLosses[epochSeen] ?? Number.NaN }),
      },
    );
    const kept = (await model.getWeights()[0]!.data())[0];
    return { result, events, kept };
  }

  it('keeps the weights of the best eligible epoch, honouring ignoreEpochs', async () => {
    const { result, kept, events } = await drive([0.1, 0.5, 0.4, 0.3, 0.35], { ignoreEpochs: 2 });
    expect(result.bestEpoch).toBe(3);
    expect(result.bestMetric).toBeCloseTo(0.3, 9);
    expect(kept).toBe(3);
    expect(events.filter((e) => e.type === 'best-updated').map((e) => e.epoch)).toEqual([2, 3]);
    const lrs = events.flatMap((e) => (e.type === 'epoch-start' ? [e.lr] : []));
    expect(lrs).toEqual([0.1, 0.1, expect.closeTo(0.095, 12), expect.closeTo(0.09025, 12), expect.closeTo(0.0857375, 12)]);
  });

  it('stops early after `patience` epochs without improvement', async () => {
    const { result, events, kept } = await drive([0.5, 0.4, 0.45, 0.41, 0.2, 0.1], { patience: 2 });
    expect(result.history.length).toBe(4);
    expect(result.bestEpoch).toBe(1);
    expect(kept).toBe(1);
    expect(events.at(-1)).toEqual({ type: 'early-stop', epoch: 3, bestEpoch: 1 });
  });

  it('reports no best epoch when every epoch is ignored, and keeps the last weights', async () => {
    const { result, kept } = await drive([0.3, 0.2], { ignoreEpochs: 5 });
    expect(result.bestEpoch).toBe(-1);
    expect(kept).toBe(1);
  });
});
