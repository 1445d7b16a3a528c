/**
 * Training/forward throughput of the three thesis models.
 * Without --backend: every available backend side by side, interleaved (see train-compare.ts).
 * With --backend: one backend in this process.
 * Usage: node dist/bench/train.js [--size 128] [--models unet,lw_unet,blu_net] [--width 16]
 *        [--levels 5] [--batch 4] [--steps 3] [--warmup 1] [--backend auto|tensorflow|wasm|cpu]
 *        [--rounds 3] [--backends tensorflow,wasm] [--naive] [--naive-steps 1] [--profile]
 *        [--variants per-tap] [--kernels] [--json]
 * --kernels times the four backprop kernels alone (ours vs naive vs per-tap) instead of models.
 * Prints a table to stdout and writes nothing else.
 *
 * FLOPs are counted analytically, conv layers only, as 2·MACs. For a stride-1 'same' conv the
 * MACs per image are Ho·Wo·(product of the kernel shape); that holds for standard kernels
 * [kh,kw,ci,co], depthwise kernels [kh,kw,c,m] and pointwise kernels [1,1,c,f] alike.
 * Training FLOPs = forward + dW (= forward) + dX (= forward minus the first conv layer, whose
 * input gradient is never computed) = 3·fwd − first layer.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/ml/backend/index.js';
import { setWasmKernelVariant, type KernelVariant } from '../src/ml/kernels/index.js';
import { buildBluNet, buildLwUnet, buildUnet } from '../src/ml/models/index.js';
import { median } from '../src/base/stats.js';
import { ScheduledAdam } from '../src/ml/train/optimizer.js';
import { compareBackends } from './train-compare.js';
import { fileURLToPath } from 'node:url';
import { rerunWithTensorflowLogFiltered } from '../src/ml/backend/native/tf-log.js';

type ModelName = 'unet' | 'lw_unet' | 'blu_net';

interface Options {
  size: number;
  models: ModelName[];
  width: number;
  levels: number;
  batch: number;
  steps: number;
  warmup: number;
  backend: string;
  naive: boolean;
  naiveSteps: number;
  profile: boolean;
  kernels: boolean;
  variants: KernelVariant[];
  /** Print the rows as one JSON line (used by the side-by-side comparison). */
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const value = (flag: string, fallback: string): string => {
    const i = argv.indexOf(flag);
    return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : fallback;
  };
  const num = (flag: string, fallback: number): number => Number(value(flag, String(fallback)));
  return {
    size: num('--size', 128),
    models: value('--models', 'unet,lw_unet,blu_net').split(',') as ModelName[],
    width: num('--width', 16),
    levels: num('--levels', 5),
    batch: num('--batch', 4),
    steps: num('--steps', 3),
    warmup: num('--warmup', 1),
    backend: value('--backend', process.env.BLU_BACKEND ?? 'auto'),
    naive: argv.includes('--naive'),
    naiveSteps: num('--naive-steps', 1),
    profile: argv.includes('--profile'),
    kernels: argv.includes('--kernels'),
    variants: value('--variants', '')
      .split(',')
      .filter((v) => v !== '') as KernelVariant[],
    json: argv.includes('--json'),
  };
}

function build(name: ModelName, o: Options): tf.LayersModel {
  const opts = { baseFilters: o.width, levels: o.levels, seed: 1 };
  if (name === 'unet') return buildUnet(opts);
  if (name === 'lw_unet') return buildLwUnet(opts);
  return buildBluNet(opts);
}

/** Forward conv MACs per image, from each layer's real output shape on a batch-1 probe. */
function convMacs(model: tf.LayersModel, size: number): { total: number; first: number } {
  const probe = tf.model({ inputs: model.inputs, outputs: model.layers.slice(1).map((l) => l.output as tf.SymbolicTensor) });
  const outs = tf.tidy(() => probe.predict(tf.zeros([1, size, size, 1])) as tf.Tensor[]);
  let total = 0;
  let first = 0;
  for (const [i, layer] of model.layers.slice(1).entries()) {
    const out = outs[i] as tf.Tensor;
    const pixels = (out.shape[1] ?? 0) * (out.shape[2] ?? 0);
    const macs = layer
      .getWeights()
      .filter((w) => w.rank === 4)
      .reduce((s, w) => s + pixels * w.size, 0);
    if (first === 0) first = macs;
    total += macs;
  }
  tf.dispose(outs);
  return { total, first };
}

async function timeSteps(o: Options, step: () => Promise<void>): Promise<number> {
  for (let i = 0; i < o.warmup; i++) await step();
  const times: number[] = [];
  for (let i = 0; i < o.steps; i++) {
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
  }
  return median(times);
}

interface Batch {
  x: tf.Tensor4D;
  y: tf.Tensor4D;
}

function makeBatch(o: Options): Batch {
  const x = tf.randomUniform([o.batch, o.size, o.size, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
  const y = tf.tidy(() =>
    tf.cast(tf.greater(tf.randomUniform([o.batch, o.size, o.size, 1], 0, 1, 'float32', 8), 0.5), 'float32'),
  ) as tf.Tensor4D;
  return { x, y };
}

async function forwardMs(model: tf.LayersModel, b: Batch, o: Options): Promise<number> {
  return timeSteps(o, async () => {
    const y = model.predict(b.x) as tf.Tensor;
    await y.data();
    y.dispose();
  });
}

async function trainMs(model: tf.LayersModel, b: Batch, o: Options): Promise<number> {
  return timeSteps(o, async () => {
    await model.trainOnBatch(b.x, b.y);
  });
}

interface Row {
  model: string;
  params: number;
  fwdGflop: number;
  trainGflop: number;
  fwdMs: number;
  trainMs: number;
  variantMs: Map<string, number>;
  leak: number;
}

async function measureModel(name: ModelName, o: Options, isWasm: boolean): Promise<Row> {
  const model = build(name, o);
  model.compile({ optimizer: new ScheduledAdam(1e-3), loss: 'binaryCrossentropy' }); // the pipeline's optimizer
  const macs = convMacs(model, o.size);
  const batch = makeBatch(o);
  const fwd = await forwardMs(model, batch, o);
  const train = await trainMs(model, batch, o);
  const before = tf.backend().numDataIds();
  await model.trainOnBatch(batch.x, batch.y);
  const leak = tf.backend().numDataIds() - before;
  const variantMs = new Map<string, number>();
  const variants: KernelVariant[] = isWasm ? [...(o.naive ? (['naive'] as KernelVariant[]) : []), ...o.variants] : [];
  // The model is already warm here; naive steps can take minutes, so time fewer of them.
  const variantOptions = { ...o, warmup: 0, steps: o.naiveSteps };
  for (const v of variants) {
    setWasmKernelVariant(v);
    variantMs.set(v, await trainMs(model, batch, variantOptions));
    setWasmKernelVariant('composed');
  }
  if (o.profile) await printProfile(model, batch);
  tf.dispose([batch.x, batch.y]);
  model.dispose();
  const fwdGflop = (2 * macs.total) / 1e9;
  return {
    model: name,
    params: model.countParams(),
    fwdGflop,
    trainGflop: 3 * fwdGflop - (2 * macs.first) / 1e9,
    fwdMs: fwd,
    trainMs: train,
    variantMs,
    leak,
  };
}

/** Share of one training step per kernel (composed kernels include their sub-kernels). */
async function printProfile(model: tf.LayersModel, b: Batch): Promise<void> {
  const info = await tf.profile(async () => {
    await model.trainOnBatch(b.x, b.y);
  });
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const ms = Number(await k.kernelTimeMs);
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    byKernel.set(k.name, { ms: e.ms + (Number.isFinite(ms) ? ms : 0), calls: e.calls + 1 });
  }
  const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
  const top = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 10);
  console.log(
    `  profile (${total.toFixed(0)} ms kernel time): ` +
      top.map(([n, e]) => `${n} ${((100 * e.ms) / total).toFixed(1)}% (${e.calls})`).join(', '),
  );
}

function formatRow(r: Row, o: Options): string {
  const ips = (ms: number): number => (o.batch * 1000) / ms;
  const gfs = (gflop: number, ms: number): number => (gflop * o.batch * 1000) / ms;
  const cells = [
    r.model.padEnd(8),
    (r.params / 1e6).toFixed(3).padStart(7),
    r.fwdGflop.toFixed(2).padStart(8),
    r.trainGflop.toFixed(2).padStart(8),
    ips(r.fwdMs).toFixed(2).padStart(7),
    gfs(r.fwdGflop, r.fwdMs).toFixed(1).padStart(7),
    ips(r.trainMs).toFixed(3).padStart(7),
    gfs(r.trainGflop, r.trainMs).toFixed(1).padStart(7),
    r.trainMs.toFixed(0).padStart(7),
  ];
  for (const [v, ms] of r.variantMs) cells.push(`${v}: ${ips(ms).toFixed(3)} img/s, ours ×${(ms / r.trainMs).toFixed(2)}`);
  cells.push(`leak ${r.leak}`);
  return cells.join(' | ');
}

interface KernelCase {
  kernel: string;
  inputs: () => Record<string, tf.Tensor>;
  attrs: tf.NamedAttrMap;
  macs: number;
  variants: KernelVariant[];
  shape: number[];
}

/** Typical layers of a 256² U-Net level 1 (128², 32 ch) and level 2 (64², 64 ch), batch 2. */
function kernelCases(b: number): KernelCase[] {
  const r = (shape: number[]): tf.Tensor => tf.randomUniform(shape, -1, 1, 'float32', 3);
  const conv = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC' };
  const dw = { strides: [1, 1], pad: 'same', dilations: [1, 1] };
  const cases: KernelCase[] = [];
  for (const [h, c] of [
    [128, 32],
    [64, 64],
  ] as const) {
    const macs = b * h * h * 9 * c * c;
    cases.push(
      {
        kernel: 'Conv2DBackpropFilter',
        inputs: () => ({ x: r([b, h, h, c]), dy: r([b, h, h, c]) }),
        attrs: { ...conv, filterShape: [3, 3, c, c] },
        macs,
        variants: ['composed'],
        shape: [b, h, h, c],
      },
      {
        kernel: 'Conv2DBackpropInput',
        inputs: () => ({ dy: r([b, h, h, c]), filter: r([3, 3, c, c]) }),
        attrs: { ...conv, inputShape: [b, h, h, c] },
        macs,
        variants: ['composed', 'naive'],
        shape: [b, h, h, c],
      },
      {
        kernel: 'DepthwiseConv2dNativeBackpropFilter',
        inputs: () => ({ x: r([b, h, h, c]), dy: r([b, h, h, c]) }),
        attrs: { ...dw, filterShape: [3, 3, c, 1] },
        macs: macs / c,
        variants: ['composed', 'per-tap', 'naive'],
        shape: [b, h, h, c],
      },
      {
        kernel: 'DepthwiseConv2dNativeBackpropInput',
        inputs: () => ({ dy: r([b, h, h, c]), filter: r([3, 3, c, 1]) }),
        attrs: { ...dw, inputShape: [b, h, h, c] },
        macs: macs / c,
        variants: ['composed', 'naive'],
        shape: [b, h, h, c],
      },
    );
  }
  return cases;
}

async function timeKernel(k: KernelCase, o: Options): Promise<number> {
  const inputs = k.inputs();
  const ms = await timeSteps(o, async () => {
    const out = tf.engine().runKernel(k.kernel, inputs, k.attrs) as tf.Tensor;
    await out.data();
    out.dispose();
  });
  tf.dispose(Object.values(inputs));
  return ms;
}

async function benchKernels(o: Options): Promise<void> {
  console.log('kernel                              | input          | variant  | ms (median) | GFLOP/s');
  for (const k of kernelCases(o.batch)) {
    const shape = k.shape;
    for (const v of k.variants) {
      setWasmKernelVariant(v);
      const ms = await timeKernel(k, o);
      console.log(
        `${k.kernel.padEnd(35)} | ${shape.join('x').padEnd(14)} | ${v.padEnd(8)} | ${ms.toFixed(1).padStart(11)} | ${((2 * k.macs) / ms / 1e6).toFixed(2)}`,
      );
    }
  }
  setWasmKernelVariant('composed');
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (!argv.includes('--backend') && !argv.includes('--kernels')) return compareBackends(argv);
  const o = parseArgs(argv);
  const backend = await initBackend(o.backend as Parameters<typeof initBackend>[0]);
  if (!backend.ok) {
    console.error(backend.error.message);
    return 1;
  }
  const b = backend.value;
  if (!o.json)
    console.log(
      `backend ${b.name} (threads ${b.threads}, SIMD ${b.simd}${b.native ? `, TF ${b.native.tfVersion}, oneDNN ${b.native.onednn}` : ''}), tfjs ${tf.version_core}, ${os.cpus().length} cores, load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  if (o.kernels) {
    await benchKernels(o);
    return 0;
  }
  if (!o.json) {
    console.log(
      `size ${o.size}², width ${o.width}, levels ${o.levels}, batch ${o.batch}, median of ${o.steps} steps after ${o.warmup} warm-up`,
    );
    console.log(
      'model    | Mparams | fwd GF/img | train GF/img | fwd img/s | fwd GF/s | train img/s | train GF/s | train ms/batch | ratios',
    );
  }
  const rows: Row[] = [];
  for (const name of o.models) {
    const row = await measureModel(name, o, b.name === 'wasm');
    rows.push(row);
    if (!o.json) console.log(formatRow(row, o));
  }
  if (o.json)
    console.log(
      JSON.stringify({
        backend: b.name,
        rows: rows.map((r) => ({ model: r.model, fwdMs: r.fwdMs, trainMs: r.trainMs, trainGflop: r.trainGflop, leak: r.leak })),
        peakRssMb: process.resourceUsage().maxRSS / 1024,
      }),
    );
  else
    console.log(
      `load after ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  return 0;
}

// TensorFlow's start-up lines are dropped as in the CLI (BLU_TF_LOG=1 keeps them).
process.exitCode =
  (await rerunWithTensorflowLogFiltered(fileURLToPath(import.meta.url), process.argv.slice(2), process.env)) ?? (await main());
