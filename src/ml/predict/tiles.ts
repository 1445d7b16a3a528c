/**
 * Tiling for images larger than the network's input: overlapping tiles, each output pixel taken
 * from the tile where it lies farthest from a tile border, so tile seams do not show. Pure.
 */

export interface AxisTile {
  /** First source index the tile covers (it may extend past the end: padded with zeros). */
  readonly start: number;
  /** Tile length fed to the network (a multiple of the model's size multiple). */
  readonly size: number;
  /** Source range [ownStart, ownEnd) whose predictions come from this tile. */
  readonly ownStart: number;
  readonly ownEnd: number;
}

const ceilTo = (n: number, m: number) => Math.ceil(n / m) * m;

/** Tiles along one axis of `length` pixels: `tile` long, at least `overlap` shared by neighbours. */
export function planAxis(length: number, tile: number, overlap: number, multiple: number): AxisTile[] {
  if (length <= tile) return [{ start: 0, size: ceilTo(length, multiple), ownStart: 0, ownEnd: length }];
  const count = Math.ceil((length - overlap) / (tile - overlap));
  const starts = Array.from({ length: count }, (_, i) => Math.round((i * (length - tile)) / (count - 1)));
  // Neighbours split their shared range in the middle.
  const borders = starts.slice(1).map((s, i) => Math.floor((s + (starts[i] as number) + tile) / 2));
  return starts.map((start, i) => ({
    start,
    size: tile,
    ownStart: i === 0 ? 0 : (borders[i - 1] as number),
    ownEnd: i === count - 1 ? length : (borders[i] as number),
  }));
}

/** Copies a tile (zeros outside the image). */
export function cutTile(pixels: Float32Array, width: number, height: number, ty: AxisTile, tx: AxisTile): Float32Array {
  const out = new Float32Array(ty.size * tx.size);
  const xEnd = Math.min(tx.size, width - tx.start);
  for (let y = 0; y < ty.size && ty.start + y < height; y++) {
    const src = (ty.start + y) * width + tx.start;
    out.set(pixels.subarray(src, src + xEnd), y * tx.size);
  }
  return out;
}

/** Writes a tile's owned region of `values` (tile-sized) into `into` (image-sized). */
export function pasteOwned(into: Float32Array, width: number, values: Float32Array, ty: AxisTile, tx: AxisTile): void {
  for (let y = ty.ownStart; y < ty.ownEnd; y++) {
    const from = (y - ty.start) * tx.size + (tx.ownStart - tx.start);
    into.set(values.subarray(from, from + (tx.ownEnd - tx.ownStart)), y * width + tx.ownStart);
  }
}
