import type * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildBluNet, buildLwUnet, buildUnet, thesisSize } from '../../../src/ml/models/index.js';
import { useTestBackend } from './setup-backend.js';

beforeAll(async () => {
  await useTestBackend();
});

function sizeOf(build: () => tf.LayersModel) {
  const model = build();
  const size = thesisSize(model);
  model.dispose();
  return size;
}

describe('thesis size accounting at width 64 (build only)', () => {
  it('U-Net: 31,030,593 fp32 = 118.372 MiB', () => {
    const s = sizeOf(() => buildUnet());
    expect(s.fp32Params).toBe(31_030_593);
    expect(s.binaryBits).toBe(0);
    expect(s.mib.toFixed(3)).toBe('118.372');
  });

  it('lw_unet: 3,933,633 fp32 = 15.006 MiB; BLU-Net: 11,780,352 bits + 7,044 fp32 = 1.4312 MiB, 82.7× smaller', () => {
    const lw = sizeOf(() => buildLwUnet());
    expect(lw.fp32Params).toBe(3_933_633);
    expect(lw.mib.toFixed(3)).toBe('15.006');
    const blu = sizeOf(() => buildBluNet());
    expect(blu.binaryBits).toBe(11_780_352);
    expect(blu.fp32Params).toBe(7_044);
    expect(blu.mib.toFixed(4)).toBe('1.4312');
    expect(((31_030_593 * 4) / 2 ** 20 / blu.mib).toFixed(1)).toBe('82.7');
  });

  it('counts each residual level as one bit plane (levels change the bits, not the fp32 count)', () => {
    const small = sizeOf(() =>
      buildBluNet({ baseFilters: 2, levels: 2, convLevels: 1, depthwiseLevels: 2, pointwiseLevels: 1, activationLevels: 2 }),
    );
    // Level 0: conv 3×3×1×2 (18 w) + 3×3×2×2 (36 w), c=1 → 54 bits; output 1×1×2×1 → 2 bits.
    // Level 1 contracting: sep(2→4): dw 3×3×2 = 18, pw 2×4 = 8; sep(4→4): dw 36, pw 16.
    // Level 0 expanding: up sep(4→2, 2×2): dw 16, pw 8; sep(4→2): dw 36, pw 8; sep(2→2): dw 18, pw 4.
    // dw total 124 × 2 levels = 248; pw total 44 × 1 = 44. Bits = 54 + 2 + 248 + 44 = 348.
    expect(small.binaryBits).toBe(348);
    // fp32: biases 2+2+4+4+2+2+2+1 = 19; gammas 3 convs × 1 + 5 sep × (2+1) + 7 activations × 2 = 32.
    expect(small.fp32Params).toBe(19 + 32);
  });

  it('separable_binarise adds the inner gammas and the depthwise bias (fp32) per separable conv, no bits', () => {
    const shape = { baseFilters: 2, levels: 2, convLevels: 1, depthwiseLevels: 2, pointwiseLevels: 1, activationLevels: 2 };
    const thesis = sizeOf(() => buildBluNet(shape));
    const variant = sizeOf(() => buildBluNet({ ...shape, separableBinarise: true }));
    expect(variant.binaryBits).toBe(thesis.binaryBits);
    // 5 separable convs × 2 gammas; depthwise biases: their input channels 2 + 4 + 4 + 4 + 2 = 16.
    expect(variant.fp32Params - thesis.fp32Params).toBe(5 * 2 + 16);
  });
});
