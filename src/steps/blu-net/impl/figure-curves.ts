/**
 * The learning-curve figure: val IoU against optimizer step, one panel per model, one colour per
 * seed; the thin line is each validation, the thick one the trailing mean that picks the weights,
 * the dot the kept weights and the labelled tick where training ended (pure SVG; writePng rasterises).
 */
import type { EvaluationFile } from './evaluate.js';

const PANEL = { w: 330, h: 230, left: 46, right: 12, top: 28, bottom: 34 };
const COLUMNS = 3;
const SEED_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2'];
const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
const END_MARK: Readonly<Record<string, string>> = { plateau: 'P', budget: 'B', 'fixed budget': 'F', time: 'T', patience: 'P' };

/** A round step count for the x axis (1, 2 or 5 × 10^k) giving at most 5 ticks. */
export function tickStep(max: number): number {
  const raw = Math.max(1, max) / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  return Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power);
}

function polyline(points: readonly [number, number][], colour: string, width: number, opacity: number): string {
  if (points.length === 0) return '';
  return `<polyline points="${points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}" fill="none" stroke="${colour}" stroke-width="${width}" stroke-opacity="${opacity}"/>`;
}

function panel(label: string, runs: readonly EvaluationFile[], ox: number, oy: number): string[] {
  const maxStep = Math.max(1, ...runs.flatMap((r) => r.training?.points.map((p) => p.step) ?? []));
  const [x0, x1, y0, y1] = [ox + PANEL.left, ox + PANEL.w - PANEL.right, oy + PANEL.h - PANEL.bottom, oy + PANEL.top];
  const x = (step: number) => x0 + (step / maxStep) * (x1 - x0);
  const y = (iou: number) => y0 - Math.max(0, Math.min(1, iou)) * (y0 - y1);
  const parts = [`<text x="${x0}" y="${oy + 18}" font-size="13" font-weight="bold">${escapeXml(label)}</text>`];
  for (let t = 0; t <= 5; t++)
    parts.push(
      `<line x1="${x0}" y1="${y(t / 5)}" x2="${x1}" y2="${y(t / 5)}" stroke="#eee"/><text x="${x0 - 5}" y="${y(t / 5) + 4}" text-anchor="end" font-size="10">${(t / 5).toFixed(1)}</text>`,
    );
  const tick = tickStep(maxStep);
  for (let s = 0; s <= maxStep; s += tick) parts.push(`<text x="${x(s)}" y="${y0 + 14}" text-anchor="middle" font-size="10">${s}</text>`);
  parts.push(`<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" fill="none" stroke="#333"/>`);
  for (const run of runs) {
    const t = run.training;
    if (t === undefined) continue;
    const colour = SEED_COLOURS[((run.model.seed ?? 1) - 1) % SEED_COLOURS.length]!;
    const smoothed = t.points.every((p) => p.smoothed !== undefined);
    parts.push(
      polyline(
        t.points.map((p) => [x(p.step), y(p.iou)]),
        colour,
        1,
        smoothed ? 0.35 : 0.9,
      ),
    );
    if (smoothed)
      parts.push(
        polyline(
          t.points.map((p) => [x(p.step), y(p.smoothed ?? p.iou)]),
          colour,
          2.2,
          0.95,
        ),
      );
    const kept = t.points.find((p) => p.step === t.bestStep);
    if (kept)
      parts.push(
        `<circle cx="${x(kept.step)}" cy="${y(smoothed ? (kept.smoothed ?? kept.iou) : kept.iou)}" r="4" fill="${colour}" stroke="white"/>`,
      );
    for (const d of t.lrDrops) parts.push(`<path d="M${x(d.step)} ${y0}v-7" stroke="${colour}" stroke-width="2"/>`);
    const last = t.points[t.points.length - 1];
    if (last)
      parts.push(
        `<path d="M${x(last.step)} ${y(last.iou) - 9}v18" stroke="${colour}" stroke-width="1.5"/><text x="${x(last.step) - 3}" y="${y(last.iou) - 11}" text-anchor="end" font-size="10" fill="${colour}">${END_MARK[t.endedBy] ?? '?'}</text>`,
      );
  }
  return parts;
}

/** The whole figure as an SVG document; models in the order given, panels of models without curves left out. */
export function curvesSvg(title: string, evaluations: readonly EvaluationFile[], labels: readonly string[]): string {
  const shown = labels.filter((l) => evaluations.some((e) => e.model.label === l && e.training !== undefined));
  const rows = Math.max(1, Math.ceil(shown.length / COLUMNS));
  const [w, h] = [COLUMNS * PANEL.w, rows * PANEL.h + 105];
  const body = [
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="12" y="24" font-size="16" font-weight="bold">${escapeXml(title)}: validation IoU against optimizer step</text>`,
  ];
  shown.forEach((label, i) =>
    body.push(
      ...panel(
        label,
        evaluations.filter((e) => e.model.label === label),
        (i % COLUMNS) * PANEL.w,
        36 + Math.floor(i / COLUMNS) * PANEL.h,
      ),
    ),
  );
  const seeds = [...new Set(evaluations.map((e) => e.model.seed ?? 1))].sort((a, b) => a - b);
  const legendY = 36 + rows * PANEL.h + 20;
  const seedKeys = seeds.map(
    (s, i) =>
      `<rect x="${12 + i * 70}" y="${legendY - 9}" width="14" height="4" fill="${SEED_COLOURS[(s - 1) % SEED_COLOURS.length]}"/><text x="${30 + i * 70}" y="${legendY - 3}" font-size="12">seed ${s}</text>`,
  );
  const keys = [
    'thin: each validation; thick: trailing mean (picks the weights); dot: kept weights; tick on the x axis: lr drop',
    'label at the end: P the plateau rule fired, B the step budget ran out first, F a fixed budget',
  ];
  body.push(...seedKeys, ...keys.map((k, i) => `<text x="12" y="${legendY + 20 + 17 * i}" font-size="12">${escapeXml(k)}</text>`));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="DejaVu Sans, Arial, sans-serif">${body.join('')}</svg>`;
}
