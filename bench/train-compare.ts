/**
 * Every available tensor backend side by side: each round runs one child process per backend
 * (A B A B …), so drifting machine load hits all of them alike. Reports medians over rounds and,
 * per round, paired ratios: native vs wasm per model, and BLU-Net vs lw_unet per backend.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { median } from '../src/base/stats.js';
import { nativeStatus } from '../src/ml/backend/native/status.js';

interface ChildRow {
  model: string;
  fwdMs: number;
  trainMs: number;
  leak: number;
}
interface ChildResult {
  backend: string;
  rows: ChildRow[];
  peakRssMb: number;
}

function option(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

function withoutOptions(argv: string[], flags: string[]): string[] {
  return argv.filter((a, i) => !flags.includes(a) && !flags.includes(argv[i - 1] ?? ''));
}

// PyTorch is timed beside us when python3 can import torch: a reference point, not a dependency.
async function pytorchAvailable(): Promise<boolean> {
  const r = await execa('python3', ['-c', 'import torch'], { reject: false });
  return r.exitCode === 0;
}

async function availableBackends(argv: string[]): Promise<string[]> {
  const asked = option(argv, '--backends');
  if (asked !== undefined) return asked.split(',');
  const native = await nativeStatus(process.env, false);
  if (!native.usable) console.log(`native backend not available (${native.problem}); timing wasm only`);
  const torch = (option(argv, '--models') ?? 'unet').split(',').includes('unet') && (await pytorchAvailable());
  return [...(native.usable ? ['tensorflow'] : []), 'wasm', ...(torch ? ['pytorch'] : [])];
}

function childCommand(backend: string, argv: string[], passOn: string[]): [string, string[]] {
  if (backend !== 'pytorch')
    return [process.execPath, [fileURLToPath(new URL('./train.js', import.meta.url)), '--backend', backend, '--json', ...passOn]];
  const value = (flag: string, fallback: number): string => option(argv, flag) ?? String(fallback);
  const script = fileURLToPath(new URL('../../bench/torch-unet.py', import.meta.url));
  return [
    'python3',
    [
      script,
      value('--size', 128),
      value('--width', 16),
      value('--levels', 5),
      value('--batch', 4),
      value('--steps', 3),
      value('--warmup', 1),
    ],
  ];
}

async function runChild(backend: string, argv: string[], passOn: string[]): Promise<ChildResult | string> {
  const [command, args] = childCommand(backend, argv, passOn);
  const r = await execa(command, args, { reject: false, all: true });
  const line = r.stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (r.exitCode !== 0 || line === undefined)
    return `${backend} failed (exit ${r.exitCode}): ${(r.all ?? '').split('\n').slice(-3).join(' | ')}`;
  return JSON.parse(line) as ChildResult;
}

const ips = (batch: number, ms: number): number => (batch * 1000) / ms;
// Backends without a model (PyTorch has only the U-Net) give NaN: shown as '–', not as NaN (Infinity–-Infinity).
const fmtRange = (values: number[]): string => {
  const xs = values.filter(Number.isFinite);
  return xs.length === 0 ? '–' : `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
};

function report(results: ChildResult[][], backends: string[], batch: number): void {
  const models = results[0]?.[0]?.rows.map((r) => r.model) ?? [];
  const trainMs = (round: ChildResult[], backend: string, model: string): number | undefined =>
    round.find((c) => c.backend === backend)?.rows.find((r) => r.model === model)?.trainMs;
  console.log('\ntraining img/s, median over rounds (min–max)');
  console.log(
    `model    | ${backends.map((b) => b.padEnd(22)).join(' | ')}${backends.length > 1 ? ` | ${backends[0]} vs ${backends[1]} (paired per round)` : ''}`,
  );
  for (const model of models) {
    const cells = backends.map((b) =>
      fmtRange(
        results
          .map((r) => trainMs(r, b, model))
          .filter((v): v is number => v !== undefined)
          .map((ms) => ips(batch, ms)),
      ).padEnd(22),
    );
    const ratios =
      backends.length > 1 ? results.map((r) => (trainMs(r, backends[1]!, model) ?? NaN) / (trainMs(r, backends[0]!, model) ?? NaN)) : [];
    console.log(`${model.padEnd(8)} | ${cells.join(' | ')}${ratios.length > 0 ? ` | ×${fmtRange(ratios)}` : ''}`);
  }
  if (models.includes('blu_net') && models.includes('lw_unet')) {
    for (const b of backends.filter((name) => name !== 'pytorch')) {
      const ratios = results.map((r) => (trainMs(r, b, 'lw_unet') ?? NaN) / (trainMs(r, b, 'blu_net') ?? NaN));
      console.log(`BLU-Net training speed relative to lw_unet on ${b}: ×${fmtRange(ratios)} (img/s ratio, paired per round)`);
    }
  }
  if (backends.includes('pytorch') && backends[0] === 'tensorflow') {
    const ratios = results.map((r) => (trainMs(r, 'tensorflow', 'unet') ?? NaN) / (trainMs(r, 'pytorch', 'unet') ?? NaN));
    console.log(
      `U-Net training: PyTorch vs native TensorFlow ×${fmtRange(ratios)} (img/s ratio, paired per round; PyTorch has no BLU-Net here)`,
    );
  }
  for (const b of backends.filter((name) => name !== 'pytorch'))
    console.log(
      `peak RSS ${b}: ${Math.max(...results.flatMap((r) => r.filter((c) => c.backend === b).map((c) => c.peakRssMb))).toFixed(0)} MB`,
    );
}

export async function compareBackends(argv: string[]): Promise<number> {
  const backends = await availableBackends(argv);
  const rounds = Number(option(argv, '--rounds') ?? 3);
  const passOn = withoutOptions(argv, ['--rounds', '--backends']);
  const batch = Number(option(argv, '--batch') ?? 4);
  console.log(
    `backends ${backends.join(', ')}; ${rounds} rounds, each a fresh process per backend; ${os.cpus().length} cores, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(`settings: ${passOn.join(' ') || '(defaults: 128², width 16, levels 5, batch 4, 3 steps after 1 warm-up per process)'}`);
  const results: ChildResult[][] = [];
  for (let round = 0; round < rounds; round++) {
    const row: ChildResult[] = [];
    for (const backend of backends) {
      const child = await runChild(backend, argv, passOn);
      if (typeof child === 'string') {
        console.error(child);
        return 1;
      }
      console.log(
        `round ${round + 1} ${backend}: ${child.rows.map((r) => `${r.model} ${ips(batch, r.trainMs).toFixed(2)} img/s`).join(', ')}`,
      );
      row.push(child);
    }
    results.push(row);
  }
  report(results, backends, batch);
  console.log(
    `load after ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  return 0;
}
