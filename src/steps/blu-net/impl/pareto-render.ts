/** pareto.md: the speed/accuracy table, where each value came from, what is missing, the front. Pure. */
import type { Timing } from './pareto-match.js';
import type { ParetoRow, ParetoTable } from './pareto-table.js';

const MISSING = '—';
const num = (x: number | null | undefined, digits: number) =>
  x === null || x === undefined || !Number.isFinite(x) ? MISSING : x.toFixed(digits);
const times = (x: number | null) => (x === null || !Number.isFinite(x) ? MISSING : `${x.toFixed(2)}×`);

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function iouText(r: ParetoRow): string {
  const n = r.seeds.length;
  const std = Number.isFinite(r.iou.std) ? ` ± ${r.iou.std.toFixed(4)}` : '';
  const collapsed = r.collapsedSeeds > 0 ? `, ${r.collapsedSeeds} collapsed` : '';
  return `${num(r.iou.mean, 4)}${std} (n=${n}${collapsed})`;
}

const timingText = (t: Timing | null) => (t === null ? MISSING : `${t.medianMs.toFixed(2)} (${t.engine})`);

function rowCells(r: ParetoRow): string[] {
  return [
    `${r.onFront ? '**' : ''}${r.label}${r.onFront ? '**' : ''}`,
    r.description,
    iouText(r),
    num(r.sizeMiB, 4),
    timingText(r.width16),
    timingText(r.width64),
    times(r.speedupVsUnet),
    times(r.speedupVsLwUnet),
  ];
}

const threads = (t: Timing) => (t.threads === null ? 'threads unknown' : `${t.threads} thread${t.threads === 1 ? '' : 's'}`);
const from = (t: Timing | null, width: number) =>
  t === null ? `width ${width}: ${MISSING}` : `width ${width} from \`${t.stepId}\` (${t.engine}, ${threads(t)})`;

function sourceNotes(rows: readonly ParetoRow[]): string[] {
  return rows.map((r) => `- ${r.label} (\`${r.group}\`): ${from(r.width16, 16)}; ${from(r.width64, 64)}.`);
}

function frontNote(rows: readonly ParetoRow[]): string {
  const front = rows.filter((r) => r.onFront).map((r) => r.label);
  const unplaced = rows.filter((r) => r.width64 === null || !Number.isFinite(r.iou.mean)).map((r) => r.label);
  // Labels hold commas (`, variant sep_a1`), so the lists use semicolons.
  const on = front.length > 0 ? front.join('; ') : 'none (no row has both a mean test IoU and a width-64 latency)';
  const off = unplaced.length > 0 ? ` Not placed (no width-64 latency or no IoU): ${unplaced.join('; ')}.` : '';
  return `**Pareto front** (no other row has both a higher mean test IoU and a lower width-64 median; bold in the table): ${on}.${off}`;
}

const RULES = [
  '- Rows: one per training step over its seeds (the training step id with the `seed` coordinate removed); test IoU is the mean ± sample std (n − 1) over the seeds, collapsed seeds included and counted.',
  '- Width 16: the trained measure-seed model of the row, packed on the binary engine for a BLU-Net, tfjs for the others. Size: that entry’s file bytes (the packed file; fp32 weights for the others).',
  '- Width 64: untrained models. U-Net and lw_unet: their tfjs entry in the width-64 step without coordinates; a BLU-Net: the packed entry of the width-64 step with the row’s coordinates (the thesis BLU-Net: the one without).',
  '- Speed-ups at width 64 are in-step ratios: the U-Net (lw_unet) tfjs median of the same width-64 step over the row’s median, so a ratio never mixes two processes’ timings.',
];

/** The whole pareto.md. */
export function renderPareto(title: string, t: ParetoTable, figure?: string): string {
  const header = [
    'model',
    'description',
    'test IoU (mean ± std)',
    'size (MiB)',
    'width 16 median (ms)',
    'width 64 median (ms)',
    '× U-Net @64',
    '× lw_unet @64',
  ];
  const missing = t.missing.length > 0 ? ['', '**Missing values** (shown as —):', '', ...t.missing.map((m) => `- ${m}`)] : [];
  return [
    `# ${title}`,
    '',
    t.rows.length > 0 ? table(header, t.rows.map(rowCells)) : 'No evaluations.',
    '',
    frontNote(t.rows),
    '',
    figure !== undefined ? `![Test IoU against width-64 latency](${figure})\n` : '',
    '## Notes',
    '',
    ...RULES,
    '',
    'Where each latency came from:',
    '',
    ...sourceNotes(t.rows),
    ...missing,
    '',
  ].join('\n');
}
