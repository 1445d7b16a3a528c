/** Markdown rendering of the results (pure: no I/O, no tfjs). */
import type { EvaluationFile } from './evaluate.js';
import type { LatencyFile, ModelLatency } from './latency.js';
import { summariseSeeds, type ModelSummary } from './seed-summary.js';
import { compareModels, convergenceSection, differencesSection } from './report-fair.js';
import type { ModelSize, SizeFile } from './size.js';

export interface ResultsInput {
  readonly title: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly evaluations: readonly EvaluationFile[];
  readonly size: SizeFile;
  readonly latency: LatencyFile;
  /** Latency of untrained models at the thesis width, when the pipeline measures it. */
  readonly latencyThesis?: LatencyFile;
}

const f4 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(4));
const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(1));
const mib = (bytes: number | undefined) => (bytes === undefined ? '–' : (bytes / 2 ** 20).toFixed(4));
const ratio = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(1)}×`);

/** Thesis §10 and §8 reference numbers (DIC-1, width 64, 512 px, mean over 5 folds). */
export const THESIS_MODELS: readonly {
  readonly label: string;
  readonly iou: number;
  readonly f1: number;
  readonly mib: number;
  readonly latency: string;
}[] = [
  { label: 'U-Net (fine-tuned, teacher)', iou: 0.8869, f1: 0.9398, mib: 118.372, latency: '61.5 (GPU)' },
  { label: 'lw_unet (hint learning + BCE)', iou: 0.8941, f1: 0.9438, mib: 15.006, latency: '25.9 (GPU)' },
  { label: 'BLU-Net (from distilled lw_unet)', iou: 0.8532, f1: 0.9202, mib: 1.4312, latency: 'not measured' },
  { label: 'lw_unet (from scratch)', iou: 0.8398, f1: 0.9123, mib: 15.006, latency: '–' },
  { label: 'BLU-Net (from scratch)', iou: 0.6008, f1: 0.742, mib: 1.4312, latency: '–' },
];
const THESIS_ROWS = THESIS_MODELS.map((m) => [m.label, m.iou.toFixed(4), m.f1.toFixed(4), m.mib.toFixed(3), m.latency]);

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A model's size: its architecture at its width (the same for every seed, distilled or from scratch). */
export function sizeOfModel(size: SizeFile, model: Pick<ModelSummary, 'architecture' | 'width'>): ModelSize | undefined {
  return size.trained.find((s) => s.architecture === model.architecture && s.width === model.width);
}

/** Marks a value that is not a result. */
const COLLAPSED_MARK = '⚠';

const meanStdText = (x: { mean: number; std: number }) => (Number.isFinite(x.std) ? `${f4(x.mean)} ± ${f4(x.std)}` : f4(x.mean));

function seedsText(m: ModelSummary): string {
  return m.seeds.map((s) => `${s.seed}: ${f4(s.iou)}${s.collapsed !== undefined ? ` ${COLLAPSED_MARK}` : ''}`).join(', ');
}

function mainTable(input: ResultsInput, models: readonly ModelSummary[]): string {
  const rows = models.map((m) => {
    const s = sizeOfModel(input.size, m);
    const l = input.latency.models.find((x) => x.model.label === m.label && x.runtime !== 'binary-engine');
    const mark = m.collapsedSeeds > 0 ? ` ${COLLAPSED_MARK} ${m.collapsedSeeds} of ${m.seeds.length} collapsed` : '';
    return [
      m.label,
      String(m.width),
      String(m.seeds.length),
      `${meanStdText(m.iou)}${mark}`,
      seedsText(m),
      meanStdText(m.f1),
      s ? s.mib.toFixed(4) : '–',
      mib(s?.packedBytes),
      l ? `${f1(l.medianMs)} / ${f1(l.p95Ms)}` : '–',
    ];
  });
  const header = [
    'model',
    'width',
    'seeds',
    'test IoU (mean ± std)',
    'test IoU per seed',
    'test F1 (mean ± std)',
    'size, thesis accounting (MiB)',
    'packed file (MiB)',
    `latency median / p95 (ms, ${input.latency.size}², ${input.latency.backend})`,
  ];
  return table(header, rows);
}

type EngineCheck = NonNullable<ModelLatency['check']>;

/** The check in words, for the step log and the report. */
export function checkText(check: EngineCheck, backend: string): string {
  const against = `against the fp32 simulation on ${backend}`;
  const max = `max |Δp| ${check.maxAbsDiff.toExponential(1)}`;
  if (check.maskDiffs === 0) return `${against}: the same mask over ${check.pixels} pixels, ${max}`;
  const beyond = check.maskDiffsBeyondTies ?? check.maskDiffs;
  const ties = beyond === 0 ? 'all ties at 0.5 (|Δp| ≤ 1e-4)' : `${beyond} of them with |Δp| > 1e-4`;
  return `${against}: ${check.maskDiffs} of ${check.pixels} mask pixels differ, ${ties}; ${max}`;
}

/** The packed BLU-Nets on the binary engine, with their speed ratio against each fp32 model. */
function engineLines(latency: ResultsInput['latency']): string {
  const fp32 = latency.models.filter((m) => m.runtime !== 'binary-engine');
  const lines = latency.models
    .filter((m) => m.runtime === 'binary-engine')
    .map((m) => {
      const ratios = fp32.map((o) => `${o.model.label} ${(o.medianMs / m.medianMs).toFixed(2)}×`).join(', ');
      const check = m.check ? `; ${checkText(m.check, latency.backend)}` : '';
      return `- ${m.model.label} (${m.engine ?? 'wasm SIMD'}, ${m.threads ?? 1} thread${(m.threads ?? 1) === 1 ? '' : 's'}): median ${f1(m.medianMs)} ms, p95 ${f1(m.p95Ms)} ms, weights ${mib(m.weightBytes)} MiB; speed-up (fp32 median / packed median): ${ratios}${check}.`;
    });
  if (lines.length === 0) return '';
  return [
    '',
    `Packed BLU-Net on the binary engine (same input; fp32 models on ${latency.backend} with ${fp32[0]?.threads ?? '?'} thread(s)):`,
    '',
    ...lines,
  ].join('\n');
}

/** fp32 and packed latency of the untrained thesis-width models. */
function thesisLatency(latency: LatencyFile | undefined): string {
  if (latency === undefined) return '';
  const fp32 = latency.models.filter((m) => m.runtime !== 'binary-engine');
  const width = latency.models[0]?.model.width ?? '?';
  const rows = fp32.map((m) => [
    m.model.label,
    `${f1(m.medianMs)} / ${f1(m.p95Ms)}`,
    String(m.threads ?? '?'),
    m.peakRssBytes === undefined ? '–' : (m.peakRssBytes / 2 ** 20).toFixed(0),
  ]);
  return [
    `### Latency at the thesis width (${width}, untrained models, ${latency.size}², batch 1, ${latency.models[0]?.runs ?? 0} runs)`,
    '',
    table(
      ['model', `median / p95 (ms, ${latency.backend})`, 'threads', 'peak RSS of the step (MiB; all its models loaded together)'],
      rows,
    ),
    engineLines(latency),
    '',
  ].join('\n');
}

function collapseNotes(models: readonly ModelSummary[]): string {
  const notes = models.flatMap((m) =>
    m.seeds
      .filter((s) => s.collapsed !== undefined)
      .map((s) => `- ${COLLAPSED_MARK} ${m.label}, seed ${s.seed} (\`${s.stepId}\`): ${s.collapsed}`),
  );
  if (notes.length === 0) return '';
  return [
    '**Collapsed models** (their values are in the means above, but they are not results: the model predicts one class or a constant):',
    '',
    ...notes,
    '',
  ].join('\n');
}

function sizeTable(sizes: readonly ModelSize[]): string {
  const rows = sizes.map((s) => [
    s.label,
    s.fp32Params.toLocaleString('en-US'),
    s.binaryBits.toLocaleString('en-US'),
    s.mib.toFixed(4),
    ratio(s.ratioThesis),
    mib(s.packedBytes),
    ratio(s.ratioPacked),
    mib(s.savedBytes),
  ]);
  return table(
    [
      'model',
      'fp32 values',
      'binary bits',
      'thesis size (MiB)',
      'ratio vs U-Net',
      'packed file (MiB)',
      'packed ratio vs U-Net',
      'saved tfjs model (MiB)',
    ],
    rows,
  );
}

/** Per image, each model's IoU as the mean over its seeds. */
function perImageTable(evaluations: readonly EvaluationFile[], models: readonly ModelSummary[]): string {
  const images = evaluations[0]?.perImage.map((p) => p.image) ?? [];
  const iouOf = (label: string, image: string) => {
    const values = evaluations
      .filter((e) => e.model.label === label)
      .map((e) => e.perImage.find((p) => p.image === image)?.iou ?? Number.NaN);
    return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  };
  const rows = images.map((image) => [image, ...models.map((m) => f4(iouOf(m.label, image)))]);
  return table(['image', ...models.map((m) => `IoU ${m.label}`)], rows);
}

export function renderResults(input: ResultsInput, figure?: string, curves?: string): string {
  const check = input.size.packedCheck;
  const crop = input.evaluations[0]?.crop;
  const models = summariseSeeds(input.evaluations);
  return [
    `# ${input.title}`,
    '',
    `Test images: ${input.evaluations[0]?.images ?? 0}, centre crop/pad ${crop}×${crop}; IoU and F1 are the mean over images of the per-image values (thesis §7), then mean ± sample std (n − 1) over the seeds. Sizes and latency are measured on one seed's models (they depend on the architecture, not the weights). Latency: batch 1, median and p95 over ${input.latency.models[0]?.runs ?? 0} runs after ${input.latency.warmup} warm-up calls.`,
    '',
    mainTable(input, models),
    engineLines(input.latency),
    '',
    collapseNotes(models),
    figure !== undefined ? `![Test IoU against model size](${figure})\n` : '',
    differencesSection(compareModels(input.evaluations)),
    convergenceSection(input.evaluations, models),
    curves !== undefined ? `![Validation IoU against optimizer step, every model and seed](${curves})\n` : '',
    '## Model size',
    '',
    'Thesis accounting (§8): 32 bits per fp32 value, 1 bit per binary weight per residual level. The packed file is the real bit-packed BLU-Net export.',
    check
      ? `The packed BLU-Net reloads to ${check.identical ? 'identical' : 'DIFFERENT'} predictions (max |Δp| ${check.maxAbsDiff} over ${check.pixels} pixels).`
      : '',
    '',
    sizeTable(input.size.trained),
    '',
    input.size.thesisWidth.length > 0
      ? `### At the thesis width (${input.size.thesisWidth[0]?.width}, untrained models)\n\n${sizeTable(input.size.thesisWidth)}\n`
      : '',
    thesisLatency(input.latencyThesis),
    '## Per-image test IoU',
    '',
    '(mean over seeds)',
    '',
    perImageTable(input.evaluations, models),
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
