/**
 * The speed/accuracy figure: test IoU against width-64 median latency (log scale), one labelled point
 * per row at its mean over seeds with a ±1 std bar and the seeds as small dots, the Pareto front as a
 * line. Rows without a width-64 latency are listed in the legend only. Pure SVG; figure.ts rasterises.
 */
import { axes, COLOURS, decades, escapeXml, H, legendEntry, modelMarks, PLOT, scales, seedLegend, svgDocument, W } from './figure-svg.js';
import type { ParetoRow } from './pareto-table.js';

type Placed = ParetoRow & { readonly width64: NonNullable<ParetoRow['width64']> };
const isPlaced = (r: ParetoRow): r is Placed => r.width64 !== null && Number.isFinite(r.iou.mean);

function frontLine(rows: readonly Placed[], x: (v: number) => number, y: (v: number) => number): string[] {
  const front = rows.filter((r) => r.onFront).sort((a, b) => a.width64.medianMs - b.width64.medianMs);
  if (front.length < 2) return [];
  const points = front.map((r) => `${x(r.width64.medianMs)},${y(r.iou.mean)}`).join(' ');
  return [`<polyline points="${points}" fill="none" stroke="#555" stroke-width="1.5" stroke-dasharray="6 4"/>`];
}

/** The in-plot tag of a row: its variant's name, else its label up to the first parenthesis. */
export function shortTag(r: Pick<ParetoRow, 'label' | 'group'>): string {
  const variant = /[@,]variant=([^,]+)/.exec(r.group)?.[1];
  return variant ?? r.label.split(' (')[0]!.split(', ')[0]!;
}

/** Where a tag's text goes: its baseline's start (or end, for `end`) and anchor. */
export interface TagPlace {
  readonly x: number;
  readonly y: number;
  readonly end: boolean;
}

const TAG_CHAR = 7.2; // px per character at font-size 12
const TAG_LINE = 14;

/**
 * Tags beside their points without overlapping the tags placed before them: above the point, then
 * below it, then further up and down a line at a time, on the side where the plot has room (left of
 * points in the right half). Rows come in table order, so the first rows keep the plain places.
 */
export function placeTags(points: readonly { cx: number; cy: number; text: string }[]): TagPlace[] {
  const boxes: { x0: number; x1: number; y0: number; y1: number }[] = [];
  const [top, bottom] = [PLOT.top + TAG_LINE, H - PLOT.bottom - 2];
  return points.map(({ cx, cy, text }) => {
    const end = cx > (PLOT.left + W - PLOT.right) / 2;
    const x = end ? cx - 9 : cx + 9;
    const width = text.length * TAG_CHAR;
    const [x0, x1] = end ? [x - width, x] : [x, x + width];
    // Above, below, then a line further each way: -8, 18, -22, 32, …
    const offsets = [0, 1, 2, 3, 4, 5, 6].flatMap((k) => [-8 - TAG_LINE * k, 18 + TAG_LINE * k]);
    const fits = (y: number) => y >= top && y <= bottom && !boxes.some((b) => x0 < b.x1 && b.x0 < x1 && y - 11 < b.y1 && b.y0 < y + 3);
    const y = cy + (offsets.find((dy) => fits(cy + dy)) ?? -8);
    boxes.push({ x0, x1, y0: y - 11, y1: y + 3 });
    return { x, y, end };
  });
}

/** Legend text in lines that fit the legend column (~44 characters), broken at ", " or " (". */
function legendLines(text: string, width = 44): string[] {
  if (text.length <= width) return [text];
  const cut = Math.max(text.lastIndexOf(', ', width), text.lastIndexOf(' (', width));
  if (cut <= 0) return [text];
  const at = text[cut] === ',' ? cut + 1 : cut;
  return [text.slice(0, at), ...legendLines(`  ${text.slice(at).trimStart()}`, width)];
}

/** Legend entries for a (possibly wrapped) text: the marker on the first line only. */
function addLegend(legend: string[], marker: string, text: string): void {
  for (const [i, line] of legendLines(text).entries()) legend.push(legendEntry(legend.length, i === 0 ? marker : '', line));
}

/** A row in the legend: its tag (unless the tag is the whole label) and label. */
const legendName = (r: Pick<ParetoRow, 'label' | 'group'>) => (shortTag(r) === r.label ? r.label : `${shortTag(r)}: ${r.label}`);

/** The whole figure as an SVG document. */
export function paretoSvg(title: string, rows: readonly ParetoRow[]): string {
  const placed = rows.filter(isPlaced);
  const range = decades(placed.map((r) => r.width64.medianMs));
  const { x, y } = scales(range);
  const body = axes(x, y, range, 'median latency, untrained at width 64, batch 1 (ms, log scale)');
  body.push(...frontLine(placed, x, y));
  const legend: string[] = [];
  const tags = placeTags(placed.map((r) => ({ cx: x(r.width64.medianMs), cy: y(r.iou.mean), text: shortTag(r) })));
  for (const [i, r] of placed.entries()) {
    const colour = COLOURS[i % COLOURS.length]!;
    body.push(...modelMarks(r, colour, x(r.width64.medianMs), y));
    const tag = tags[i]!;
    const anchor = tag.end ? `x="${tag.x}" text-anchor="end"` : `x="${tag.x}"`;
    body.push(`<text ${anchor} y="${tag.y}" font-size="12" fill="${colour}">${escapeXml(shortTag(r))}</text>`);
    const n = r.seeds.length;
    addLegend(legend, `<circle cx="LX" cy="LY" r="6" fill="${colour}"/>`, `${legendName(r)} (${n} seed${n === 1 ? '' : 's'})`);
  }
  for (const r of rows.filter((q) => !isPlaced(q)))
    addLegend(legend, `<circle cx="LX" cy="LY" r="6" fill="none" stroke="#999"/>`, `${legendName(r)}: no width-64 latency`);
  legend.push(
    legendEntry(legend.length + 1, `<path d="MLX LYm-12 0h24" stroke="#555" stroke-width="1.5" stroke-dasharray="6 4"/>`, 'Pareto front'),
  );
  return svgDocument(`${title}: test IoU vs latency`, [...body, ...legend, ...seedLegend(legend.length)]);
}
