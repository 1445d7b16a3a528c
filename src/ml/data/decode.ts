import sharp from 'sharp';
import { err, ok, type Result } from '../../base/result.js';
import type { DataError, Sample } from './types.js';

interface GrayPixels {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Decodes any sharp-readable file (PNG, TIFF, ...) to one 8-bit channel, optionally resized. */
async function decodeGray(path: string, scale: number, kernel: 'nearest' | 'lanczos3'): Promise<Result<GrayPixels, DataError>> {
  try {
    let pipeline = sharp(path).removeAlpha().greyscale();
    if (scale !== 1) {
      const meta = await sharp(path).metadata();
      const width = Math.max(1, Math.round((meta.width ?? 0) * scale));
      const height = Math.max(1, Math.round((meta.height ?? 0) * scale));
      pipeline = pipeline.resize(width, height, { kernel, fit: 'fill' });
    }
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 1) {
      return err({ code: 'decode-failed', path, message: `expected 1 channel, got ${info.channels}` });
    }
    return ok({ width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) });
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    return err({ code: 'decode-failed', path, message: `cannot decode ${path}: ${detail}` });
  }
}

/** Keyed by both paths and the scale, so a pair is decoded once per process. */
const sampleCache = new Map<string, Promise<Result<Sample, DataError>>>();

export function clearSampleCache(): void {
  sampleCache.clear();
}

/**
 * Decodes one image/mask pair. The image is scaled to 0..1; the mask is thresholded at 128 so that
 * a resized (nearest) or slightly lossy mask is still exactly 0/1.
 */
export function decodePair(name: string, imagePath: string, maskPath: string, scale = 1): Promise<Result<Sample, DataError>> {
  const key = `${imagePath}\u0000${maskPath}\u0000${scale}`;
  let pending = sampleCache.get(key);
  if (!pending) {
    // Failures are not cached: the caller may fix the files and retry.
    pending = decodePairUncached(name, imagePath, maskPath, scale).then((result) => {
      if (!result.ok) sampleCache.delete(key);
      return result;
    });
    sampleCache.set(key, pending);
  }
  return pending;
}

async function decodePairUncached(name: string, imagePath: string, maskPath: string, scale: number): Promise<Result<Sample, DataError>> {
  const [image, mask] = await Promise.all([decodeGray(imagePath, scale, 'lanczos3'), decodeGray(maskPath, scale, 'nearest')]);
  if (!image.ok) return image;
  if (!mask.ok) return mask;
  const img = image.value;
  const msk = mask.value;
  if (img.width !== msk.width || img.height !== msk.height) {
    return err({
      code: 'size-mismatch',
      path: maskPath,
      message: `mask ${maskPath} is ${msk.width}x${msk.height} but image ${imagePath} is ${img.width}x${img.height}`,
    });
  }
  return ok({ name, width: img.width, height: img.height, image: toUnitFloat(img.data), mask: toBinary(msk.data) });
}

// Plain loops: typed-array `from` with a map callback is several times slower on 1.4 M pixels.
function toUnitFloat(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = (bytes[i] as number) / 255;
  return out;
}

function toBinary(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = (bytes[i] as number) >= 128 ? 1 : 0;
  return out;
}
