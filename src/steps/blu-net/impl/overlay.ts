/** PNG overlays for evaluation: image | truth | prediction (TP green, FP red, FN blue). */
import sharp from 'sharp';
import type { Patch } from '../../../ml/data/index.js';

const THRESHOLD = 0.5;

/** RGB of one prediction pixel: TP green, FP red, FN blue, TN the dimmed image. */
function predictionColour(gray: number, truth: boolean, predicted: boolean): [number, number, number] {
  if (truth && predicted) return [40, 220, 60];
  if (predicted) return [230, 40, 40];
  if (truth) return [40, 90, 240];
  const dim = Math.round(gray * 0.5);
  return [dim, dim, dim];
}

/** Three panels side by side, each `patch.size` wide, written as an RGB PNG. */
export async function writeOverlay(file: string, patch: Patch, probabilities: ArrayLike<number>): Promise<void> {
  const size = patch.size;
  const width = 3 * size;
  const rgb = Buffer.alloc(width * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const gray = Math.round((patch.image[i] ?? 0) * 255);
      const truth = patch.mask[i] === 1;
      const predicted = (probabilities[i] ?? 0) > THRESHOLD;
      const panels: [number, number, number][] = [
        [gray, gray, gray],
        truth ? [255, 255, 255] : [0, 0, 0],
        predictionColour(gray, truth, predicted),
      ];
      panels.forEach((colour, p) => rgb.set(colour, (y * width + p * size + x) * 3));
    }
  }
  await sharp(rgb, { raw: { width, height: size, channels: 3 } })
    .png()
    .toFile(file);
}
