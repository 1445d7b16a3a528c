import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildBluNet,
  buildLwUnet,
  buildModel,
  buildUnet,
  HINT_DECODER_INDICES,
  HINT_ENCODER_INDICES,
  tapModel,
} from '../../../src/ml/models/index.js';
import { useTestBackend } from './setup-backend.js';

const SMALL = { baseFilters: 4, seed: 3 };
let unet: tf.LayersModel;
let lw: tf.LayersModel;
let blu: tf.LayersModel;

beforeAll(async () => {
  await useTestBackend();
  unet = buildUnet(SMALL);
  lw = buildLwUnet(SMALL);
  blu = buildBluNet(SMALL);
});
afterAll(() => {
  for (const m of [unet, lw, blu]) m.dispose();
});

describe('model shapes at small width', () => {
  it('all three map a 32×32 image to a 32×32 probability map', () => {
    const x = tf.randomUniform([1, 32, 32, 1], 0, 1, 'float32', 7);
    for (const m of [unet, lw, blu]) {
      const y = m.predict(x) as tf.Tensor;
      expect(y.shape).toEqual([1, 32, 32, 1]);
      const values = y.dataSync();
      expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...values)).toBeLessThanOrEqual(1);
      y.dispose();
    }
    x.dispose();
  });

  it('is fully convolutional: a 48×64 input works too', () => {
    const x = tf.zeros([1, 48, 64, 1]);
    expect((unet.predict(x) as tf.Tensor).shape).toEqual([1, 48, 64, 1]);
  });

  it('follows the thesis layer index table in U-Net and lw_unet', () => {
    for (const m of [unet, lw]) {
      expect(m.layers).toHaveLength(36);
      const classAt = (i: number) => m.layers[i]?.getClassName();
      expect(classAt(0)).toBe('InputLayer');
      for (const i of [3, 6, 9, 12]) expect(classAt(i)).toBe('MaxPooling2D');
      for (const i of [15, 20, 25, 30]) expect(classAt(i)).toBe('UpSampling2D');
      for (const i of [17, 22, 27, 32]) expect(classAt(i)).toBe('Concatenate');
      expect(m.layers[35]?.name).toBe(m === unet ? 'output' : 'logit_output');
      expect(m.layers[16]?.name).toMatch(/^Level3_.*Expanding_.*Conv2D_1$/);
    }
    expect(lw.layers[1]?.getClassName()).toBe('Conv2D');
    expect(lw.layers[4]?.getClassName()).toBe('SeparableConv2D');
    expect(lw.layers[16]?.getClassName()).toBe('SeparableConv2D');
    expect(lw.layers[35]?.getClassName()).toBe('Conv2D');
  });

  it('BLU-Net has 22 sign activations, 2+1 binary convs, 20 binary separable convs and no ReLU', () => {
    const count = (cls: string) => blu.layers.filter((l) => l.getClassName() === cls).length;
    expect(count('BinarySignActivation')).toBe(22);
    expect(count('BinaryConv2D')).toBe(3);
    expect(count('BinarySeparableConv2D')).toBe(20);
    expect(blu.layers.at(-1)?.getClassName()).toBe('Activation');
    expect(JSON.stringify(blu.toJSON(null, false))).not.toContain('relu');
  });

  it('initialises kernels like Keras he_normal: std sqrt(2 / fan_in), zero biases', () => {
    const m = buildUnet({ baseFilters: 8, seed: 2 });
    // Level 4 second conv: 3×3×128×128 = 147,456 weights, fan_in = 1152.
    const [kernel, bias] = m.getLayer('Level4_Contracting_Conv2D_2').getWeights() as [tf.Tensor, tf.Tensor];
    const { variance } = tf.moments(kernel);
    const std = Math.sqrt(variance.dataSync()[0] as number);
    expect(Math.abs(std / Math.sqrt(2 / 1152) - 1)).toBeLessThan(0.02);
    expect(Math.max(...bias.dataSync().map(Math.abs))).toBe(0);
    m.dispose();
  });

  it('buildModel returns errors as values', () => {
    const bad = buildModel('unet', { baseFilters: 0 });
    expect(bad.ok).toBe(false);
    const good = buildModel('blu_net', { baseFilters: 2, levels: 2 });
    expect(good.ok && good.value.name).toBe('blu_net');
  });
});

describe('hint taps', () => {
  it('teacher (U-Net) and student (lw_unet) taps have equal shapes, and share weights', () => {
    const x = tf.randomUniform([1, 32, 32, 1], 0, 1, 'float32', 9);
    for (const indices of [HINT_ENCODER_INDICES, HINT_DECODER_INDICES]) {
      const teacher = tapModel(unet, indices).predict(x) as tf.Tensor[];
      const student = tapModel(lw, indices).predict(x) as tf.Tensor[];
      expect(teacher).toHaveLength(indices.length);
      expect(teacher.map((t) => t.shape)).toEqual(student.map((t) => t.shape));
      tf.dispose([...teacher, ...student]);
    }
    const taps = tapModel(unet, [35]);
    expect(taps.weights.map((w) => w.name)).toEqual(unet.weights.map((w) => w.name));
    const viaTap = taps.predict(x) as tf.Tensor;
    const direct = unet.predict(x) as tf.Tensor;
    expect(Array.from(viaTap.dataSync())).toEqual(Array.from(direct.dataSync()));
  });

  it('encoder taps have the level widths 4,4,8,8,16,16,32,32,64,64', () => {
    const taps = tapModel(lw, HINT_ENCODER_INDICES);
    expect(taps.outputs.map((o) => o.shape[3])).toEqual([4, 4, 8, 8, 16, 16, 32, 32, 64, 64]);
  });

  it('rejects an index outside the model', () => {
    expect(() => tapModel(unet, [36])).toThrow(RangeError);
  });
});
