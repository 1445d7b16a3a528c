/** Reading images to predict on and writing masks and overlays (sharp). */
import sharp from 'sharp';
import { err, ok, type Result } from '../../base/result.js';

export type ImageErrorCode = 'unreadable-image' | 'wrong-channels';
export interface ImageError {
  readonly code: ImageErrorCode;
  readonly file: string;
  readonly message: string;
}

export interface GreyImage {
  readonly width: number;
  readonly height: number;
  /** 0..1, as in training (decode.ts divides 8-bit values by 255). */
  readonly pixels: Float32Array;
}

/** A colour image whose channels are all equal is grey stored as RGB: accepted. */
function greyFromChannels(data: Uint8Array, channels: number, width: number, file: string): Result<Uint8Array, ImageError> {
  const colour = channels >= 3 ? 3 : 1;
  const pixels = data.length / channels;
  const grey = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) {
    const r = data[i * channels] as number;
    if (colour === 3 && (r !== data[i * channels + 1] || r !== data[i * channels + 2])) {
      return err({
        code: 'wrong-channels',
        file,
        message: `${file}: a colour image (${channels} channels, differing at x=${i % width}, y=${Math.floor(i / width)}); the models take one grey channel. Convert it to greyscale first.`,
      });
    }
    grey[i] = r;
  }
  return ok(grey);
}

/** Decodes one image for prediction, optionally rescaled (lanczos3, as the dataset step does). */
export async function readGreyImage(file: string, scale = 1): Promise<Result<GreyImage, ImageError>> {
  let raw: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    const meta = await sharp(file).metadata();
    let pipeline = sharp(file);
    if (scale !== 1)
      pipeline = pipeline.resize(Math.max(1, Math.round((meta.width ?? 0) * scale)), Math.max(1, Math.round((meta.height ?? 0) * scale)), {
        kernel: 'lanczos3',
        fit: 'fill',
      });
    raw = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    return err({
      code: 'unreadable-image',
      file,
      message: `${file}: cannot read it as an image (${e instanceof Error ? e.message : String(e)})`,
    });
  }
  const grey = greyFromChannels(
    new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.length),
    raw.info.channels,
    raw.info.width,
    file,
  );
  if (!grey.ok) return grey;
  const pixels = new Float32Array(grey.value.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (grey.value[i] as number) / 255;
  return ok({ width: raw.info.width, height: raw.info.height, pixels });
}

const THRESHOLD = 0.5;

/** Foreground 255, background 0, one grey channel. */
export async function writeMask(file: string, width: number, height: number, probabilities: Float32Array): Promise<void> {
  const bytes = Buffer.alloc(width * height);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (probabilities[i] as number) > THRESHOLD ? 255 : 0;
  await sharp(bytes, { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(file);
}

/** The image with predicted foreground tinted green. */
export async function writeOverlay(file: string, image: GreyImage, probabilities: Float32Array): Promise<void> {
  const rgb = Buffer.alloc(image.width * image.height * 3);
  for (let i = 0; i < image.width * image.height; i++) {
    const g = Math.round((image.pixels[i] as number) * 255);
    const fg = (probabilities[i] as number) > THRESHOLD;
    rgb[3 * i] = fg ? g >> 1 : g;
    rgb[3 * i + 1] = fg ? 128 + (g >> 1) : g;
    rgb[3 * i + 2] = fg ? g >> 1 : g;
  }
  await sharp(rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png()
    .toFile(file);
}
