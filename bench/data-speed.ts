/**
 * Data benchmark (`npm run bench:data`): the cost of decoding BBBC030 pairs and of cropping and
 * augmenting training patches. Prints figures; asserts nothing.
 * Data: BLU_DATA_DIR, else ../shared/data/bbbc030 beside the project.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clearSampleCache, decodePair, trainPatch } from '../src/ml/data/index.js';
import { createRng } from '../src/ml/random.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dataDir = process.env.BLU_DATA_DIR ?? path.resolve(projectRoot, '../shared/data/bbbc030');
const names = ['cho31', 'cho32', 'cho33', 'cho34'];
const pair = (name: string, scale: number) =>
  decodePair(name, path.join(dataDir, 'train/images', `${name}.png`), path.join(dataDir, 'train/masks', `${name}.png`), scale);

async function main(): Promise<number> {
  if (!existsSync(path.join(dataDir, 'train/images'))) {
    console.error(`bench:data: no data set at ${dataDir}; set BLU_DATA_DIR to a folder with train/images and train/masks`);
    return 2;
  }
  clearSampleCache();
  for (const scale of [1, 0.5]) {
    const started = performance.now();
    for (const name of names) if (!(await pair(name, scale)).ok) return (console.error(`bench:data: cannot decode ${name}`), 1);
    console.log(`decode at scale ${scale}: ${((performance.now() - started) / names.length).toFixed(1)} ms per pair (uncached)`);
  }
  const cachedStart = performance.now();
  const full = await pair('cho31', 1);
  console.log(`cached pair lookup: ${(performance.now() - cachedStart).toFixed(2)} ms`);
  if (!full.ok) return 1;
  const rng = createRng(1);
  for (const size of [256, 512]) {
    const repeats = 10;
    const started = performance.now();
    for (let i = 0; i < repeats; i++) trainPatch(full.value, rng, { cropSize: size });
    console.log(`crop + full augmentation at ${size}²: ${((performance.now() - started) / repeats).toFixed(1)} ms per patch`);
  }
  return 0;
}

process.exitCode = await main();
