/** Terminal commands over the tracking store: `runs`, `compare`, `ui`, `mlflow sync`. */
import { parse, positiveInt, printUsage, wantsHelp } from '../args.js';
import { findOnPath } from '../../base/which.js';
import { EXIT, type CliIO, type Command, type ExitCode } from '../io.js';
import { type Result, ok, err } from '../../base/result.js';
import { listPipelineRuns, loadRunDetail, type PipelineRunSummary, type RunDetail } from '../../tracking/reader.js';
import { resolveTarget, type Target } from '../../tracking/target.js';
import { openStore, uiCommandLine } from '../../tracking/open-store.js';
import { syncJournal } from '../../tracking/sync.js';
import type { TrackingStore } from '../../tracking/store.js';

function usage(io: CliIO, message: string, synopsis: string): ExitCode {
  io.stderr(`${message}\nusage: ${synopsis}\n`);
  return EXIT.usage;
}

function targetFor(io: CliIO, flag: unknown): Result<Target, string> {
  const uri = typeof flag === 'string' ? flag : null;
  return resolveTarget(uri, uri === null ? io.env : {}, io.cwd);
}

const TRACKING_URI = { 'tracking-uri': { type: 'string' } } as const;

const RUNS_USAGE = 'blu-pipe runs [--last N] [--json] [--tracking-uri URI]';

export const runsCommand: Command = async (argv, io) => {
  if (wantsHelp(argv)) return printUsage(io, `usage: ${RUNS_USAGE}`);
  const parsed = parse(argv, { last: { type: 'string' }, json: { type: 'boolean' }, ...TRACKING_URI });
  if (!parsed.ok) return usage(io, parsed.error, RUNS_USAGE);
  const lastOption = positiveInt(parsed.value.values['last'], 'last');
  if (!lastOption.ok) return usage(io, `runs: ${lastOption.error}`, RUNS_USAGE);
  if (parsed.value.positionals.length > 0) return usage(io, 'runs takes no arguments', RUNS_USAGE);
  const last = lastOption.value;
  const target = targetFor(io, parsed.value.values['tracking-uri']);
  if (!target.ok) return usage(io, target.error, RUNS_USAGE);
  const runs = await listPipelineRuns(await openStore(target.value));
  if (!runs.ok) {
    io.stderr(`runs: cannot read MLflow: ${runs.error.message}\n`);
    return EXIT.failed;
  }
  const shown = last === null ? runs.value : runs.value.slice(0, last);
  io.stdout(parsed.value.values['json'] === true ? `${JSON.stringify(shown, null, 2)}\n` : runsTable(shown));
  return EXIT.ok;
};

function runsTable(runs: readonly PipelineRunSummary[]): string {
  if (runs.length === 0) return 'no tracked pipeline runs\n';
  const rows = runs.map((r) => [
    r.bluRunId,
    new Date(r.startTime).toISOString().replace('T', ' ').slice(0, 19),
    r.status,
    r.pipeline,
    r.overlays.join(',') || '-',
    r.durationS === null ? '-' : `${r.durationS.toFixed(1)}s`,
  ]);
  return formatTable(['RUN', 'START (UTC)', 'STATUS', 'PIPELINE', 'OVERLAYS', 'DURATION'], rows);
}

function formatTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}

const COMPARE_USAGE = 'blu-pipe compare <run> <run>... | --last N  [--json] [--tracking-uri URI]';

export const compareCommand: Command = async (argv, io) => {
  if (wantsHelp(argv)) return printUsage(io, `usage: ${COMPARE_USAGE}`);
  const parsed = parse(argv, { last: { type: 'string' }, json: { type: 'boolean' }, ...TRACKING_URI });
  if (!parsed.ok) return usage(io, parsed.error, COMPARE_USAGE);
  const lastOption = positiveInt(parsed.value.values['last'], 'last');
  if (!lastOption.ok) return usage(io, `compare: ${lastOption.error}`, COMPARE_USAGE);
  const last = lastOption.value;
  const wanted = parsed.value.positionals;
  if ((last === null) === (wanted.length === 0) || (last !== null && last < 2) || (last === null && wanted.length < 2)) {
    return usage(io, 'compare: give two or more run ids, or --last N with N ≥ 2', COMPARE_USAGE);
  }
  const target = targetFor(io, parsed.value.values['tracking-uri']);
  if (!target.ok) return usage(io, target.error, COMPARE_USAGE);
  const store = await openStore(target.value);
  const details = await loadDetails(store, wanted, last, (note) => io.stderr(`compare: ${note}\n`));
  if (!details.ok) {
    io.stderr(`compare: ${details.error}\n`);
    return EXIT.failed;
  }
  const table = compareRuns(details.value);
  io.stdout(parsed.value.values['json'] === true ? `${JSON.stringify(table, null, 2)}\n` : compareText(table));
  return EXIT.ok;
};

async function loadDetails(
  store: TrackingStore,
  wanted: readonly string[],
  last: number | null,
  note: (text: string) => void,
): Promise<Result<RunDetail[], string>> {
  const runs = await listPipelineRuns(store);
  if (!runs.ok) return err(`cannot read MLflow: ${runs.error.message}`);
  const chosen: PipelineRunSummary[] = [];
  if (last !== null) chosen.push(...lastOfSamePipeline(runs.value, last, note));
  for (const id of wanted) {
    const matches = runs.value.filter((r) => r.bluRunId === id || r.mlflowRunId === id || r.bluRunId.startsWith(id));
    if (matches.length !== 1) return err(matches.length === 0 ? `no tracked run "${id}"` : `"${id}" matches ${matches.length} runs`);
    chosen.push(matches[0] as PipelineRunSummary);
  }
  if (chosen.length < 2) return err(`only ${chosen.length} tracked run(s) found`);
  const details: RunDetail[] = [];
  for (const run of chosen) {
    const detail = await loadRunDetail(store, run);
    if (!detail.ok) return err(`cannot read run ${run.bluRunId}: ${detail.error.message}`);
    details.push(detail.value);
  }
  return ok(details);
}

/** `--last N`: the newest N runs of the pipeline that ran last (other pipelines' rows would all be '-'). */
function lastOfSamePipeline(runs: readonly PipelineRunSummary[], last: number, note: (text: string) => void): PipelineRunSummary[] {
  const pipeline = runs[0]?.pipeline;
  const same = runs.filter((r) => r.pipeline === pipeline).slice(0, last);
  const newest = runs.slice(0, last);
  if (newest.some((r) => r.pipeline !== pipeline)) {
    const others = [...new Set(newest.map((r) => r.pipeline).filter((p) => p !== pipeline))].join(', ');
    note(
      `the last ${last} runs include other pipelines (${others}); comparing the last ${same.length} runs of '${pipeline}' (give run ids to compare across pipelines)`,
    );
  }
  return same.reverse();
}

export interface Comparison {
  readonly runs: readonly string[];
  /** `param` or `step/param` → value per run ('' when absent); only rows that differ. */
  readonly params: Readonly<Record<string, readonly string[]>>;
  /** `step/metric` → final value per run (null when absent). */
  readonly metrics: Readonly<Record<string, readonly (number | null)[]>>;
}

export function compareRuns(details: readonly RunDetail[]): Comparison {
  const paramRows = new Map<string, string[]>();
  const metricRows = new Map<string, (number | null)[]>();
  details.forEach((detail, column) => {
    const put = <V>(rows: Map<string, V[]>, key: string, value: V, empty: V): void => {
      const row = rows.get(key) ?? details.map(() => empty);
      row[column] = value;
      rows.set(key, row);
    };
    for (const [k, v] of Object.entries(detail.params)) put(paramRows, k, v, '');
    for (const step of detail.steps) {
      for (const [k, v] of Object.entries(step.params)) put(paramRows, `${step.stepId}/${k}`, v, '');
      for (const [k, v] of Object.entries(step.metrics)) put<number | null>(metricRows, `${step.stepId}/${k}`, v, null);
    }
  });
  const params = Object.fromEntries([...paramRows].filter(([, row]) => new Set(row).size > 1).sort(([a], [b]) => a.localeCompare(b)));
  const metrics = Object.fromEntries([...metricRows].sort(([a], [b]) => a.localeCompare(b)));
  return { runs: details.map((d) => d.run.bluRunId), params, metrics };
}

function compareText(table: Comparison): string {
  const num = (v: number | null): string => (v === null ? '-' : Number.isInteger(v) ? String(v) : v.toPrecision(6));
  const paramRows = Object.entries(table.params).map(([k, row]) => [k, ...row.map((v) => (v === '' ? '-' : v))]);
  const metricRows = Object.entries(table.metrics).map(([k, row]) => [k, ...row.map(num)]);
  const params = paramRows.length === 0 ? 'no params differ\n' : formatTable(['PARAM', ...table.runs], paramRows);
  const metrics = metricRows.length === 0 ? 'no metrics\n' : formatTable(['STEP/METRIC', ...table.runs], metricRows);
  return `Params that differ:\n${params}\nFinal metrics:\n${metrics}`;
}

const UI_USAGE = 'blu-pipe ui [--print] [--tracking-uri URI]';

export const uiCommand: Command = async (argv, io) => {
  if (wantsHelp(argv)) return printUsage(io, `usage: ${UI_USAGE}`);
  const parsed = parse(argv, { print: { type: 'boolean' }, ...TRACKING_URI });
  if (!parsed.ok || parsed.value.positionals.length > 0) return usage(io, parsed.ok ? 'ui takes no arguments' : parsed.error, UI_USAGE);
  const target = targetFor(io, parsed.value.values['tracking-uri']);
  if (!target.ok) return usage(io, target.error, UI_USAGE);
  const command = uiCommandLine(target.value);
  if (command === null) {
    io.stdout(`The MLflow server is the UI: open ${target.value.uri}\n`);
    return EXIT.ok;
  }
  const mlflow = findOnPath(['mlflow'], io.env);
  if (parsed.value.values['print'] === true || mlflow === null) {
    if (mlflow === null && parsed.value.values['print'] !== true)
      io.stderr('mlflow is not on PATH (pip install mlflow); run this yourself:\n');
    io.stdout(`${command.text}\n`);
    return EXIT.ok;
  }
  io.stderr(`starting: ${command.text}\n`);
  return runMlflow(io, mlflow, command.args, command.env);
};

/** Runs mlflow until it exits, passing its output through the command's io (only the CLI prints). */
async function runMlflow(
  io: CliIO,
  mlflow: string,
  args: readonly string[],
  extraEnv: Readonly<Record<string, string>>,
): Promise<ExitCode> {
  const { execa } = await import('execa'); // only `ui` needs it: tracked runs import this module too
  const child = execa(mlflow, [...args], {
    env: { ...io.env, ...extraEnv },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    buffer: false,
  });
  child.stdout?.on('data', (chunk: Buffer) => io.stdout(chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => io.stderr(chunk.toString('utf8')));
  const result = await child;
  if (result.exitCode === 0) return EXIT.ok;
  if (result.signal === 'SIGINT') return EXIT.interrupted;
  io.stderr(`mlflow exited with ${result.exitCode ?? result.signal ?? 'an error'}\n`);
  return EXIT.failed;
}

const SYNC_USAGE = 'blu-pipe mlflow sync [--run ID]... [--include-incomplete] [--tracking-uri URI]';

export const syncCommand: Command = async (argv, io) => {
  if (wantsHelp(argv)) return printUsage(io, `usage: ${SYNC_USAGE}`);
  const parsed = parse(argv, { run: { type: 'string', multiple: true }, 'include-incomplete': { type: 'boolean' }, ...TRACKING_URI });
  if (!parsed.ok || parsed.value.positionals.length > 0) return usage(io, parsed.ok ? 'sync takes no arguments' : parsed.error, SYNC_USAGE);
  const uri = parsed.value.values['tracking-uri'];
  const runIds = parsed.value.values['run'];
  const report = await syncJournal(io.cwd, {
    env: io.env,
    trackingUri: typeof uri === 'string' ? uri : null,
    runIds: Array.isArray(runIds) ? runIds.map(String) : undefined,
    includeIncomplete: parsed.value.values['include-incomplete'] === true,
  });
  if (!report.ok) return usage(io, report.error, SYNC_USAGE);
  for (const j of report.value.journals) {
    const state = j.error !== null ? `stopped: ${j.error}` : j.incomplete ? 'no run end (skipped unless --include-incomplete)' : 'complete';
    const where = j.store === '' ? '' : ` to ${j.store.startsWith('file://') ? j.store.slice('file://'.length) : j.store}`;
    io.stdout(
      `${j.runId}${where}: sent ${j.sent}, already acknowledged ${j.alreadyAcknowledged} of ${j.operations} operations (${state})\n`,
    );
  }
  for (const warning of report.value.warnings) io.stderr(`${warning}\n`);
  if (report.value.journals.length === 0) io.stdout('no tracking journals to sync\n');
  return report.value.journals.some((j) => j.error !== null) ? EXIT.failed : EXIT.ok;
};
