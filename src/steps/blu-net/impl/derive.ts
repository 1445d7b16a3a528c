/**
 * A derived data set for robustness checks: from each source image, the window of
 * (width/zoom × height/zoom) source pixels that holds the most foreground, resized to
 * width×height (× the dataset's scale). Zooming in makes cells larger in pixels and the densest
 * window raises the foreground fraction, so a small-cell, sparse set (BBBC030) mimics a set of
 * few, smaller images with large cells and more foreground. Nothing is committed: the step
 * writes the derived images into its cached artifact.
 */
import sharp from 'sharp';
import type { Sample } from '../../../ml/data/index.js';

export interface DeriveOptions {
  /** Output size before the dataset's `scale`. */
  readonly width: number;
  readonly height: number;
  /** Magnification of the source: the window is width/zoom × height/zoom source pixels. */
  readonly zoom: number;
}

/** Grid step (source pixels) of the window search: fine enough, and cheap on 1376×1032 masks. */
const SEARCH_STEP = 8;

/** Top-left corner of the w×h window with the most foreground (summed-area table, grid search). */
export function densestWindow(sample: Pick<Sample, 'width' | 'height' | 'mask'>, w: number, h: number): [number, number] {
  const { width, height, mask } = sample;
  const stride = width + 1;
  const table = new Float64Array(stride * (height + 1));
  for (let y = 0; y < height; y++) {
    let row = 0;
    for (let x = 0; x < width; x++) {
      row += mask[y * width + x] ?? 0;
      table[(y + 1) * stride + x + 1] = (table[y * stride + x + 1] ?? 0) + row;
    }
  }
  const sum = (x: number, y: number) =>
    (table[(y + h) * stride + x + w] ?? 0) -
    (table[y * stride + x + w] ?? 0) -
    (table[(y + h) * stride + x] ?? 0) +
    (table[y * stride + x] ?? 0);
  let best: [number, number, number] = [0, 0, -1];
  for (let y = 0; y + h <= height; y += SEARCH_STEP) {
    for (let x = 0; x + w <= width; x += SEARCH_STEP) {
      const s = sum(x, y);
      if (s > best[2]) best = [x, y, s];
    }
  }
  return [best[0], best[1]];
}

async function resizeWindow(
  pixels: Uint8Array,
  from: { width: number; height: number },
  to: { width: number; height: number },
  kernel: 'lanczos3' | 'nearest',
): Promise<Uint8Array> {
  const out = await sharp(pixels, { raw: { width: from.width, height: from.height, channels: 1 } })
    .resize(to.width, to.height, { kernel, fit: 'fill' })
    .greyscale() // sharp otherwise writes raw output as 3 channels
    .raw()
    .toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** The derived sample at (width × scale) × (height × scale); the mask stays exactly 0/1. */
export async function deriveSample(sample: Sample, options: DeriveOptions, scale: number): Promise<Sample> {
  const w = Math.min(sample.width, Math.round(options.width / options.zoom));
  const h = Math.min(sample.height, Math.round(options.height / options.zoom));
  const [x0, y0] = densestWindow(sample, w, h);
  const image = new Uint8Array(w * h);
  const mask = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const from = (y0 + y) * sample.width + x0 + x;
      image[y * w + x] = Math.round((sample.image[from] ?? 0) * 255);
      mask[y * w + x] = (sample.mask[from] ?? 0) * 255;
    }
  }
  const to = { width: Math.max(1, Math.round(options.width * scale)), height: Math.max(1, Math.round(options.height * scale)) };
  const [resizedImage, resizedMask] = await Promise.all([
    resizeWindow(image, { width: w, height: h }, to, 'lanczos3'),
    resizeWindow(mask, { width: w, height: h }, to, 'nearest'),
  ]);
  return {
    name: sample.name,
    width: to.width,
    height: to.height,
    image: Float32Array.from(resizedImage, (v) => v / 255),
    mask: Uint8Array.from(resizedMask, (v) => (v >= 128 ? 1 : 0)),
  };
}
