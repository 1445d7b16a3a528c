import path from 'node:path';
import { decodePair, extractWindow, type Sample } from '../../../src/ml/data/index.js';
import { dataDir } from '../data/data-dir.js';

/**
 * Small fixed samples cut from real BBBC030 training images (half scale), each centred on the
 * first foreground pixel found past the middle of the image, so every crop contains cells.
 */
export async function realCrops(names: readonly string[], size: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (const name of names) {
    const file = `${name}.png`;
    const pair = await decodePair(name, path.join(dataDir, 'train/images', file), path.join(dataDir, 'train/masks', file), 0.5);
    if (!pair.ok) throw new Error(pair.error.message);
    const s = pair.value;
    const start = s.mask.indexOf(1, Math.floor(s.mask.length / 2));
    const at = start >= 0 ? start : s.mask.indexOf(1);
    const x0 = Math.min(Math.max((at % s.width) - size / 2, 0), s.width - size);
    const y0 = Math.min(Math.max(Math.floor(at / s.width) - size / 2, 0), s.height - size);
    const patch = extractWindow(s, x0, y0, size);
    samples.push({ name, width: size, height: size, image: patch.image, mask: patch.mask });
  }
  return samples;
}
