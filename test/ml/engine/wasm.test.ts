import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxPool2 } from '../../../src/ml/engine/bitmaps.js';
import { runEngineLogits } from '../../../src/ml/engine/forward.js';
import type { EngineImage } from '../../../src/ml/engine/kernels.js';
import { referenceKernels } from '../../../src/ml/engine/reference.js';
import { lexicographicRanks, loadWasmKernels, type WasmKernels } from '../../../src/ml/engine/wasm.js';
import { codeRanks } from '../../../src/ml/engine/bitmaps.js';
import { buildBluNet } from '../../../src/ml/models/index.js';
import { useTestBackend } from '../models/setup-backend.js';
import { bluNetCases, expectMatchesReference, variantCases, packedEngine, perturb, zeroSignModel } from './fixtures.js';

let dir: string;
/** Two threads whatever the machine, so the worker path is what these tests check. */
let wasm: WasmKernels;
let single: WasmKernels;
let three: WasmKernels;
const load = async (threads: number) => {
  const loaded = await loadWasmKernels({ threads });
  if (!loaded.ok) throw new Error(loaded.error.message);
  return loaded.value;
};
beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(path.join(os.tmpdir(), 'blu-engine-wasm-'));
  [wasm, single, three] = await Promise.all([load(2), load(1), load(3)]);
});
afterAll(async () => {
  await Promise.all([wasm, single, three].map((k) => k.close()));
  await rm(dir, { recursive: true, force: true });
});

const engineFor = (model: tf.LayersModel, name: string) => packedEngine(model, path.join(dir, `${name}.blupack`));

describe('wasm SIMD kernels', () => {
  for (const c of bluNetCases) {
    it(`equal the TypeScript reference and the simulation on ${c.label}`, async () => {
      // Same masks everywhere; values equal up to fp32 summation order.
      await expectMatchesReference(wasm, c, dir, 1e-4);
    });
  }

  for (const c of variantCases) {
    it(`equal the TypeScript reference and the simulation on the variant ${c.label}`, async () => {
      await expectMatchesReference(wasm, c, dir, 1e-4);
      await expectMatchesReference(single, c, dir, 1e-4);
    });
  }

  it('uses the masked XNOR kernel for exact-zero signs and still equals the reference', async () => {
    const { model, image } = zeroSignModel();
    const engine = await engineFor(model, 'zeros');
    const before = wasm.maskedConvs();
    const input = { height: 8, width: 10, pixels: image };
    const fast = runEngineLogits(engine, wasm, input);
    const ref = runEngineLogits(engine, referenceKernels, input);
    expect(wasm.maskedConvs()).toBeGreaterThan(before);
    fast.forEach((v, i) => expect(Math.abs(v - (ref[i] as number)) / Math.max(1, Math.abs(ref[i] as number))).toBeLessThan(1e-4));
    const x = { height: 8, width: 10, groups: [referenceKernels.firstBlock(input, engine.level0[0])] };
    expect(x.groups[0]?.nonzero).not.toBeNull();
    expect(Array.from(wasm.binaryConvBlock(x, engine.level0[1]).signs)).toEqual(
      Array.from(referenceKernels.binaryConvBlock(x, engine.level0[1]).signs),
    );
    model.dispose();
  });

  it('corrects exact-zero activation signs after the fast XNOR kernel (no weight zeros)', async () => {
    const { model, image } = zeroSignModel(false);
    const engine = await engineFor(model, 'act-zeros');
    expect(engine.level0[1].conv.packed.nonzero).toBeNull();
    const input = { height: 8, width: 10, pixels: image };
    const x = { height: 8, width: 10, groups: [referenceKernels.firstBlock(input, engine.level0[0])] };
    expect(x.groups[0]?.nonzero).not.toBeNull();
    const before = wasm.maskedConvs();
    const fast = wasm.binaryConvBlock(x, engine.level0[1]);
    expect(wasm.maskedConvs()).toBe(before);
    const ref = referenceKernels.binaryConvBlock(x, engine.level0[1]);
    expect(Array.from(fast.signs)).toEqual(Array.from(ref.signs));
    expect(Array.from(fast.nonzero ?? [])).toEqual(Array.from(ref.nonzero ?? []));
    const logits = runEngineLogits(engine, wasm, input);
    const refLogits = runEngineLogits(engine, referenceKernels, input);
    logits.forEach((v, i) =>
      expect(Math.abs(v - (refLogits[i] as number)) / Math.max(1, Math.abs(refLogits[i] as number))).toBeLessThan(1e-4),
    );
    model.dispose();
  });

  it('max-pool equals the reference on codes with exact zeros, odd sizes and 40 channels', () => {
    const height = 7;
    const width = 9;
    const levels = 3;
    const words = 2;
    const size = levels * height * width * words;
    let seed = 3;
    const next = () => (seed = (seed * 16807) % 2147483647);
    const mask = (w: number) => (w === 0 ? 0xffffffff : 0xff);
    const signs = Uint32Array.from({ length: size }, (_, i) => next() & mask(i % words));
    const nonzero = Uint32Array.from({ length: size }, (_, i) => (next() | next() | 0x10001) & mask(i % words));
    const g = { channels: 40, words, levels, gammas: Float32Array.of(0.61, 0.3, 0.2), signs, nonzero };
    const x = { height, width, groups: [g] };
    const fast = wasm.maxPool?.(x);
    const ref = maxPool2(x);
    expect(fast?.height).toBe(3);
    expect(Array.from(fast?.groups[0]?.signs ?? [])).toEqual(Array.from(ref.groups[0]?.signs ?? []));
    expect(Array.from(fast?.groups[0]?.nonzero ?? [])).toEqual(Array.from(ref.groups[0]?.nonzero ?? []));
  });

  it('each block equals the reference bit for bit on its sign planes (width 36, 2 words)', async () => {
    const c = bluNetCases[3]!;
    const model = buildBluNet(c.options);
    perturb(model, 21);
    const engine = await engineFor(model, 'blocks');
    const image = {
      height: c.height,
      width: c.width,
      pixels: Float32Array.from({ length: c.height * c.width }, (_, i) => ((i * 7919) % 101) / 101),
    };
    const first = wasm.firstBlock(image, engine.level0[0]);
    const firstRef = referenceKernels.firstBlock(image, engine.level0[0]);
    expect(Array.from(first.signs)).toEqual(Array.from(firstRef.signs));
    const x = { height: c.height, width: c.width, groups: [firstRef] };
    expect(Array.from(wasm.binaryConvBlock(x, engine.level0[1]).signs)).toEqual(
      Array.from(referenceKernels.binaryConvBlock(x, engine.level0[1]).signs),
    );
    model.dispose();
  });

  it('gives the same bits on 1, 2 and 3 threads (every case, and exact-zero signs in weights and activations)', async () => {
    expect([single.threads, wasm.threads, three.threads]).toEqual([1, 2, 3]);
    const inputs: { model: tf.LayersModel; name: string; input: EngineImage }[] = bluNetCases.map((c) => {
      const model = buildBluNet(c.options);
      perturb(model, c.seed + 7);
      return {
        model,
        name: `threads-w${c.seed}`,
        input: {
          height: c.height,
          width: c.width,
          pixels: Float32Array.from(tf.randomUniform([c.height * c.width], 0, 1, 'float32', c.seed + 300).dataSync()),
        },
      };
    });
    for (const weightZeros of [true, false]) {
      const { model, image } = zeroSignModel(weightZeros);
      inputs.push({ model, name: `threads-zeros-${weightZeros}`, input: { height: 8, width: 10, pixels: image } });
    }
    for (const { model, name, input } of inputs) {
      const engine = await engineFor(model, name);
      const one = runEngineLogits(engine, single, input);
      expect(Array.from(runEngineLogits(engine, wasm, input))).toEqual(Array.from(one));
      expect(Array.from(runEngineLogits(engine, three, input))).toEqual(Array.from(one));
      model.dispose();
    }
  });

  it('max-pool without zeros equals the reference, bitwise when values order like the bits, by rank otherwise', () => {
    const height = 9;
    const width = 11;
    let seed = 5;
    const next = () => (seed = (seed * 16807) % 2147483647);
    const cases = [
      { gammas: Float32Array.of(0.61, 0.3, 0.2), lexicographic: true },
      { gammas: Float32Array.of(0.4, 0.3, 0.2), lexicographic: false },
      { gammas: Float32Array.of(0.5, 0.25), lexicographic: true },
      { gammas: Float32Array.of(0.7), lexicographic: true },
    ];
    for (const { gammas, lexicographic } of cases) {
      const levels = gammas.length;
      const words = 2;
      const signs = Uint32Array.from(
        { length: levels * height * width * words },
        (_, i) => next() & (i % words === 0 ? 0xffffffff : 0x3ff),
      );
      const g = { channels: 42, words, levels, gammas, signs, nonzero: null };
      expect(lexicographicRanks(codeRanks(g), levels)).toBe(lexicographic);
      const x = { height, width, groups: [g] };
      const ref = maxPool2(x);
      for (const k of [single, wasm, three]) {
        const fast = k.maxPool?.(x);
        expect(Array.from(fast?.groups[0]?.signs ?? [])).toEqual(Array.from(ref.groups[0]?.signs ?? []));
        expect(fast?.groups[0]?.nonzero).toBeNull();
      }
    }
  });
});
