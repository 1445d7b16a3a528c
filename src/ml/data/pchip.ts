/**
 * Monotone piecewise-cubic Hermite interpolation (Fritsch-Carlson slopes with the weighted
 * harmonic mean inside and the one-sided three-point rule at the ends, as scipy's PCHIP does).
 * Used by HistogramVoodoo; knots must be strictly increasing in x.
 */
export function createPchip(xs: readonly number[], ys: readonly number[]): (x: number) => number {
  const n = xs.length;
  const h: number[] = [];
  const delta: number[] = [];
  for (let k = 0; k < n - 1; k++) {
    const hk = (xs[k + 1] as number) - (xs[k] as number);
    h.push(hk);
    delta.push(((ys[k + 1] as number) - (ys[k] as number)) / hk);
  }
  const slopes = pchipSlopes(h, delta);
  return (x: number): number => {
    let k = 0;
    while (k < n - 2 && x > (xs[k + 1] as number)) k++;
    const hk = h[k] as number;
    const t = (x - (xs[k] as number)) / hk;
    const t2 = t * t;
    const t3 = t2 * t;
    return (
      (2 * t3 - 3 * t2 + 1) * (ys[k] as number) +
      (t3 - 2 * t2 + t) * hk * (slopes[k] as number) +
      (-2 * t3 + 3 * t2) * (ys[k + 1] as number) +
      (t3 - t2) * hk * (slopes[k + 1] as number)
    );
  };
}

function pchipSlopes(h: readonly number[], delta: readonly number[]): number[] {
  const n = h.length + 1;
  const d = new Array<number>(n).fill(0);
  for (let k = 1; k < n - 1; k++) {
    const dPrev = delta[k - 1] as number;
    const dNext = delta[k] as number;
    if (dPrev === 0 || dNext === 0 || Math.sign(dPrev) !== Math.sign(dNext)) continue;
    const w1 = 2 * (h[k] as number) + (h[k - 1] as number);
    const w2 = (h[k] as number) + 2 * (h[k - 1] as number);
    d[k] = (w1 + w2) / (w1 / dPrev + w2 / dNext);
  }
  d[0] = endSlope(h[0] as number, h[1] ?? 0, delta[0] as number, delta[1] ?? 0);
  d[n - 1] = endSlope(h[n - 2] as number, h[n - 3] ?? 0, delta[n - 2] as number, delta[n - 3] ?? 0);
  return d;
}

/** Three-point end slope, then clamped so the end interval stays monotone. */
function endSlope(h0: number, h1: number, d0: number, d1: number): number {
  if (h1 === 0) return d0;
  const slope = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1);
  if (Math.sign(slope) !== Math.sign(d0)) return 0;
  if (Math.sign(d0) !== Math.sign(d1) && Math.abs(slope) > Math.abs(3 * d0)) return 3 * d0;
  return slope;
}
