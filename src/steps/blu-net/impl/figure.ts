/**
 * The results figure: test IoU against model size (log scale), one point per model at its mean over
 * seeds with a ±1 std error bar and the single seeds as small dots, plus the thesis's models for
 * reference. Drawn as SVG (pure) and rasterised to PNG with sharp, so no browser is needed.
 */
import sharp from 'sharp';
import { axes, COLOURS, decades, legendEntry, modelMarks, scales, seedLegend, svgDocument } from './figure-svg.js';
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

/** Models of one size (distilled and from scratch) sit side by side instead of on top of each other. */
function sideBySide(points: readonly FigurePoint[]): number[] {
  return points.map((p, i) => {
    const same = points.filter((q) => q.mib === p.mib);
    const k = same.filter((q) => points.indexOf(q) < i).length;
    return (k - (same.length - 1) / 2) * 14;
  });
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
  const { x, y } = scales(range);
  const body: string[] = axes(x, y, range, 'model size, thesis accounting (MiB, log scale)');
  const legend: string[] = [];
  for (const [i, r] of reference.entries()) {
    body.push(thesisMarker(i, x(r.mib), y(r.iou)));
    legend.push(legendEntry(legend.length, thesisMarker(i, Number.NaN, Number.NaN), `thesis: ${r.label}`));
  }
  const offsets = sideBySide(points);
  for (const [i, p] of points.entries()) {
    const colour = COLOURS[i % COLOURS.length]!;
    body.push(...modelMarks(p.summary, colour, x(p.mib) + (offsets[i] ?? 0), y));
    const n = p.summary.seeds.length;
    legend.push(
      legendEntry(legend.length, `<circle cx="LX" cy="LY" r="6" fill="${colour}"/>`, `${p.label} (${n} seed${n === 1 ? '' : 's'})`),
    );
  }
  return svgDocument(`${title}: test IoU vs model size`, [...body, ...legend, ...seedLegend(legend.length)]);
}

export async function writePng(file: string, svg: string): Promise<void> {
  await sharp(Buffer.from(svg), { density: 144 }).png().toFile(file);
}
