/**
 * Engine benchmark (`npm run bench:engine`): batch-1 latency of the packed BLU-Net on the binary
 * engine (wasm SIMD kernels) beside the fp32 U-Net and lw_unet on the best available tfjs
 * backend, at 512² (untrained weights, perturbed off their initial values) and several widths,
 * at each thread count of --threads: the engine with that many threads, native TensorFlow with
 * TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS / OMP_NUM_THREADS set to it (read when the
 * library loads, hence one child process per configuration). The process CPU time per run over
 * the wall time shows how many cores a configuration really kept busy. Every configuration runs
 * in its own child process so its peak RSS is its own. Prints figures; asserts nothing.
 * Options: --widths 64,16,8 --size 512 --runs 5 --warmup 1 --threads 1,2.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile } from '../src/base/stats.js';
import { parseArgs } from 'node:util';
import { rerunWithTensorflowLogFiltered } from '../src/ml/backend/native/tf-log.js';

type ModelKind = 'blu_packed' | 'blu_packed_fma' | 'unet' | 'lw_unet';
const PACKED: readonly ModelKind[] = ['blu_packed', 'blu_packed_fma'];

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
  /** Process CPU time (all threads) per timed run, over the median wall time: the cores kept busy. */
  cpuPerWall: number;
  weightBytes: number;
  peakRssBytes: number;
  note: string;
}

const SELF = fileURLToPath(import.meta.url);
/** The environment as the user started the bench, before loading TensorFlow here adds its defaults. */
const USER_ENV = { ...process.env };

interface Timing {
  /** Wall times, sorted. */
  readonly times: number[];
  /** Mean process CPU time (user + system, every thread) per run, ms. */
  readonly cpuMs: number;
}

async function timeRuns(runs: number, warmup: number, once: () => Promise<void>): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await once();
  const times: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await once();
    times.push(performance.now() - started);
  }
  const used = process.cpuUsage(cpu);
  return { times: times.sort((a, b) => a - b), cpuMs: (used.user + used.system) / 1000 / runs };
}

function summary({ times, cpuMs }: Timing, runs: number) {
  const medianMs = percentile(times, 50);
  return { runs, medianMs, p95Ms: percentile(times, 95), minMs: times[0] as number, load: os.loadavg()[0] as number, cpuPerWall: cpuMs / medianMs };
}

/** Child: the packed file on the engine; no tfjs is loaded in this process. */
async function measurePacked(kind: ModelKind, file: string, size: number, runs: number, warmup: number, threads: number): Promise<Omit<Measurement, 'width'>> {
  const { loadEngineModel, loadWasmKernels, runEngine } = await import('../src/ml/engine/index.js');
  const model = await loadEngineModel(file);
  const kernels = await loadWasmKernels({ threads, fma: kind === 'blu_packed_fma' });
  if (!model.ok || !kernels.ok) throw new Error(!model.ok ? model.error.message : !kernels.ok ? kernels.error.message : '');
  let seed = 1;
  const pixels = Float32Array.from({ length: size * size }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647));
  const timing = await timeRuns(runs, warmup, async () => {
    runEngine(model.value, kernels.value, { height: size, width: size, pixels });
  });
  const decoded = kernels.value.decodedWeightBytes();
  return {
    model: kind, backend: kernels.value.name.replace(' (AssemblyScript)', '').replace('relaxed-SIMD ', ''), threads: kernels.value.threads, ...summary(timing, runs),
    weightBytes: model.value.weightBytes + decoded, peakRssBytes: process.resourceUsage().maxRSS * 1024,
    note: `packed ${model.value.weightBytes} B + decoded fp32 kernels ${decoded} B; wasm memory ${kernels.value.memoryBytes()} B; XNOR convs with exact-zero signs (masked kernel) ${kernels.value.maskedConvs()}`,
  };
}

/** Child: an fp32 model on the best available tfjs backend. */
async function measureFp32(kind: 'unet' | 'lw_unet', width: number, size: number, runs: number, warmup: number): Promise<Omit<Measurement, 'width'>> {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend } = await import('../src/ml/backend/index.js');
  const { computeThreads } = await import('../src/ml/backend/threads.js');
  const { buildModel } = await import('../src/ml/models/index.js');
  const backend = await initBackend('auto');
  if (!backend.ok) throw new Error(backend.error.message);
  const built = buildModel(kind, { baseFilters: width });
  if (!built.ok) throw new Error(built.error.message);
  const x = tf.randomUniform([1, size, size, 1], 0, 1, 'float32', 1);
  const timing = await timeRuns(runs, warmup, async () => {
    const y = built.value.predict(x) as InstanceType<typeof tf.Tensor>;
    await y.data();
    y.dispose();
  });
  const threads = computeThreads(backend.value.threads, process.env, os.availableParallelism());
  return {
    model: kind, backend: backend.value.name, threads, ...summary(timing, runs),
    weightBytes: built.value.countParams() * 4, peakRssBytes: process.resourceUsage().maxRSS * 1024,
    note: backend.value.native ? `TensorFlow ${backend.value.native.tfVersion}; ${backend.value.native.threads}; oneDNN ${backend.value.native.onednn}` : `simd ${backend.value.simd}`,
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

/** Thread settings native TensorFlow (and oneDNN, should it use OpenMP) reads when it loads. */
const nativeThreadEnv = (threads: number) => ({ TF_NUM_INTRAOP_THREADS: String(threads), TF_NUM_INTEROP_THREADS: String(threads), OMP_NUM_THREADS: String(threads) });

/** The FMA build needs relaxed SIMD, behind this flag in Node 20 (shipped in Node 22). */
const RELAXED_SIMD = '--experimental-wasm-relaxed-simd';

function runChild(model: ModelKind, args: string[], threads: number): Measurement | string {
  const env = { ...USER_ENV, ...nativeThreadEnv(threads) };
  const flags = model === 'blu_packed_fma' ? [RELAXED_SIMD] : [];
  const r = spawnSync(process.execPath, [...flags, SELF, '--one', model, ...args, '--threads', String(threads)], { encoding: 'utf8', maxBuffer: 1 << 24, env });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) return `failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  return JSON.parse(line) as Measurement;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

function printWidth(width: number, rows: Measurement[]): void {
  console.log(`\nwidth ${width}:`);
  console.log('model          backend                     threads  median ms    p95 ms    min ms  cpu/wall  load   weights      peak RSS');
  for (const m of rows) {
    console.log(`${m.model.padEnd(14)} ${m.backend.padEnd(27)} ${String(m.threads).padStart(7)} ${m.medianMs.toFixed(1).padStart(10)} ${m.p95Ms.toFixed(1).padStart(9)} ${m.minMs.toFixed(1).padStart(9)} ${m.cpuPerWall.toFixed(2).padStart(9)} ${m.load.toFixed(1).padStart(5)}   ${mib(m.weightBytes).padEnd(12)} ${mib(m.peakRssBytes)}`);
  }
  // Speed-ups only between rows with the same thread count.
  for (const threads of [...new Set(rows.map((r) => r.threads))]) {
    const by = (k: ModelKind) => rows.find((r) => r.model === k && r.threads === threads);
    for (const packed of PACKED) {
      const blu = by(packed);
      for (const k of ['unet', 'lw_unet'] as const) {
        const other = by(k);
        if (blu && other) console.log(`  ${threads} thread(s): ${packed} speed-up vs ${k}: ${(other.medianMs / blu.medianMs).toFixed(2)}× (median ratio), ${(other.minMs / blu.minMs).toFixed(2)}× (min ratio)`);
      }
    }
  }
  for (const m of rows) console.log(`  ${m.model} (${m.threads} thread(s)): ${m.note}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      one: { type: 'string' }, file: { type: 'string' }, width: { type: 'string', default: '64' },
      widths: { type: 'string', default: '64,16,8' }, size: { type: 'string', default: '512' }, runs: { type: 'string', default: '5' }, warmup: { type: 'string', default: '1' },
      threads: { type: 'string', default: `1,${os.availableParallelism()}` },
    },
  });
  const size = Number(values.size);
  const runs = Number(values.runs);
  const warmup = Number(values.warmup);
  if (values.one) {
    const width = Number(values.width);
    const one = values.one as ModelKind;
    const m = PACKED.includes(one) ? await measurePacked(one, values.file ?? '', size, runs, warmup, Number(values.threads)) : await measureFp32(one as 'unet' | 'lw_unet', width, size, runs, warmup);
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
      for (const threads of [...new Set(values.threads.split(',').map(Number))]) {
        for (const model of [...PACKED, 'lw_unet', 'unet'] as const) {
          const m = runChild(model, ['--file', file, ...common], threads);
          if (typeof m === 'string') console.log(`width ${width} ${model} (${threads} thread(s)): ${m}`);
          else rows.push(m);
        }
      }
      console.log(`packed file: ${readFileSync(file).byteLength} B`);
      printWidth(width, rows);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// TensorFlow's start-up lines are dropped as in the CLI (BLU_TF_LOG=1 keeps them).
const filtered = await rerunWithTensorflowLogFiltered(fileURLToPath(import.meta.url), process.argv.slice(2), process.env);
if (filtered === null) await main();
else process.exitCode = filtered;
