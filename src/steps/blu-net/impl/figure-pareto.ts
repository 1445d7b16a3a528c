/**
 * The speed/accuracy figure: test IoU against width-64 median latency (log scale), one labelled point
 * per row at its mean over seeds with a ±1 std bar and the seeds as small dots, the Pareto front as a
 * line. Rows without a width-64 latency are listed in the legend only. Pure SVG; figure.ts rasterises.
 */
import { axes, COLOURS, decades, escapeXml, legendEntry, modelMarks, scales, seedLegend, svgDocument } from './figure-svg.js';
import type { ParetoRow } from './pareto-table.js';

type Placed = ParetoRow & { readonly width64: NonNullable<ParetoRow['width64']> };
const isPlaced = (r: ParetoRow): r is Placed => r.width64 !== null && Number.isFinite(r.iou.mean);

function frontLine(rows: readonly Placed[], x: (v: number) => number, y: (v: number) => number): string[] {
  const front = rows.filter((r) => r.onFront).sort((a, b) => a.width64.medianMs - b.width64.medianMs);
  if (front.length < 2) return [];
  const points = front.map((r) => `${x(r.width64.medianMs)},${y(r.iou.mean)}`).join(' ');
  return [`<polyline points="${points}" fill="none" stroke="#555" stroke-width="1.5" stroke-dasharray="6 4"/>`];
}

/** The whole figure as an SVG document. */
export function paretoSvg(title: string, rows: readonly ParetoRow[]): string {
  const placed = rows.filter(isPlaced);
  const range = decades(placed.map((r) => r.width64.medianMs));
  const { x, y } = scales(range);
  const body = axes(x, y, range, 'median latency, untrained at width 64, batch 1 (ms, log scale)');
  body.push(...frontLine(placed, x, y));
  const legend: string[] = [];
  for (const [i, r] of placed.entries()) {
    const colour = COLOURS[i % COLOURS.length]!;
    const [cx, cy] = [x(r.width64.medianMs), y(r.iou.mean)];
    body.push(...modelMarks(r, colour, cx, y));
    body.push(`<text x="${cx + 9}" y="${cy - 8}" font-size="12" fill="${colour}">${escapeXml(r.label)}</text>`);
    const n = r.seeds.length;
    legend.push(
      legendEntry(legend.length, `<circle cx="LX" cy="LY" r="6" fill="${colour}"/>`, `${r.label} (${n} seed${n === 1 ? '' : 's'})`),
    );
  }
  for (const r of rows.filter((q) => !isPlaced(q)))
    legend.push(legendEntry(legend.length, `<circle cx="LX" cy="LY" r="6" fill="none" stroke="#999"/>`, `${r.label}: no width-64 latency`));
  legend.push(
    legendEntry(legend.length + 1, `<path d="MLX LYm-12 0h24" stroke="#555" stroke-width="1.5" stroke-dasharray="6 4"/>`, 'Pareto front'),
  );
  return svgDocument(`${title}: test IoU vs latency`, [...body, ...legend, ...seedLegend(legend.length)]);
}
