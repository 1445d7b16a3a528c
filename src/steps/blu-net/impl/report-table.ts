/** Markdown rendering of the results (pure: no I/O, no tfjs). */
import type { EvaluationFile } from './evaluate.js';
import type { LatencyFile } from './latency.js';
import type { ModelSize, SizeFile } from './size.js';

export interface ResultsInput {
  readonly title: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly evaluations: readonly EvaluationFile[];
  readonly size: SizeFile;
  readonly latency: LatencyFile;
}

const f4 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(4));
const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(1));
const mib = (bytes: number | undefined) => (bytes === undefined ? '–' : (bytes / 2 ** 20).toFixed(4));
const ratio = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(1)}×`);

/** Thesis §10 and §8 reference numbers (DIC-1, width 64, 512 px, mean over 5 folds). */
const THESIS_ROWS: readonly (readonly string[])[] = [
  ['U-Net (fine-tuned, teacher)', '0.8869', '0.9398', '118.372', '61.5 (GPU)'],
  ['lw_unet (hint learning + BCE)', '0.8941', '0.9438', '15.006', '25.9 (GPU)'],
  ['BLU-Net (from distilled lw_unet)', '0.8532', '0.9202', '1.4312', 'not measured'],
  ['lw_unet (from scratch)', '0.8398', '0.9123', '15.006', '–'],
  ['BLU-Net (from scratch)', '0.6008', '0.7420', '1.4312', '–'],
];

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function sizeOf(size: SizeFile, stepId: string): ModelSize | undefined {
  return size.trained.find((s) => s.stepId === stepId);
}

function mainTable(input: ResultsInput): string {
  const rows = input.evaluations.map((e) => {
    const s = sizeOf(input.size, e.model.stepId);
    const l = input.latency.models.find((m) => m.model.stepId === e.model.stepId && m.runtime !== 'binary-engine');
    return [e.model.label, `\`${e.model.stepId}\``, String(e.model.width), f4(e.meanIou), f4(e.meanF1), s ? s.mib.toFixed(4) : '–', mib(s?.packedBytes), l ? `${f1(l.medianMs)} / ${f1(l.p95Ms)}` : '–'];
  });
  const header = ['model', 'step', 'width', 'test IoU', 'test F1', 'size, thesis accounting (MiB)', 'packed file (MiB)', `latency median / p95 (ms, ${input.latency.size}², ${input.latency.backend})`];
  return table(header, rows);
}

/** The packed BLU-Nets on the binary engine, with their speed ratio against each fp32 model. */
function engineLines(latency: ResultsInput['latency']): string {
  const fp32 = latency.models.filter((m) => m.runtime !== 'binary-engine');
  const lines = latency.models
    .filter((m) => m.runtime === 'binary-engine')
    .map((m) => {
      const ratios = fp32.map((o) => `${o.model.label} ${(o.medianMs / m.medianMs).toFixed(2)}×`).join(', ');
      const check = m.check ? `; against the simulation ${m.check.maskDiffs} of ${m.check.pixels} mask pixels differ (max |Δp| ${m.check.maxAbsDiff.toExponential(1)})` : '';
      return `- ${m.model.label} (wasm SIMD, ${m.threads ?? 1} thread): median ${f1(m.medianMs)} ms, p95 ${f1(m.p95Ms)} ms, weights ${mib(m.weightBytes)} MiB; speed-up (fp32 median / packed median): ${ratios}${check}.`;
    });
  if (lines.length === 0) return '';
  return ['', `Packed BLU-Net on the binary engine (same input; fp32 models on ${latency.backend} with ${fp32[0]?.threads ?? '?'} thread(s)):`, '', ...lines].join('\n');
}

function sizeTable(sizes: readonly ModelSize[]): string {
  const rows = sizes.map((s) => [s.label, s.fp32Params.toLocaleString('en-US'), s.binaryBits.toLocaleString('en-US'), s.mib.toFixed(4), ratio(s.ratioThesis), mib(s.packedBytes), ratio(s.ratioPacked), mib(s.savedBytes)]);
  return table(['model', 'fp32 values', 'binary bits', 'thesis size (MiB)', 'ratio vs U-Net', 'packed file (MiB)', 'packed ratio vs U-Net', 'saved tfjs model (MiB)'], rows);
}

function perImageTable(evaluations: readonly EvaluationFile[]): string {
  const images = evaluations[0]?.perImage.map((p) => p.image) ?? [];
  const rows = images.map((image) => [image, ...evaluations.map((e) => f4(e.perImage.find((p) => p.image === image)?.iou))]);
  return table(['image', ...evaluations.map((e) => `IoU ${e.model.label}`)], rows);
}

export function renderResults(input: ResultsInput): string {
  const check = input.size.packedCheck;
  const crop = input.evaluations[0]?.crop;
  return [
    `# ${input.title}`,
    '',
    `Test images: ${input.evaluations[0]?.images ?? 0}, centre crop/pad ${crop}×${crop}; IoU and F1 are the mean over images of the per-image values (thesis §7). Latency: batch 1, median and p95 over ${input.latency.models[0]?.runs ?? 0} runs after ${input.latency.warmup} warm-up calls.`,
    '',
    mainTable(input),
    engineLines(input.latency),
    '',
    '## Model size',
    '',
    'Thesis accounting (§8): 32 bits per fp32 value, 1 bit per binary weight per residual level. The packed file is the real bit-packed BLU-Net export.',
    check ? `The packed BLU-Net reloads to ${check.identical ? 'identical' : 'DIFFERENT'} predictions (max |Δp| ${check.maxAbsDiff} over ${check.pixels} pixels).` : '',
    '',
    sizeTable(input.size.trained),
    '',
    input.size.thesisWidth.length > 0 ? `### At the thesis width (${input.size.thesisWidth[0]?.width}, untrained models)\n\n${sizeTable(input.size.thesisWidth)}\n` : '',
    '## Per-image test IoU',
    '',
    perImageTable(input.evaluations),
    '',
    '## Thesis reference (DIC-1, width 64, 512 px, mean over 5 folds)',
    '',
    table(['model', 'IoU', 'F1', 'size (MiB)', 'latency (ms)'], THESIS_ROWS),
    '',
    '## Parameters',
    '',
    '```json',
    JSON.stringify(input.params, null, 2),
    '```',
    '',
  ].join('\n');
}
