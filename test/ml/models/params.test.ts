import type * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildBluNet, buildLwUnet, buildUnet } from '../../../src/ml/models/index.js';
import { useTestBackend } from './setup-backend.js';

const params = (m: tf.LayersModel) => m.countParams();

describe('parameter counts at width 64 (build only)', () => {
  beforeAll(async () => {
    await useTestBackend();
  });

  it('U-Net has exactly 31,030,593 parameters', () => {
    const m = buildUnet({ baseFilters: 64 });
    expect(params(m)).toBe(31_030_593);
    m.dispose();
  });

  it('lw_unet has exactly 3,933,633 parameters', () => {
    const m = buildLwUnet({ baseFilters: 64 });
    expect(params(m)).toBe(3_933_633);
    m.dispose();
  });

  it('BLU-Net has the lw_unet weights plus 195 gammas', () => {
    const m = buildBluNet({ baseFilters: 64 });
    expect(params(m)).toBe(3_933_633 + 195);
    m.dispose();
  });
});
