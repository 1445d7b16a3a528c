import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeRanks, maxPool2, upsample2 } from '../../../src/ml/engine/bitmaps.js';
import { runEngineLogits } from '../../../src/ml/engine/forward.js';
import { loadNativeKernels, nativeAddonFile, nativeEngineInfo, type NativeIsa } from '../../../src/ml/engine/native.js';
import { referenceKernels } from '../../../src/ml/engine/reference.js';
import { lexicographicRanks, loadWasmKernels, type WasmKernels } from '../../../src/ml/engine/wasm.js';
import { buildBluNet } from '../../../src/ml/models/index.js';
import { useTestBackend } from '../models/setup-backend.js';
import { trainSupervised } from '../../../src/ml/train/index.js';
import { hasData } from '../data/data-dir.js';
import { realCrops } from '../train/real-crops.js';
import { bluNetCases, expectMatchesReference, packedEngine, perturb, simulate, variantCases, zeroSignModel } from './fixtures.js';

// Mandatory wherever the addon is built (npm ci builds it when a compiler is present); skipped
// with the reason otherwise, since the wasm engine is then what runs.
const addon = nativeAddonFile(process.env);
// The wasm FMA build is the native FMA paths' bit-for-bit twin; Node 20 needs this flag for it (fma.test.ts).
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
if (!addon.ok) console.warn(`native engine tests skipped: ${addon.error.message}`);

/** Every instruction set this CPU runs: the best first, then the narrower paths it can also take. */
function isasHere(): Exclude<NativeIsa, 'auto'>[] {
  const info = nativeEngineInfo();
  if (!info.ok) return [];
  const order: Exclude<NativeIsa, 'auto'>[] = ['avx512', 'avx2', 'portable'];
  return order.slice(order.indexOf(info.value.best as Exclude<NativeIsa, 'auto'>));
}

describe.skipIf(!addon.ok)('native engine kernels', () => {
  let dir: string;
  const kernels = new Map<string, WasmKernels>();
  let wasm: WasmKernels;
  let wasmFma: WasmKernels;
  const load = async (isa: NativeIsa, threads: number) => {
    const loaded = await loadNativeKernels({ isa, threads });
    if (!loaded.ok) throw new Error(loaded.error.message);
    return loaded.value;
  };
  beforeAll(async () => {
    await useTestBackend();
    dir = await mkdtemp(path.join(os.tmpdir(), 'blu-engine-native-'));
    for (const isa of isasHere()) {
      kernels.set(`${isa}/1`, await load(isa, 1));
      kernels.set(`${isa}/2`, await load(isa, 2));
    }
    const [w, f] = await Promise.all([loadWasmKernels({ threads: 1, fma: false }), loadWasmKernels({ threads: 1, fma: true })]);
    if (!w.ok || !f.ok) throw new Error(`wasm engine: ${w.ok ? '' : w.error.message} ${f.ok ? '' : f.error.message}`);
    [wasm, wasmFma] = [w.value, f.value];
  });
  afterAll(async () => {
    await Promise.all([wasm.close(), wasmFma.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('runs on this CPU with its best instruction set by default', async () => {
    expect(isasHere().length).toBeGreaterThan(0);
    const auto = await load('auto', 1);
    expect(auto.name).toBe(kernels.get(`${isasHere()[0]}/1`)?.name);
  });

  for (const c of [...bluNetCases, ...variantCases]) {
    it(`equals the TypeScript reference, the simulation and the wasm engine on ${c.label}, on every instruction set and 1–2 threads`, async () => {
      for (const [key, k] of kernels) {
        const { engine, input, logits } = await expectMatchesReference(k, c, dir, 1e-4).catch((e: unknown) => {
          throw new Error(`${key}: ${e instanceof Error ? e.message : String(e)}`);
        });
        const fromWasm = runEngineLogits(engine, wasm, input);
        logits.forEach((v, i) => expect(v > 0, `${key} pixel ${i}`).toBe((fromWasm[i] as number) > 0));
      }
    });
  }

  it('gives the same bits on 1 and 2 threads, and handles exact-zero signs in weights and activations', async () => {
    for (const weightZeros of [true, false]) {
      const { model, image } = zeroSignModel(weightZeros);
      const engine = await packedEngine(model, path.join(dir, `zeros-${weightZeros}.blupack`));
      const input = { height: 8, width: 10, pixels: image };
      const ref = runEngineLogits(engine, referenceKernels, input);
      for (const isa of isasHere()) {
        const one = runEngineLogits(engine, kernels.get(`${isa}/1`) as WasmKernels, input);
        expect(Array.from(runEngineLogits(engine, kernels.get(`${isa}/2`) as WasmKernels, input))).toEqual(Array.from(one));
        one.forEach((v, i) => expect(Math.abs(v - (ref[i] as number)) / Math.max(1, Math.abs(ref[i] as number))).toBeLessThan(1e-4));
      }
      model.dispose();
    }
  });

  it('with exact-zero weight signs (the masked XNOR conv), equals the wasm engine bit for bit at several level counts', async () => {
    // The AVX-512 path runs the masked conv vectorised (8 filters per tile, two popcounts per
    // unit); its counts and float order must stay those of the scalar kernel and kernels.wasm.
    const variants = [{}, { activationLevels: 2, convLevels: 1 }, { activationLevels: 1, convLevels: 2 }];
    for (const [i, variant] of variants.entries()) {
      const { model, image } = zeroSignModel(true, variant);
      const engine = await packedEngine(model, path.join(dir, `weight-zeros-${i}.blupack`));
      model.dispose();
      const input = { height: 8, width: 10, pixels: image };
      const before = wasm.maskedConvs();
      const plain = Array.from(runEngineLogits(engine, wasm, input));
      expect(wasm.maskedConvs(), `variant ${i}`).toBeGreaterThan(before);
      const fused = Array.from(runEngineLogits(engine, wasmFma, input));
      for (const [key, k] of kernels)
        expect(Array.from(runEngineLogits(engine, k, input)), `variant ${i}, ${key}`).toEqual(key.startsWith('portable') ? plain : fused);
    }
  });

  it('reads an upsampled input in place: a block on x equals the block on upsample2(x) and its wasm twin bit for bit (2×2 and 3×3, both variants, with zeros, 256 channels)', async () => {
    let seed = 5;
    const next = () => (seed = (seed * 16807) % 2147483647);
    for (const separableBinarise of [false, true]) {
      // 256 input channels: rows and weights a cache line longer per pixel and tap (kernels.h depthwiseStride).
      const model = buildBluNet({ baseFilters: 64, levels: 3, separableBinarise });
      perturb(model, 41);
      const engine = await packedEngine(model, path.join(dir, `w64-up-${separableBinarise}.blupack`));
      model.dispose();
      const blocks = { '2×2': engine.expanding[0]!.up, '3×3': engine.contracting[1]![1] };
      for (const [kind, block] of Object.entries(blocks)) {
        const channels = block.conv.depthwise.cin;
        expect(channels).toBe(256);
        const words = Math.ceil(channels / 32);
        // Output widths 2 (one pixel at a time), 10 and 18 (an overlapping last block), 24.
        for (const [height, width, zeros] of [
          [1, 1, false],
          [3, 5, true],
          [4, 9, false],
          [5, 12, true],
        ] as const) {
          const size = 3 * height * width * words;
          const signs = Uint32Array.from({ length: size }, () => next());
          const nonzero = zeros ? Uint32Array.from({ length: size }, () => next() | next()) : null;
          const x = { height, width, groups: [{ channels, words, levels: 3, gammas: Float32Array.of(0.6, 0.3, 0.15), signs, nonzero }] };
          const twins = { plain: wasm.separableBlock(upsample2(x), block), fused: wasmFma.separableBlock(upsample2(x), block) };
          for (const [key, k] of kernels) {
            const label = `${key}, ${kind}, binarise ${separableBinarise}, ${height}×${width}`;
            const inPlace = k.separableUpsampledBlock?.(x, block);
            const twin = key.startsWith('portable') ? twins.plain : twins.fused;
            expect(inPlace, label).toBeDefined();
            expect(Array.from(inPlace?.signs ?? []), label).toEqual(Array.from(twin.signs));
            expect(Array.from(inPlace?.nonzero ?? []), label).toEqual(Array.from(twin.nonzero ?? []));
            expect(Array.from(k.separableBlock(upsample2(x), block).signs), label).toEqual(Array.from(twin.signs));
          }
        }
      }
    }
  });

  it('max-pool equals the reference, with and without zeros', () => {
    let seed = 7;
    const next = () => (seed = (seed * 16807) % 2147483647);
    const [height, width, words] = [9, 11, 2];
    for (const gammas of [Float32Array.of(0.61, 0.3, 0.2), Float32Array.of(0.4, 0.3, 0.2)]) {
      for (const zeros of [false, true]) {
        const size = 3 * height * width * words;
        const mask = (i: number) => (i % words === 0 ? 0xffffffff : 0x3ff);
        const signs = Uint32Array.from({ length: size }, (_, i) => next() & mask(i));
        const nonzero = zeros ? Uint32Array.from({ length: size }, (_, i) => (next() | next() | 0x10001) & mask(i)) : null;
        const x = { height, width, groups: [{ channels: 42, words, levels: 3, gammas, signs, nonzero }] };
        if (!zeros) expect(lexicographicRanks(codeRanks(x.groups[0]!), 3)).toBe((gammas[0] as number) > 0.5);
        const ref = maxPool2(x);
        for (const k of kernels.values()) {
          const fast = k.maxPool?.(x);
          expect(Array.from(fast?.groups[0]?.signs ?? [])).toEqual(Array.from(ref.groups[0]?.signs ?? []));
          expect(Array.from(fast?.groups[0]?.nonzero ?? [])).toEqual(Array.from(ref.groups[0]?.nonzero ?? []));
        }
      }
    }
  });

  it('equals the wasm engine bit for bit on a width-64 BLU-Net at 64×48: portable = plain SIMD, AVX2 and AVX-512 = relaxed-SIMD FMA', async () => {
    // Width 64 takes the GEMM's 12-pixel × 32-filter tiles and 2-word XNOR patches. The FMA
    // paths fuse the same multiply-adds in the same order as kernels-fma.wasm; the portable
    // path fuses none, like kernels.wasm. (Plain vs fused differ by rounding, which can flip a
    // sign near a threshold: 1 mask pixel of 3072 here.)
    const model = buildBluNet({ baseFilters: 64, levels: 3 });
    perturb(model, 31);
    const engine = await packedEngine(model, path.join(dir, 'w64.blupack'));
    model.dispose();
    const input = { height: 64, width: 48, pixels: Float32Array.from(tf.randomUniform([64 * 48], 0, 1, 'float32', 5).dataSync()) };
    const plain = Array.from(runEngineLogits(engine, wasm, input));
    const fused = Array.from(runEngineLogits(engine, wasmFma, input));
    for (const [key, k] of kernels)
      expect(Array.from(runEngineLogits(engine, k, input)), key).toEqual(key.startsWith('portable') ? plain : fused);
  });

  // 3 levels, and the study's fast variant sep_a2w2 (2 activation and XNOR weight levels).
  const separableLevels = [
    { name: 'a3 c3 d3 p3', levels: {} },
    { name: 'a2 c2 d3 p2', levels: { activationLevels: 2, convLevels: 2, depthwiseLevels: 3, pointwiseLevels: 2 } },
  ];
  for (const { name, levels } of separableLevels) {
    it(`with separable_binarise ${name}, equals the wasm engine bit for bit at width 64, 32×24 (portable = plain SIMD, AVX = FMA)`, async () => {
      // The depthwise feeding the inner binariser is unfused on every path, so only the first conv
      // (fused on the AVX paths and in kernels-fma.wasm) tells the two wasm builds apart.
      const model = buildBluNet({ baseFilters: 64, levels: 2, separableBinarise: true, ...levels });
      perturb(model, 32);
      const engine = await packedEngine(model, path.join(dir, `w64-sb-${name.replaceAll(' ', '')}.blupack`));
      model.dispose();
      expect(engine.contracting[0]?.[0].conv.binarised).not.toBeNull();
      const input = { height: 32, width: 24, pixels: Float32Array.from(tf.randomUniform([32 * 24], 0, 1, 'float32', 6).dataSync()) };
      const plain = Array.from(runEngineLogits(engine, wasm, input));
      const fused = Array.from(runEngineLogits(engine, wasmFma, input));
      const ref = runEngineLogits(engine, referenceKernels, input);
      plain.forEach((v, i) => expect(v > 0, `pixel ${i}`).toBe((ref[i] as number) > 0));
      for (const [key, k] of kernels)
        expect(Array.from(runEngineLogits(engine, k, input)), key).toEqual(key.startsWith('portable') ? plain : fused);
    });
  }

  it('with separable_binarise and zero depthwise biases (as initialised), every engine takes the same signs: masks equal the reference on every ISA and both wasm builds', async () => {
    // One level: depthwise sums of ±p that cancel exactly (border pixels) are 0 only when every
    // engine adds unfused in tap order; a fused sum leaves ±1e-8 there and flips the inner sign.
    const options = { separableBinarise: true, activationLevels: 1, convLevels: 1, depthwiseLevels: 1, pointwiseLevels: 1 };
    const model = buildBluNet({ baseFilters: 16, levels: 3, seed: 33, ...options });
    perturb(model, 33);
    for (const layer of model.layers.filter((l) => l.getClassName() === 'BinarySeparableConv2D')) {
      const weights = layer.getWeights();
      layer.setWeights([...weights.slice(0, 6), tf.zerosLike(weights[6] as tf.Tensor)]);
    }
    const engine = await packedEngine(model, path.join(dir, 'sb-zero-bias.blupack'));
    model.dispose();
    const input = { height: 48, width: 40, pixels: Float32Array.from(tf.randomUniform([48 * 40], 0, 1, 'float32', 8).dataSync()) };
    const ref = runEngineLogits(engine, referenceKernels, input);
    for (const [key, k] of [...kernels, ['wasm', wasm], ['wasm-fma', wasmFma]] as const) {
      const logits = runEngineLogits(engine, k, input);
      const beyondTies = Array.from(logits).filter((v, i) => {
        const [p, q] = [1 / (1 + Math.exp(-v)), 1 / (1 + Math.exp(-(ref[i] as number)))];
        return p > 0.5 !== q > 0.5 && Math.abs(p - q) > 1e-4;
      });
      expect(beyondTies.length, key).toBe(0);
    }
  });

  const trainedVariants = [
    { label: 'the thesis variant', options: {} },
    {
      label: 'separable_binarise a1 c1 d1 p1',
      options: { separableBinarise: true, activationLevels: 1, convLevels: 1, depthwiseLevels: 1, pointwiseLevels: 1 },
    },
  ] as const;
  for (const variant of trainedVariants) {
    it.skipIf(!hasData)(
      `on a BLU-Net (${variant.label}) trained on real BBBC030 crops: equals its wasm twin bit for bit, the reference's and the simulation's masks on a real 128×128 crop`,
      async () => {
        const model = buildBluNet({ baseFilters: 8, levels: 3, seed: 4, ...variant.options });
        const train = await realCrops(['cho21', 'cho22', 'cho23', 'cho24'], 64);
        const trained = await trainSupervised(
          model,
          { train, validation: train },
          {
            epochs: 12,
            learningRate: 1e-2,
            lrDecayStartEpoch: 10,
            batchSize: 4,
            cropSize: 64,
            seed: 1,
            augment: false,
            bestMetric: 'val_iou',
          },
        );
        expect(trained.ok).toBe(true);
        const engine = await packedEngine(model, path.join(dir, 'trained.blupack'));
        const [crop] = await realCrops(['cho25'], 128);
        const input = { height: 128, width: 128, pixels: (crop as { image: Float32Array }).image };
        const sim = simulate(model, input.pixels, 128, 128);
        model.dispose();
        const plain = Array.from(runEngineLogits(engine, wasm, input));
        const fused = Array.from(runEngineLogits(engine, wasmFma, input));
        const ref = runEngineLogits(engine, referenceKernels, input);
        // Masks equal except ties (probabilities within 1e-4 of each other).
        const beyondTies = (logits: ArrayLike<number>, other: (i: number) => number) =>
          Array.from(logits).filter((v, i) => {
            const [p, q] = [1 / (1 + Math.exp(-v)), other(i)];
            return p > 0.5 !== q > 0.5 && Math.abs(p - q) > 1e-4;
          }).length;
        expect(beyondTies(plain, (i) => 1 / (1 + Math.exp(-(ref[i] as number))))).toBe(0);
        for (const [key, k] of kernels) {
          const logits = runEngineLogits(engine, k, input);
          expect(Array.from(logits), key).toEqual(key.startsWith('portable') ? plain : fused);
          expect(
            beyondTies(logits, (i) => sim.probabilities[i] as number),
            key,
          ).toBe(0);
        }
      },
      180_000,
    );
  }
});
