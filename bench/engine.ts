/**
 * Engine benchmark (`npm run bench:engine`): batch-1 latency of the packed BLU-Net on the binary
 * engine (native C++ kernels, wasm SIMD kernels, wasm relaxed-SIMD FMA) beside the fp32 U-Net and lw_unet on the best available tfjs
 * backend, at 512² (untrained weights, perturbed off their initial values) and several widths,
 * at each thread count of --threads: the engine with that many threads, native TensorFlow with
 * TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS / OMP_NUM_THREADS set to it (read when the
 * library loads, hence one child process per configuration). The process CPU time per run over
 * the wall time shows how many cores a configuration really kept busy. Every configuration runs
 * in its own child process so its peak RSS is its own. Prints figures; asserts nothing.
 *
 * Per layer type, one extra pass per engine is timed block by block (wall) and, on the native
 * engine, stage by stage inside the kernels (thread time, the least of --runs profiled passes per
 * stage): operations per second against the
 * machine's arithmetic limit, measured by the addon as register-only loops of the same
 * instruction mix (FMA for the fp32 stages; for XNOR, XOR-VPOPCNTD-add on AVX-512, XOR, nibble-table
 * popcount (VPSHUFB) and byte add on AVX2, XOR-POPCNT-add portable) on as
 * many threads as the engine uses, at the same time (see bench/engine-peak note in the output).
 * Model variants (issue 24) beside the thesis BLU-Net: `_sb` is separable_binarise (an activation
 * binariser between depthwise and pointwise, so the pointwise runs as a 1×1 XNOR conv), thesis
 * levels; `_sb_a1w1` is that with 1 level for activations and every weight type; `_sb_a2w2` with 2
 * levels for activations and the XNOR weights (3 for the depthwise, decoded to fp32); `_sb_a3w2`
 * the same with 3 activation levels.
 * Options: --widths 64,16 --size 512 --runs 5 --warmup 1 --threads 1,2
 * --models blu_native,blu_native_sb,blu_native_sb_a1w1,blu_native_sb_a2w2,blu_native_sb_a3w2,blu_native_avx2,blu_native_avx2_sb_a2w2,blu_packed,blu_packed_sb,blu_packed_fma,lw_unet,unet.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile } from '../src/base/stats.js';
import { parseArgs } from 'node:util';
import { rerunWithTensorflowLogFiltered } from '../src/ml/backend/native/tf-log.js';

type ModelKind =
  | 'blu_native'
  | 'blu_native_sb'
  | 'blu_native_sb_a1w1'
  | 'blu_native_sb_a2w2'
  | 'blu_native_sb_a3w2'
  | 'blu_native_avx2'
  | 'blu_native_avx2_sb_a2w2'
  | 'blu_packed'
  | 'blu_packed_sb'
  | 'blu_packed_fma'
  | 'unet'
  | 'lw_unet';
/** blu_native: the best instruction set of this CPU; blu_native_avx2(_variant): the AVX2+FMA path forced (where the CPU has it). */
const PACKED: readonly ModelKind[] = [
  'blu_native',
  'blu_native_sb',
  'blu_native_sb_a1w1',
  'blu_native_sb_a2w2',
  'blu_native_sb_a3w2',
  'blu_native_avx2',
  'blu_native_avx2_sb_a2w2',
  'blu_packed',
  'blu_packed_sb',
  'blu_packed_fma',
];

/** The BLU-Net variant each packed configuration runs (buildBluNet options beside the width). */
type Variant = 'thesis' | 'sb' | 'sb_a1w1' | 'sb_a2w2' | 'sb_a3w2';
const VARIANT_OPTIONS: Record<Variant, Record<string, number | boolean>> = {
  thesis: {},
  sb: { separableBinarise: true },
  sb_a1w1: { separableBinarise: true, activationLevels: 1, convLevels: 1, depthwiseLevels: 1, pointwiseLevels: 1 },
  sb_a2w2: { separableBinarise: true, activationLevels: 2, convLevels: 2, depthwiseLevels: 3, pointwiseLevels: 2 },
  sb_a3w2: { separableBinarise: true, activationLevels: 3, convLevels: 2, depthwiseLevels: 3, pointwiseLevels: 2 },
};
/** A packed kind's variant is its name's suffix (`blu_native_sb_a2w2` → `sb_a2w2`); no suffix is the thesis variant. */
const variantOf = (kind: ModelKind): Variant =>
  (Object.keys(VARIANT_OPTIONS) as Variant[]).find((v) => v !== 'thesis' && kind.endsWith(`_${v}`)) ?? 'thesis';

/** Operations (multiply-adds; binary multiply-adds for XNOR), wall and process CPU time of one pass, per layer type. */
interface LayerRow {
  type: string;
  ops: number;
  ms: number;
  cpuMs: number;
}

interface NativeDetail {
  /** Arithmetic limits per core (ops per thread-CPU second, all threads running at once): fp32 FMA and XNOR-popcount. */
  peakFma: number;
  peakXnor: number;
  /** Thread-milliseconds per kernel stage in one pass (summed over threads). */
  stages: Record<string, number>;
  dwOps: number;
  pwOps: number;
  firstOps: number;
  xnorOps: number;
}

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
  /** Process CPU time per run, ms (all threads): with 1 thread, the load-independent cost. */
  cpuMs: number;
  weightBytes: number;
  peakRssBytes: number;
  note: string;
  /** Multiply-adds per pass (fp32 models). */
  macs?: number;
  layers?: LayerRow[];
  native?: NativeDetail;
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
  return {
    runs,
    medianMs,
    p95Ms: percentile(times, 95),
    minMs: times[0] as number,
    load: os.loadavg()[0] as number,
    cpuPerWall: cpuMs / medianMs,
    cpuMs,
  };
}

/** Child: the packed file on the engine; no tfjs is loaded in this process. */
async function measurePacked(
  kind: ModelKind,
  file: string,
  size: number,
  runs: number,
  warmup: number,
  threads: number,
): Promise<Omit<Measurement, 'width'>> {
  const { loadEngineModel, loadWasmKernels, runEngine } = await import('../src/ml/engine/index.js');
  const { loadNativeKernels } = await import('../src/ml/engine/native.js');
  const model = await loadEngineModel(file);
  const nativeKernels = kind.startsWith('blu_native')
    ? await loadNativeKernels({ threads, isa: kind.startsWith('blu_native_avx2') ? 'avx2' : 'auto' })
    : null;
  const kernels = nativeKernels ?? (await loadWasmKernels({ threads, fma: kind === 'blu_packed_fma' }));
  if (!model.ok || !kernels.ok) throw new Error(!model.ok ? model.error.message : !kernels.ok ? kernels.error.message : '');
  let seed = 1;
  const pixels = Float32Array.from({ length: size * size }, () => (seed = (seed * 16807) % 2147483647) / 2147483647);
  const image = { height: size, width: size, pixels };
  const timing = await timeRuns(runs, warmup, async () => {
    runEngine(model.value, kernels.value, image);
  });
  const decoded = kernels.value.decodedWeightBytes();
  const native = nativeKernels?.ok ? nativeKernels.value : null;
  const counted = countingKernels(kernels.value);
  runEngine(model.value, counted.kernels, image);
  const stages = native ? fastestStages(runs, () => runEngine(model.value, native, image), native) : undefined;
  const detail =
    native && stages
      ? {
          peakFma: native.peak('fma', 5e7),
          peakXnor: native.peak('xnor', 5e7),
          stages: Object.fromEntries(Object.entries(stages).map(([k, ns]) => [k, ns / 1e6])),
          ...counted.split,
        }
      : undefined;
  return {
    model: kind,
    backend: kernels.value.name.replace(' (AssemblyScript)', '').replace('relaxed-SIMD ', ''),
    threads: kernels.value.threads,
    ...summary(timing, runs),
    weightBytes: model.value.weightBytes + decoded,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    note: `packed ${model.value.weightBytes} B + decoded fp32 kernels ${decoded} B; engine memory ${kernels.value.memoryBytes()} B; XNOR convs with exact-zero signs (masked kernel) ${kernels.value.maskedConvs()}`,
    layers: counted.layers,
    ...(detail ? { native: detail } : {}),
  };
}

type Kernels = import('../src/ml/engine/kernels.js').EngineKernels;

/**
 * Per stage, the least thread time over `runs` profiled passes: on a shared machine other jobs'
 * preemption and cache traffic only ever add to a stage, so the fastest pass is the closest to
 * what the kernel itself costs.
 */
function fastestStages(runs: number, pass: () => void, native: { profile(on: boolean): Record<string, number> }): Record<string, number> {
  let fastest: Record<string, number> | undefined;
  for (let i = 0; i < Math.max(1, runs); i++) {
    native.profile(true);
    pass();
    const stages = native.profile(false);
    fastest = Object.fromEntries(Object.entries(stages).map(([k, ns]) => [k, Math.min(ns, fastest?.[k] ?? ns)]));
  }
  return fastest ?? {};
}

/** Wraps kernels to time each block (wall) and count its operations by layer type. */
function countingKernels(inner: Kernels) {
  const rows = new Map<string, LayerRow>();
  const split = { dwOps: 0, pwOps: 0, firstOps: 0, xnorOps: 0 };
  const timed = <T>(type: string, ops: number, run: () => T): T => {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const out = run();
    const used = process.cpuUsage(cpu);
    const row = rows.get(type) ?? { type, ops: 0, ms: 0, cpuMs: 0 };
    row.ops += ops;
    row.ms += performance.now() - started;
    row.cpuMs += (used.user + used.system) / 1000;
    rows.set(type, row);
    return out;
  };
  type X = Parameters<Kernels['binaryConvBlock']>[0];
  type Conv = Parameters<Kernels['logits']>[1];
  const xnorOps = (x: X, conv: Conv) => {
    const { k, cin, filters, gammas } = conv.kernel;
    const ops = x.height * x.width * k * k * cin * filters * gammas.length * (x.groups[0]?.levels ?? 1);
    split.xnorOps += ops;
    return ops;
  };
  const kernels: Kernels = {
    name: inner.name,
    firstBlock: (image, block) => {
      const { k, filters } = block.conv.kernel;
      const ops = image.height * image.width * k * k * filters;
      split.firstOps += ops;
      return timed('first conv (fp32 MAC)', ops, () => inner.firstBlock(image, block));
    },
    binaryConvBlock: (x, block) => timed('XNOR 3×3 conv (binary MAC)', xnorOps(x, block.conv), () => inner.binaryConvBlock(x, block)),
    logits: (x, head) => timed('XNOR 1×1 head (binary MAC)', xnorOps(x, head), () => inner.logits(x, head)),
    separableBlock: (x, block) => {
      const { k, cin } = block.conv.depthwise;
      const pixels = x.height * x.width;
      const dw = pixels * k * k * cin;
      split.dwOps += dw;
      const inner2 = block.conv.binarised;
      if (inner2) {
        // separable_binarise: the pointwise is a 1×1 XNOR conv (binary MAC per weight level × activation level).
        const pw = pixels * cin * block.conv.pointwise.filters * block.conv.pointwise.gammas.length * inner2.act.gammas.length;
        split.xnorOps += pw;
        return timed('separable (fp32 dw + XNOR pw)', dw + pw, () => inner.separableBlock(x, block));
      }
      const pw = pixels * cin * block.conv.pointwise.filters;
      split.pwOps += pw;
      return timed('separable (fp32 MAC: dw + pw)', dw + pw, () => inner.separableBlock(x, block));
    },
    ...(inner.maxPool ? { maxPool: (x: X) => timed('max-pool', 0, () => (inner.maxPool as NonNullable<Kernels['maxPool']>)(x)) } : {}),
  };
  return {
    kernels,
    get layers() {
      return [...rows.values()];
    },
    split,
  };
}

/** Multiply-adds of one batch-1 pass of a tfjs model, counted from its conv layers' kernels and output shapes. */
function countMacs(model: import('@tensorflow/tfjs').LayersModel): number {
  let macs = 0;
  for (const layer of model.layers) {
    const name = layer.getClassName();
    const weights = layer.getWeights().map((w) => w.shape);
    const out = layer.outputShape as number[];
    const outPixels = (out[1] ?? 0) * (out[2] ?? 0);
    const [kernel, second] = weights;
    if (kernel?.length !== 4) continue;
    const [kh, kw, a, b] = kernel as [number, number, number, number];
    if (name === 'Conv2D') macs += outPixels * kh * kw * a * b;
    else if (name === 'Conv2DTranspose') {
      const input = (layer as unknown as { inputShape: number[] }).inputShape;
      macs += (input[1] ?? 0) * (input[2] ?? 0) * kh * kw * a * b;
    } else if (name === 'DepthwiseConv2D') macs += outPixels * kh * kw * a * b;
    else if (name === 'SeparableConv2D' && second) macs += outPixels * (kh * kw * a * b + (second[2] as number) * (second[3] as number));
  }
  return macs;
}

/** Child: an fp32 model on the best available tfjs backend. */
async function measureFp32(
  kind: 'unet' | 'lw_unet',
  width: number,
  size: number,
  runs: number,
  warmup: number,
): Promise<Omit<Measurement, 'width'>> {
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
    model: kind,
    backend: backend.value.name,
    threads,
    ...summary(timing, runs),
    weightBytes: built.value.countParams() * 4,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    macs: countMacs(built.value),
    note: backend.value.native
      ? `TensorFlow ${backend.value.native.tfVersion}; ${backend.value.native.threads}; oneDNN ${backend.value.native.onednn}`
      : `simd ${backend.value.simd}`,
  };
}

/** Parent: writes a perturbed untrained BLU-Net of this width and variant as a packed file. */
async function writePacked(width: number, dir: string, variant: Variant): Promise<string> {
  const { initBackend } = await import('../src/ml/backend/index.js');
  const { buildBluNet, exportPackedBluNet } = await import('../src/ml/models/index.js');
  const { withGenericWeights } = await import('../src/ml/models/generic-weights.js');
  await initBackend('auto');
  const model = withGenericWeights(buildBluNet({ baseFilters: width, ...VARIANT_OPTIONS[variant] }));
  const file = path.join(dir, `blu-w${width}-${variant}.blupack`);
  const info = await exportPackedBluNet(model, file);
  if (!info.ok) throw new Error(info.error.message);
  model.dispose();
  return file;
}

/** Thread settings native TensorFlow (and oneDNN, should it use OpenMP) reads when it loads. */
const nativeThreadEnv = (threads: number) => ({
  TF_NUM_INTRAOP_THREADS: String(threads),
  TF_NUM_INTEROP_THREADS: String(threads),
  OMP_NUM_THREADS: String(threads),
});

/** The FMA build needs relaxed SIMD, behind this flag in Node 20 (shipped in Node 22). */
const RELAXED_SIMD = '--experimental-wasm-relaxed-simd';

function runChild(model: ModelKind, args: string[], threads: number): Measurement | string {
  const env = { ...USER_ENV, ...nativeThreadEnv(threads) };
  const flags = model === 'blu_packed_fma' ? [RELAXED_SIMD] : [];
  const r = spawnSync(process.execPath, [...flags, SELF, '--one', model, ...args, '--threads', String(threads)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    env,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) {
    // The thrown message (e.g. the native engine not built for these sources), not the stack's tail.
    const stderr = r.stderr.trim().split('\n');
    const thrown = stderr.find((l) => /^\w*Error: /.test(l));
    return `failed (exit ${r.status}): ${thrown ?? stderr.slice(-3).join(' | ')}`;
  }
  return JSON.parse(line) as Measurement;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

function printWidth(width: number, rows: Measurement[]): void {
  console.log(`\nwidth ${width}:`);
  console.log(
    'model                backend                               threads  median ms    p95 ms    min ms    cpu ms  cpu/wall  load   weights      peak RSS',
  );
  for (const m of rows) {
    console.log(
      `${m.model.padEnd(20)} ${m.backend.padEnd(37)} ${String(m.threads).padStart(7)} ${m.medianMs.toFixed(1).padStart(10)} ${m.p95Ms.toFixed(1).padStart(9)} ${m.minMs.toFixed(1).padStart(9)} ${m.cpuMs.toFixed(0).padStart(9)} ${m.cpuPerWall.toFixed(2).padStart(9)} ${m.load.toFixed(1).padStart(5)}   ${mib(m.weightBytes).padEnd(12)} ${mib(m.peakRssBytes)}`,
    );
  }
  // Speed-ups only between rows with the same thread count.
  for (const threads of [...new Set(rows.map((r) => r.threads))]) {
    const by = (k: ModelKind) => rows.find((r) => r.model === k && r.threads === threads);
    const ratio = (a: ModelKind, b: ModelKind) => {
      const [x, y] = [by(a), by(b)];
      if (x && y)
        console.log(
          `  ${threads} thread(s): ${a} speed-up vs ${b}: ${(y.medianMs / x.medianMs).toFixed(2)}× (median ratio), ${(y.minMs / x.minMs).toFixed(2)}× (min ratio), ${(y.cpuMs / x.cpuMs).toFixed(2)}× (CPU time ratio)`,
        );
    };
    ratio('blu_native', 'blu_packed');
    ratio('blu_native', 'blu_packed_fma');
    ratio('blu_native_avx2', 'blu_packed');
    ratio('blu_native_sb', 'blu_native');
    ratio('blu_native_sb_a1w1', 'blu_native');
    ratio('blu_native_sb_a2w2', 'blu_native');
    ratio('blu_packed_sb', 'blu_packed');
    for (const packed of PACKED) for (const k of ['unet', 'lw_unet'] as const) ratio(packed, k);
    for (const k of ['unet', 'lw_unet'] as const) {
      const m = by(k);
      if (m?.macs)
        console.log(
          `  ${threads} thread(s): ${k} ${(m.macs / 1e9).toFixed(1)} G multiply-adds per pass: ${(m.macs / m.medianMs / 1e6).toFixed(1)} G/s`,
        );
    }
    printLayers(
      threads,
      rows.filter((r) => r.threads === threads && r.layers),
    );
  }
  for (const m of rows) console.log(`  ${m.model} (${m.threads} thread(s)): ${m.note}`);
}

/** Per layer type, each engine's block wall time and G ops/s; then the native kernels' stages against the measured limits. */
function printLayers(threads: number, engines: Measurement[]): void {
  if (engines.length === 0) return;
  console.log(
    `  per layer type, ${threads} thread(s), one pass: block wall ms, block CPU ms (all threads), G ops per CPU-second (= per core)`,
  );
  console.log(
    `    ${'layer type'.padEnd(32)} ${'G ops'.padStart(8)} ${engines.map((e) => `${e.model.padStart(16)} wall    cpu   G/s`).join(' ')}`,
  );
  const types = [...new Set(engines.flatMap((e) => (e.layers ?? []).map((l) => l.type)))];
  for (const type of types) {
    const ops = engines.map((e) => e.layers?.find((l) => l.type === type)?.ops).find((o) => o !== undefined) ?? 0;
    const cells = engines.map((e) => {
      const l = e.layers?.find((x) => x.type === type);
      return l
        ? `${l.ms.toFixed(0).padStart(21)} ${l.cpuMs.toFixed(0).padStart(6)} ${ops > 0 && l.cpuMs > 0 ? (l.ops / l.cpuMs / 1e6).toFixed(1).padStart(5) : '    -'}`
        : ' '.repeat(34);
    });
    console.log(`    ${type.padEnd(32)} ${(ops / 1e9).toFixed(2).padStart(8)} ${cells.join(' ')}`);
  }
  for (const e of engines.filter((x) => x.native)) printStages(threads, e);
}

function printStages(threads: number, engine: Measurement): void {
  const native = engine.native;
  if (!native) return;
  const perCore = (v: number) => v;
  console.log(
    `  ${engine.model} (${engine.backend}) kernels by stage, ${threads} thread(s) (thread CPU time inside the kernel; limit = register-only loop of the same instructions, per core (thread CPU time), all ${threads} thread(s) running):`,
  );
  console.log(
    `    limits: fp32 FMA ${(perCore(native.peakFma) / 1e9).toFixed(1)} G multiply-adds/s per core; XNOR-popcount ${(perCore(native.peakXnor) / 1e9).toFixed(1)} G binary multiply-adds/s per core (${(native.peakXnor / native.peakFma).toFixed(1)}× the FMA limit)`,
  );
  const row = (stage: string, ops: number, limit: number | null) => {
    const ms = native.stages[stage] ?? 0;
    const rate = ops > 0 && ms > 0 ? ops / ms / 1e6 : 0;
    const share = limit ? `${(((rate * 1e9) / limit) * 100).toFixed(0)} % of limit` : '';
    console.log(
      `    ${stage.padEnd(10)} ${ms.toFixed(0).padStart(7)} thread-ms ${ops > 0 ? `${(ops / 1e9).toFixed(2).padStart(7)} G ops ${rate.toFixed(1).padStart(7)} G/s per thread  ${share}` : ''}`,
    );
  };
  row('gemm', native.pwOps, perCore(native.peakFma));
  row('depthwise', native.dwOps, perCore(native.peakFma));
  row('first', native.firstOps, perCore(native.peakFma));
  row('xnor', native.xnorOps, perCore(native.peakXnor));
  for (const stage of ['decode', 'binarise', 'pool']) row(stage, 0, null);
}

const ALL_MODELS: readonly string[] = [...PACKED, 'lw_unet', 'unet'];
const USAGE = `options: --widths 64,16 --size 512 --runs 5 --warmup 1 --threads 1,2 --models ${ALL_MODELS.join(',')}`;

/** The options, or what is wrong with them (a usage line instead of parseArgs' stack trace). */
function options() {
  try {
    const { values } = parseArgs({
      options: {
        one: { type: 'string' },
        file: { type: 'string' },
        width: { type: 'string', default: '64' },
        widths: { type: 'string', default: '64,16' },
        size: { type: 'string', default: '512' },
        runs: { type: 'string', default: '5' },
        warmup: { type: 'string', default: '1' },
        threads: { type: 'string', default: `1,${os.availableParallelism()}` },
        models: { type: 'string', default: ALL_MODELS.join(',') },
      },
    });
    const unknown = values.models.split(',').filter((m) => !ALL_MODELS.includes(m));
    return unknown.length === 0 ? values : `unknown model ${unknown.join(', ')}`;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

async function main(): Promise<void> {
  const values = options();
  if (typeof values === 'string') {
    console.error(`bench:engine: ${values}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const size = Number(values.size);
  const runs = Number(values.runs);
  const warmup = Number(values.warmup);
  if (values.one) {
    const width = Number(values.width);
    const one = values.one as ModelKind;
    const m = PACKED.includes(one)
      ? await measurePacked(one, values.file ?? '', size, runs, warmup, Number(values.threads))
      : await measureFp32(one as 'unet' | 'lw_unet', width, size, runs, warmup);
    console.log(JSON.stringify({ ...m, width }));
    return;
  }
  console.log(
    `engine bench: ${size}², batch 1, ${runs} runs after ${warmup} warm-up; ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), shared machine: compare ratios`,
  );
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blu-bench-engine-'));
  try {
    for (const width of values.widths.split(',').map(Number)) {
      const models = ALL_MODELS.filter((m) => values.models.split(',').includes(m)) as ModelKind[];
      const files = new Map<Variant, string>();
      for (const variant of new Set(models.filter((m) => PACKED.includes(m)).map(variantOf)))
        files.set(variant, await writePacked(width, dir, variant));
      const common = ['--width', String(width), '--size', String(size), '--runs', String(runs), '--warmup', String(warmup)];
      const rows: Measurement[] = [];
      for (const threads of [...new Set(values.threads.split(',').map(Number))]) {
        for (const model of models) {
          const m = runChild(model, ['--file', files.get(variantOf(model)) ?? '', ...common], threads);
          if (typeof m === 'string') console.log(`width ${width} ${model} (${threads} thread(s)): ${m}`);
          else rows.push(m);
        }
      }
      for (const [variant, file] of files) console.log(`packed file (${variant}): ${readFileSync(file).byteLength} B`);
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
