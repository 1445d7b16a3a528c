import { TEST_BACKEND } from '../test-backend.js';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend/index.js';
import {
  binaryCrossEntropy,
  binaryCrossEntropyFromLogits,
  constantOutput,
  detectCollapse,
  learningRateAt,
  softDiceLoss,
  summedHintMse,
  type TrainEvent,
} from '../../../src/ml/train/index.js';
import { runEpochLoop } from '../../../src/ml/train/loop.js';
import { ScheduledAdam } from '../../../src/ml/train/optimizer.js';
import { trainingForward } from '../../../src/ml/train/supervised.js';

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

  it('BCE from logits equals BCE on sigmoid probabilities, and keeps a gradient where the sigmoid saturates', async () => {
    const truth = tf.tensor1d([1, 0, 1]);
    const logits = tf.tensor1d([1.5, -0.3, 2]);
    const fromLogits = (await binaryCrossEntropyFromLogits(truth, logits).data())[0] ?? Number.NaN;
    expect(fromLogits).toBeCloseTo((await binaryCrossEntropy(truth, tf.sigmoid(logits)).data())[0] ?? Number.NaN, 5);
    // A logit of 40 (σ = 1 in float32) on a background pixel: the clipped form has no gradient, this one σ − y = 1.
    const saturated = tf.tensor1d([40]);
    const clipped = tf.grad((z: tf.Tensor) => binaryCrossEntropy(tf.tensor1d([0]), tf.sigmoid(z)))(saturated);
    const stable = tf.grad((z: tf.Tensor) => binaryCrossEntropyFromLogits(tf.tensor1d([0]), z))(saturated);
    expect((await clipped.data())[0]).toBe(0);
    expect((await stable.data())[0]).toBeCloseTo(1, 6);
  });

  it('trains on the logits of a separate sigmoid layer (BLU-Net), on probabilities of a fused one (U-Net)', () => {
    const input = tf.input({ shape: [1] });
    const dense = tf.layers.dense({ units: 1, kernelInitializer: 'ones', biasInitializer: 'zeros' });
    const separate = tf.model({
      inputs: input,
      outputs: tf.layers.activation({ activation: 'sigmoid' }).apply(dense.apply(input)) as tf.SymbolicTensor,
    });
    const fused = tf.model({
      inputs: input,
      outputs: tf.layers.dense({ units: 1, activation: 'sigmoid' }).apply(input) as tf.SymbolicTensor,
    });
    const x = tf.tensor2d([[40]]);
    const viaLogits = trainingForward(separate)(x);
    expect(viaLogits.logits?.dataSync()[0]).toBe(40);
    expect(viaLogits.probabilities.dataSync()[0]).toBe(1);
    expect(trainingForward(fused)(x).logits).toBeUndefined();
  });

  it('soft Dice is 1 − (2·overlap + 1)/(Σp + Σy + 1) per image, mean over the batch', async () => {
    const truth = tf.tensor4d([1, 0, 1, 0, 0, 0, 0, 0], [2, 2, 2, 1]);
    const p = tf.tensor4d([0.5, 0.5, 1, 0, 0, 0, 0, 0.5], [2, 2, 2, 1]);
    // image 1: overlap 1.5, Σp 2, Σy 2 -> 1 - 4/5 = 0.2; image 2: overlap 0, Σp 0.5, Σy 0 -> 1 - 1/1.5 = 1/3
    expect((await softDiceLoss(truth, p).data())[0]).toBeCloseTo((0.2 + 1 / 3) / 2, 6);
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
  async function drive(
    valLosses: number[],
    options: { ignoreEpochs?: number; patience?: number; stepsPerEpoch?: number; totalSteps?: number; maxSeconds?: number },
    valIous?: number[],
  ) {
    const model = scalarModel();
    const optimizer = new ScheduledAdam(0.1);
    const events: TrainEvent[] = [];
    let epochSeen = 0;
    const stepsSeen: (number | undefined)[] = [];
    const result = await runEpochLoop(
      { epochs: valLosses.length, learningRate: 0.1, lrDecayStartEpoch: 2, onEvent: (e) => events.push(e), ...options },
      {
        model,
        optimizer,
        metric: 'val_loss',
        // Each epoch writes its number into the weight, so the restored weight names the best epoch.
        trainEpoch: async (epoch, steps) => {
          model.setWeights([tf.tensor2d([[epoch]]), tf.tensor1d([0])]);
          epochSeen = epoch;
          stepsSeen.push(steps);
          if (options.maxSeconds !== undefined) await new Promise((resolve) => setTimeout(resolve, 30));
          return 1;
        },
        validate: async () => ({ loss: valLosses[epochSeen] ?? Number.NaN, ...(valIous ? { iou: valIous[epochSeen] ?? 0 } : {}) }),
      },
    );
    const kept = (await model.getWeights()[0]!.data())[0];
    return { result, events, kept, stepsSeen };
  }

  it('runs a step budget: full intervals, the last one cut, the step of each validation recorded', async () => {
    const { result, stepsSeen } = await drive([0.5, 0.4, 0.3], { stepsPerEpoch: 20, totalSteps: 50 });
    expect(stepsSeen).toEqual([20, 20, 10]);
    expect(result.history.map((h) => h.step)).toEqual([20, 40, 50]);
  });

  it('stops at the wall-time cap after validating the interval it is in', async () => {
    const { result, events } = await drive([0.5, 0.4, 0.3, 0.2], { maxSeconds: 0.001 });
    expect(result.history).toHaveLength(1);
    expect(result.stoppedBy).toBe('time');
    expect(events.at(-1)).toMatchObject({ type: 'time-limit', epoch: 0 });
  });

  it('never keeps a validation that predicts nothing, even at the lowest val loss', async () => {
    const { result, kept } = await drive([0.1, 0.3, 0.2], {}, [0, 0.4, 0.5]);
    expect(result.bestEpoch).toBe(2);
    expect(kept).toBe(2);
    const none = await drive([0.1, 0.2], {}, [0, 0]);
    expect(none.result.bestEpoch).toBe(-1);
    expect(none.kept).toBe(1);
  });

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

describe('epoch loop with the plateau rule (issue 22)', () => {
  /** Drives the loop on val IoU with scripted values; each epoch's weight is its number. */
  async function driveIou(ious: number[], plateau: { patience: number; lrDrops: number }) {
    const model = scalarModel();
    const optimizer = new ScheduledAdam(0.1);
    const events: TrainEvent[] = [];
    let epochSeen = 0;
    const result = await runEpochLoop(
      {
        epochs: ious.length,
        learningRate: 0.1,
        smoothing: { window: 2 },
        plateau: { ...plateau, minDelta: 0.01, lrFactor: 0.5, minValidations: 0 },
        onEvent: (e) => events.push(e),
      },
      {
        model,
        optimizer,
        metric: 'val_iou',
        trainEpoch: async (epoch) => {
          model.setWeights([tf.tensor2d([[epoch]]), tf.tensor1d([0])]);
          epochSeen = epoch;
          return 1;
        },
        validate: async () => ({ loss: 1, iou: ious[epochSeen] ?? 0 }),
      },
    );
    const kept = (await model.getWeights()[0]!.data())[0];
    const lrs = events.flatMap((e) => (e.type === 'epoch-start' ? [e.lr] : []));
    return { result, kept, lrs };
  }

  // Raw 0.2, 0.7, 0.1, 0.5, 0.5 … → trailing means of 2: 0.2, 0.45, 0.4, 0.3, 0.5, 0.5, …
  const IOUS = [0.2, 0.7, 0.1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5];

  it('keeps the best smoothed validation, not the best single one, and stops on a plateau', async () => {
    const { result, kept, lrs } = await driveIou(IOUS, { patience: 3, lrDrops: 0 });
    // 0.5 at epoch 4 beats 0.45 + 0.01; epochs 5, 6, 7 do not beat 0.51 → stop after epoch 7.
    expect(result.history.map((h) => h.smoothed)).toEqual([0.2, 0.45, 0.4, 0.3, 0.5, 0.5, 0.5, 0.5].map((v) => expect.closeTo(v, 12)));
    expect(result.bestEpoch).toBe(4);
    expect(kept).toBe(4);
    expect(result.stoppedBy).toBe('plateau');
    expect(result.lrDrops).toEqual([]);
    // The plateau rule replaces the thesis decay (which would lower lr from epoch 5 of 10).
    expect(lrs).toEqual(Array.from({ length: 8 }, () => 0.1));
  });

  it('drops the lr once before it stops, and says when the budget ran out first', async () => {
    const dropped = await driveIou(IOUS, { patience: 2, lrDrops: 1 });
    // Plateau after epochs 2, 3 (drop; lr 0.05 from epoch 4); 0.5 at epoch 4 is new; epochs 5, 6 → stop.
    expect(dropped.result.lrDrops).toEqual([{ epoch: 3, lr: 0.05 }]);
    expect(dropped.lrs).toEqual([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05]);
    expect(dropped.result.stoppedBy).toBe('plateau');
    const budget = await driveIou(IOUS, { patience: 100, lrDrops: 0 });
    expect(budget.result.history).toHaveLength(10);
    expect(budget.result.stoppedBy).toBe('budget');
  });

  it('does not stop a model that has not left val IoU 0', async () => {
    const zeros = await driveIou([0, 0, 0, 0, 0, 0], { patience: 1, lrDrops: 0 });
    expect(zeros.result.history).toHaveLength(6);
    expect(zeros.result.stoppedBy).toBe('budget');
  });
});

describe('collapse detection', () => {
  const record = (epoch: number, iou: number, range?: [number, number], allForegroundIou?: number) => ({
    epoch,
    loss: 1,
    lr: 1,
    seconds: 1,
    val: { loss: 1, iou, ...(range ? { outputRange: range } : {}), ...(allForegroundIou !== undefined ? { allForegroundIou } : {}) },
  });

  it('flags a phase that never beat the all-foreground mask, and passes one that did', () => {
    const stuck = [record(20, 0.0034, [0, 1], 0.02), record(40, 0, [0, 1], 0.02)];
    expect(detectCollapse(stuck, 20)).toBe('val IoU never beat the all-foreground mask (max 0.0034 ≤ 0.020 over 2 validations)');
    expect(detectCollapse([...stuck, record(60, 0.05, [0, 1], 0.02)], 60)).toBeNull();
  });

  it('flags a phase whose val IoU never left 0', () => {
    expect(detectCollapse([record(0, 0), record(1, 0.0004)], -1)).toMatch(/^val IoU never left 0 \(max 0\.00040 over 2 validations\)/);
  });

  it('flags kept weights with a constant output, and passes a model that learned', () => {
    expect(detectCollapse([record(0, 0.2, [0.4, 0.405]), record(1, 0.1, [0, 1])], 0)).toMatch(/^constant output/);
    expect(detectCollapse([record(0, 0.2, [0.01, 0.99])], 0)).toBeNull();
    expect(detectCollapse([{ epoch: 0, loss: 1, lr: 1, seconds: 1, val: { loss: 0.2 } }], 0)).toBeNull(); // hint phases have no IoU
    expect(constantOutput([0.5, 0.5], 'test')).toBe('constant output: every test probability in [0.500, 0.500]');
  });
});
