/**
 * Reads one channel of a PNG exactly, without colour management: pinned data sets are checked pixel
 * by pixel (SHA-256 of the channel's bytes), and a decoder that applies gamma or an ICC profile
 * (as libvips may) would make that check depend on the library version. 8-bit, non-interlaced
 * PNGs of every colour type are read; anything else is reported, not guessed.
 */
import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { err, ok, type Result } from '../../base/result.js';

export interface Channel {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Samples per pixel by PNG colour type (gray, -, RGB, palette, gray+alpha, -, RGBA). */
const SAMPLES: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Channel 0 of an 8-bit PNG (gray, or red; a palette image's red through its palette). */
export function pngChannel0(bytes: Uint8Array): Result<Channel, string> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buf.length < 33 || !buf.subarray(0, 8).equals(SIGNATURE)) return err('not a PNG file');
  const width = buf.readUInt32BE(16);
  const height = buf.readUInt32BE(20);
  const [depth, colour, , , interlace] = [buf[24]!, buf[25]!, buf[26], buf[27], buf[28]!];
  const samples = SAMPLES[colour];
  if (depth !== 8 || samples === undefined || interlace !== 0)
    return err(`unsupported PNG (bit depth ${depth}, colour type ${colour}, interlace ${interlace}); expected 8-bit, not interlaced`);
  const idat: Buffer[] = [];
  let palette: Buffer | null = null;
  for (let at = 8; at + 8 <= buf.length; ) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    const body = buf.subarray(at + 8, at + 8 + length);
    if (type === 'IDAT') idat.push(body);
    if (type === 'PLTE') palette = body;
    if (type === 'IEND') break;
    at += 12 + length;
  }
  if (colour === 3 && palette === null) return err('palette PNG without a palette');
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch (e) {
    return err(`corrupt PNG data (${e instanceof Error ? e.message : String(e)})`);
  }
  const rows = unfilter(raw, width, height, samples);
  if (!rows.ok) return rows;
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) {
    const v = rows.value[i * samples]!;
    data[i] = palette ? (palette[v * 3] ?? 0) : v;
  }
  return ok({ width, height, data });
}

/** Undoes PNG's per-row filters (none, sub, up, average, Paeth); returns the pixel bytes. */
function unfilter(raw: Buffer, width: number, height: number, bpp: number): Result<Uint8Array, string> {
  const stride = width * bpp;
  if (raw.length < height * (stride + 1)) return err('truncated PNG data');
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[row + x - bpp]! : 0;
      const b = y > 0 ? out[row - stride + x]! : 0;
      const c = x >= bpp && y > 0 ? out[row - stride + x - bpp]! : 0;
      const v = raw[src + x]!;
      switch (filter) {
        case 0:
          out[row + x] = v;
          break;
        case 1:
          out[row + x] = (v + a) & 255;
          break;
        case 2:
          out[row + x] = (v + b) & 255;
          break;
        case 3:
          out[row + x] = (v + ((a + b) >> 1)) & 255;
          break;
        case 4:
          out[row + x] = (v + paeth(a, b, c)) & 255;
          break;
        default:
          return err(`bad PNG filter type ${filter} in row ${y}`);
      }
    }
  }
  return ok(out);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** What "same pixels" means for pinned data: SHA-256 of `<width>x<height>\n` and the channel's bytes. */
export function pixelHash(channel: Channel): string {
  return createHash('sha256').update(`${channel.width}x${channel.height}\n`).update(channel.data).digest('hex');
}
