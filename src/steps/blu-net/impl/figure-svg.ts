/**
 * SVG pieces shared by the results figures (test IoU against a log-scale x: model size, latency):
 * the canvas, log-decade axes, a model's seed marks with its ±1 std bar, and legend entries. Pure.
 */
import type { ModelSummary } from './seed-summary.js';

export const W = 1000;
export const H = 560;
export const PLOT = { left: 80, right: 360, top: 50, bottom: 70 };
export const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];

export const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Whole decades that contain every value. */
export function decades(values: readonly number[]): [number, number] {
  const logs = values.filter((s) => s > 0).map(Math.log10);
  if (logs.length === 0) return [-2, 2];
  const low = Math.floor(Math.min(...logs));
  const high = Math.ceil(Math.max(...logs));
  return [low, high === low ? low + 1 : high];
}

/** x on a log scale over `range` decades, y linear over IoU 0..1, both in plot pixels. */
export function scales(range: [number, number]): { x: (v: number) => number; y: (iou: number) => number } {
  return {
    x: (v: number) => PLOT.left + ((Math.log10(v) - range[0]) / (range[1] - range[0])) * (W - PLOT.left - PLOT.right),
    y: (iou: number) => H - PLOT.bottom - iou * (H - PLOT.top - PLOT.bottom),
  };
}

/** Grid, ticks and axis titles; `xTitle` names the log-scale x axis. */
export function axes(x: (v: number) => number, y: (iou: number) => number, [low, high]: [number, number], xTitle: string): string[] {
  const parts: string[] = [];
  const [x0, x1, y0, y1] = [PLOT.left, W - PLOT.right, H - PLOT.bottom, PLOT.top];
  for (let d = low; d <= high; d++) {
    const at = x(10 ** d);
    parts.push(`<line x1="${at}" y1="${y0}" x2="${at}" y2="${y1}" stroke="#ddd"/>`);
    parts.push(
      `<text x="${at}" y="${y0 + 20}" text-anchor="middle" font-size="13">${10 ** d >= 1 ? String(10 ** d) : (10 ** d).toFixed(-d)}</text>`,
    );
  }
  for (let t = 0; t <= 5; t++) {
    const at = y(t / 5);
    parts.push(`<line x1="${x0}" y1="${at}" x2="${x1}" y2="${at}" stroke="#ddd"/>`);
    parts.push(`<text x="${x0 - 8}" y="${at + 4}" text-anchor="end" font-size="13">${(t / 5).toFixed(1)}</text>`);
  }
  parts.push(`<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${(x0 + x1) / 2}" y="${H - 20}" text-anchor="middle" font-size="14">${xTitle}</text>`);
  parts.push(
    `<text x="22" y="${(y0 + y1) / 2}" text-anchor="middle" font-size="14" transform="rotate(-90 22 ${(y0 + y1) / 2})">test IoU</text>`,
  );
  return parts;
}

/** The seeds as small dots (a red cross when collapsed), the ±1 std bar and the mean as a disc. */
export function modelMarks(summary: Pick<ModelSummary, 'seeds' | 'iou'>, colour: string, cx: number, y: (iou: number) => number): string[] {
  const parts = summary.seeds.map((s) =>
    s.collapsed !== undefined
      ? `<path d="M${cx - 4} ${y(s.iou) - 4}l8 8m0 -8l-8 8" stroke="#d62728" stroke-width="2"/>`
      : `<circle cx="${cx}" cy="${y(s.iou)}" r="2.5" fill="none" stroke="${colour}"/>`,
  );
  const { mean, std } = summary.iou;
  if (Number.isFinite(std)) {
    const [top, bottom] = [y(Math.min(1, mean + std)), y(Math.max(0, mean - std))];
    parts.push(`<path d="M${cx} ${top}V${bottom}M${cx - 6} ${top}h12M${cx - 6} ${bottom}h12" stroke="${colour}" stroke-width="2"/>`);
  }
  if (Number.isFinite(mean)) parts.push(`<circle cx="${cx}" cy="${y(mean)}" r="6" fill="${colour}"/>`);
  return parts;
}

/** Legend line i; `marker` draws at the placeholders LX/LY. */
export function legendEntry(i: number, marker: string, text: string): string {
  const ly = PLOT.top + 10 + i * 24;
  const lx = W - PLOT.right + 20;
  return `${marker.replaceAll('LX', String(lx)).replaceAll('LY', String(ly))}<text x="${lx + 16}" y="${ly + 5}" font-size="13">${escapeXml(text)}</text>`;
}

/** The legend lines explaining the seed dots and the collapse cross, after a blank line. */
export function seedLegend(next: number): string[] {
  return [
    legendEntry(next + 1, `<circle cx="LX" cy="LY" r="2.5" fill="none" stroke="#333"/>`, 'one seed; bars: ± 1 std'),
    legendEntry(next + 2, `<path d="MLX LYm-4 -4l8 8m0 -8l-8 8" stroke="#d62728" stroke-width="2"/>`, 'collapsed seed'),
  ];
}

/** A titled SVG document on a white canvas. */
export function svgDocument(title: string, parts: readonly string[]): string {
  const heading = `<text x="${PLOT.left}" y="30" font-size="16" font-weight="bold">${escapeXml(title)}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, Arial, sans-serif">${[`<rect width="${W}" height="${H}" fill="white"/>`, ...parts, heading].join('')}</svg>`;
}
