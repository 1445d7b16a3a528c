import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clearSampleCache, decodePair, trainPatch } from '../../../src/ml/data/index.js';
import { createRng } from '../../../src/ml/random.js';
import { dataDir, hasData } from './data-dir.js';

/** Prints figures only: speed is measured here, never asserted. */
describe.skipIf(!hasData)('debug: decode and augmentation cost (prints figures)', () => {
  it('decodes pairs and augments 256² and 512² crops', async () => {
    clearSampleCache();
    const names = ['cho31', 'cho32', 'cho33', 'cho34'];
    const pair = (name: string, scale: number) =>
      decodePair(name, path.join(dataDir, 'train/images', `${name}.png`), path.join(dataDir, 'train/masks', `${name}.png`), scale);
    for (const scale of [1, 0.5]) {
      const started = performance.now();
      for (const name of names) expect((await pair(name, scale)).ok).toBe(true);
      console.log(`[debug] decode scale ${scale}: ${((performance.now() - started) / names.length).toFixed(1)} ms/pair (uncached)`);
    }
    const cachedStart = performance.now();
    await pair('cho31', 1);
    console.log(`[debug] cached pair lookup: ${(performance.now() - cachedStart).toFixed(2)} ms`);
    const full = await pair('cho31', 1);
    if (!full.ok) return;
    const rng = createRng(1);
    for (const size of [256, 512]) {
      const repeats = 10;
      const started = performance.now();
      for (let i = 0; i < repeats; i++) trainPatch(full.value, rng, { cropSize: size });
      console.log(`[debug] crop + full augmentation at ${size}²: ${((performance.now() - started) / repeats).toFixed(1)} ms/patch`);
    }
  });
});
