/**
 * The results figure: test IoU against model size (log scale), one point per model at its mean over
 * seeds with a ±1 std error bar and the single seeds as small dots, plus the thesis's models for
 * reference. Drawn as SVG (pure) and rasterised to PNG with sharp, so no browser is needed.
 */
import sharp from 'sharp';
import type { ModelSummary } from './seed-summary.js';

export interface FigurePoint {
  readonly label: string;
  readonly mib: number;
  readonly summary: ModelSummary;
}

export interface ReferencePoint {
  readonly label: string;
  readonly mib: number;
  readonly iou: number;
}

const W = 1000;
const H = 560;
const PLOT = { left: 80, right: 360, top: 50, bottom: 70 };
const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Whole decades that contain every size. */
function decades(sizes: readonly number[]): [number, number] {
  const logs = sizes.filter((s) => s > 0).map(Math.log10);
  if (logs.length === 0) return [-2, 2];
  const low = Math.floor(Math.min(...logs));
  const high = Math.ceil(Math.max(...logs));
  return [low, high === low ? low + 1 : high];
}

function axes(x: (mib: number) => number, y: (iou: number) => number, [low, high]: [number, number]): string[] {
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
  parts.push(
    `<text x="${(x0 + x1) / 2}" y="${H - 20}" text-anchor="middle" font-size="14">model size, thesis accounting (MiB, log scale)</text>`,
  );
  parts.push(
    `<text x="22" y="${(y0 + y1) / 2}" text-anchor="middle" font-size="14" transform="rotate(-90 22 ${(y0 + y1) / 2})">test IoU</text>`,
  );
  return parts;
}

/** Models of one size (distilled and from scratch) sit side by side instead of on top of each other. */
function sideBySide(points: readonly FigurePoint[]): number[] {
  return points.map((p, i) => {
    const same = points.filter((q) => q.mib === p.mib);
    const k = same.filter((q) => points.indexOf(q) < i).length;
    return (k - (same.length - 1) / 2) * 14;
  });
}

function modelMarks(p: FigurePoint, colour: string, cx: number, y: (iou: number) => number): string[] {
  const parts = p.summary.seeds.map((s) =>
    s.collapsed !== undefined
      ? `<path d="M${cx - 4} ${y(s.iou) - 4}l8 8m0 -8l-8 8" stroke="#d62728" stroke-width="2"/>`
      : `<circle cx="${cx}" cy="${y(s.iou)}" r="2.5" fill="none" stroke="${colour}"/>`,
  );
  const { mean, std } = p.summary.iou;
  if (Number.isFinite(std)) {
    const [top, bottom] = [y(Math.min(1, mean + std)), y(Math.max(0, mean - std))];
    parts.push(`<path d="M${cx} ${top}V${bottom}M${cx - 6} ${top}h12M${cx - 6} ${bottom}h12" stroke="${colour}" stroke-width="2"/>`);
  }
  if (Number.isFinite(mean)) parts.push(`<circle cx="${cx}" cy="${y(mean)}" r="6" fill="${colour}"/>`);
  return parts;
}

function legendEntry(i: number, marker: string, text: string): string {
  const ly = PLOT.top + 10 + i * 24;
  const lx = W - PLOT.right + 20;
  return `${marker.replaceAll('LX', String(lx)).replaceAll('LY', String(ly))}<text x="${lx + 16}" y="${ly + 5}" font-size="13">${escapeXml(text)}</text>`;
}

/** Hollow grey shapes, one per thesis model, so each reference point is told apart (issue 23). */
const THESIS_SHAPES = [
  'M-5 -5h10v10h-10z', // square
  'M0 -6.5l6.5 6.5l-6.5 6.5l-6.5 -6.5z', // diamond
  'M0 -6l6 10.5h-12z', // triangle up
  'M0 6l6 -10.5h-12z', // triangle down
  'M-2 -6h4v4h4v4h-4v4h-4v-4h-4v-4h4z', // plus
  'M-6 -2l4 -4l2 2l2 -2l4 4l-2 2l2 2l-4 4l-2 -2l-2 2l-4 -4l2 -2z', // cross
];

/** Thesis model i's marker at (cx, cy); NaN coordinates give the legend's LX/LY placeholders. */
export function thesisMarker(i: number, cx: number, cy: number): string {
  const at = Number.isNaN(cx) ? 'translate(LX LY)' : `translate(${cx} ${cy})`;
  return `<path d="${THESIS_SHAPES[i % THESIS_SHAPES.length]}" transform="${at}" fill="none" stroke="#666" stroke-width="1.5"/>`;
}

/** The whole figure as an SVG document. */
export function figureSvg(title: string, points: readonly FigurePoint[], reference: readonly ReferencePoint[]): string {
  const range = decades([...points.map((p) => p.mib), ...reference.map((r) => r.mib)]);
  const x = (mib: number) => PLOT.left + ((Math.log10(mib) - range[0]) / (range[1] - range[0])) * (W - PLOT.left - PLOT.right);
  const y = (iou: number) => H - PLOT.bottom - iou * (H - PLOT.top - PLOT.bottom);
  const body: string[] = [`<rect width="${W}" height="${H}" fill="white"/>`, ...axes(x, y, range)];
  const legend: string[] = [];
  for (const [i, r] of reference.entries()) {
    body.push(thesisMarker(i, x(r.mib), y(r.iou)));
    legend.push(legendEntry(legend.length, thesisMarker(i, Number.NaN, Number.NaN), `thesis: ${r.label}`));
  }
  const offsets = sideBySide(points);
  for (const [i, p] of points.entries()) {
    const colour = COLOURS[i % COLOURS.length]!;
    body.push(...modelMarks(p, colour, x(p.mib) + (offsets[i] ?? 0), y));
    const n = p.summary.seeds.length;
    legend.push(
      legendEntry(legend.length, `<circle cx="LX" cy="LY" r="6" fill="${colour}"/>`, `${p.label} (${n} seed${n === 1 ? '' : 's'})`),
    );
  }
  legend.push(legendEntry(legend.length + 1, `<circle cx="LX" cy="LY" r="2.5" fill="none" stroke="#333"/>`, 'one seed; bars: ± 1 std'));
  legend.push(legendEntry(legend.length + 1, `<path d="MLX LYm-4 -4l8 8m0 -8l-8 8" stroke="#d62728" stroke-width="2"/>`, 'collapsed seed'));
  const heading = `<text x="${PLOT.left}" y="30" font-size="16" font-weight="bold">${escapeXml(title)}: test IoU vs model size</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, Arial, sans-serif">${[...body, ...legend, heading].join('')}</svg>`;
}

export async function writePng(file: string, svg: string): Promise<void> {
  await sharp(Buffer.from(svg), { density: 144 }).png().toFile(file);
}
