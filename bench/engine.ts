/**
 * Engine benchmark (`npm run bench:engine`): batch-1 latency of the packed BLU-Net on the binary
 * engine (wasm SIMD kernels) beside the fp32 U-Net and lw_unet on the best available tfjs
 * backend, at 512² (untrained weights, perturbed off their initial values) and several widths.
 * Every model runs in its own child process so its peak RSS is its own. Prints figures; asserts
 * nothing. Options: --widths 64,16,8 --size 512 --runs 5 --warmup 1.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile } from '../src/base/stats.js';
import { parseArgs } from 'node:util';

type ModelKind = 'blu_packed' | 'unet' | 'lw_unet';

interface Measurement {
  model: ModelKind;
  width: number;
  backend: string;
  threads: number;
  runs: number;
  medianMs: number;
  p95Ms: number;
  minMs: number;
  /** 1-minute load average when the child finished (the machine may be shared). */
  load: number;
  weightBytes: number;
  peakRssBytes: number;
  note: string;
}

const SELF = fileURLToPath(import.meta.url);

async function timeRuns(runs: number, warmup: number, once: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await once();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

/** Child: the packed file on the engine; no tfjs is loaded in this process. */
async function measurePacked(file: string, size: number, runs: number, warmup: number): Promise<Omit<Measurement, 'width'>> {
  const { loadEngineModel, loadWasmKernels, runEngine } = await import('../src/ml/engine/index.js');
  const model = await loadEngineModel(file);
  const kernels = await loadWasmKernels();
  if (!model.ok || !kernels.ok) throw new Error(!model.ok ? model.error.message : !kernels.ok ? kernels.error.message : '');
  let seed = 1;
  const pixels = Float32Array.from({ length: size * size }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647));
  const times = await timeRuns(runs, warmup, async () => {
    runEngine(model.value, kernels.value, { height: size, width: size, pixels });
  });
  const decoded = kernels.value.decodedWeightBytes();
  return {
    model: 'blu_packed', backend: kernels.value.name, threads: 1, runs, medianMs: percentile(times, 50), p95Ms: percentile(times, 95), minMs: times[0] as number, load: os.loadavg()[0] as number,
    weightBytes: model.value.weightBytes + decoded, peakRssBytes: process.resourceUsage().maxRSS * 1024,
    note: `packed ${model.value.weightBytes} B + decoded fp32 kernels ${decoded} B; wasm memory ${kernels.value.memoryBytes()} B; XNOR convs with exact-zero signs (masked kernel) ${kernels.value.maskedConvs()}`,
  };
}

/** Child: an fp32 model on the best available tfjs backend. */
async function measureFp32(kind: 'unet' | 'lw_unet', width: number, size: number, runs: number, warmup: number): Promise<Omit<Measurement, 'width'>> {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend } = await import('../src/ml/backend/index.js');
  const { buildModel } = await import('../src/ml/models/index.js');
  const backend = await initBackend('auto');
  if (!backend.ok) throw new Error(backend.error.message);
  const built = buildModel(kind, { baseFilters: width });
  if (!built.ok) throw new Error(built.error.message);
  const x = tf.randomUniform([1, size, size, 1], 0, 1, 'float32', 1);
  const times = await timeRuns(runs, warmup, async () => {
    const y = built.value.predict(x) as InstanceType<typeof tf.Tensor>;
    await y.data();
    y.dispose();
  });
  return {
    model: kind, backend: backend.value.name, threads: backend.value.threads, runs, medianMs: percentile(times, 50), p95Ms: percentile(times, 95), minMs: times[0] as number, load: os.loadavg()[0] as number,
    weightBytes: built.value.countParams() * 4, peakRssBytes: process.resourceUsage().maxRSS * 1024, note: `simd ${backend.value.simd}`,
  };
}

/** Parent: writes a perturbed untrained BLU-Net of this width as a packed file. */
async function writePacked(width: number, dir: string): Promise<string> {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend } = await import('../src/ml/backend/index.js');
  const { buildBluNet, exportPackedBluNet } = await import('../src/ml/models/index.js');
  await initBackend('auto');
  const model = buildBluNet({ baseFilters: width });
  const values = model.getWeights().map((w, i) => tf.add(w, tf.randomNormal(w.shape, 0, 0.05, 'float32', 500 + i)));
  model.setWeights(values);
  tf.dispose(values);
  const file = path.join(dir, `blu-w${width}.blupack`);
  const info = await exportPackedBluNet(model, file);
  if (!info.ok) throw new Error(info.error.message);
  model.dispose();
  return file;
}

function runChild(args: string[]): Measurement | string {
  const r = spawnSync(process.execPath, [SELF, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) return `failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  return JSON.parse(line) as Measurement;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

function printWidth(width: number, rows: Measurement[]): void {
  console.log(`\nwidth ${width}:`);
  console.log('model        backend                     threads  median ms    p95 ms    min ms  load   weights      peak RSS');
  for (const m of rows) {
    console.log(`${m.model.padEnd(12)} ${m.backend.padEnd(27)} ${String(m.threads).padStart(7)} ${m.medianMs.toFixed(1).padStart(10)} ${m.p95Ms.toFixed(1).padStart(9)} ${m.minMs.toFixed(1).padStart(9)} ${m.load.toFixed(1).padStart(5)}   ${mib(m.weightBytes).padEnd(12)} ${mib(m.peakRssBytes)}`);
  }
  const by = (k: ModelKind) => rows.find((r) => r.model === k);
  const blu = by('blu_packed');
  for (const k of ['unet', 'lw_unet'] as const) {
    const other = by(k);
    if (blu && other) console.log(`  packed BLU-Net speed-up vs ${k}: ${(other.medianMs / blu.medianMs).toFixed(2)}× (median ratio), ${(other.minMs / blu.minMs).toFixed(2)}× (min ratio)`);
  }
  for (const m of rows) console.log(`  ${m.model}: ${m.note}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      one: { type: 'string' }, file: { type: 'string' }, width: { type: 'string', default: '64' },
      widths: { type: 'string', default: '64,16,8' }, size: { type: 'string', default: '512' }, runs: { type: 'string', default: '5' }, warmup: { type: 'string', default: '1' },
    },
  });
  const size = Number(values.size);
  const runs = Number(values.runs);
  const warmup = Number(values.warmup);
  if (values.one) {
    const width = Number(values.width);
    const m = values.one === 'blu_packed' ? await measurePacked(values.file ?? '', size, runs, warmup) : await measureFp32(values.one as 'unet' | 'lw_unet', width, size, runs, warmup);
    console.log(JSON.stringify({ ...m, width }));
    return;
  }
  console.log(`engine bench: ${size}², batch 1, ${runs} runs after ${warmup} warm-up; ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), shared machine: compare ratios`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blu-bench-engine-'));
  try {
    for (const width of values.widths.split(',').map(Number)) {
      const file = await writePacked(width, dir);
      const common = ['--width', String(width), '--size', String(size), '--runs', String(runs), '--warmup', String(warmup)];
      const rows: Measurement[] = [];
      for (const model of ['blu_packed', 'lw_unet', 'unet'] as const) {
        const m = runChild(['--one', model, '--file', file, ...common]);
        if (typeof m === 'string') console.log(`width ${width} ${model}: ${m}`);
        else rows.push(m);
      }
      console.log(`packed file: ${readFileSync(file).byteLength} B`);
      printWidth(width, rows);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
