/**
 * Engine exactness on real images (`npm run bench:exactness -- <saved BLU-Net dir> <images dir>`):
 * the packed engine (wasm kernels, 1 thread) against the fp32 simulation on each tfjs backend that
 * loads here, every image cropped to a multiple of 16 from its top-left corner, and each
 * simulation against the others. Prints how many mask pixels differ and the largest |Δp|; asserts
 * nothing. Each backend runs in its own child process (native TensorFlow and wasm cannot both be
 * the active backend of one process), which writes its probabilities to a temporary folder.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rerunWithTensorflowLogFiltered } from '../src/ml/backend/native/tf-log.js';

const SELF = fileURLToPath(import.meta.url);
const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;

/** Child: the simulation on `backend` (and, for the first backend, the engine) over every image. */
async function child(backend: string, modelDir: string, imagesDir: string, out: string): Promise<void> {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend, parseBackendName } = await import('../src/ml/backend/index.js');
  const { loadModel } = await import('../src/ml/models/serialize.js');
  const { exportPackedBluNet } = await import('../src/ml/models/index.js');
  const { loadEngineModel, loadWasmKernels, runEngine } = await import('../src/ml/engine/index.js');
  const { readGreyImage } = await import('../src/ml/predict/image.js');
  const name = parseBackendName(backend);
  const started = await initBackend(name === undefined || name === 'auto' ? 'cpu' : name);
  if (!started.ok || started.value.name !== backend)
    return void writeFileSync(path.join(out, `${backend}.skipped`), started.ok ? started.value.reason : started.error.message);
  const model = await loadModel(modelDir);
  if (!model.ok) throw new Error(model.error.message);
  const packedFile = path.join(out, 'model.blupack');
  const withEngine = backend === BACKENDS[0] || !existsSync(packedFile);
  if (withEngine && !(await exportPackedBluNet(model.value, packedFile)).ok) throw new Error('cannot pack the model');
  const engine = withEngine ? await loadEngineModel(packedFile) : undefined;
  const kernels = withEngine ? await loadWasmKernels({ threads: 1 }) : undefined;
  for (const file of readdirSync(imagesDir).sort()) {
    const image = await readGreyImage(path.join(imagesDir, file));
    if (!image.ok) throw new Error(image.error.message);
    const { width: w0, pixels } = image.value;
    const h = image.value.height - (image.value.height % 16);
    const w = w0 - (w0 % 16);
    const crop = new Float32Array(h * w);
    for (let y = 0; y < h; y++) crop.set(pixels.subarray(y * w0, y * w0 + w), y * w);
    const sim = tf.tidy(
      () => (model.value.predict(tf.tensor4d(crop, [1, h, w, 1])) as InstanceType<typeof tf.Tensor>).dataSync() as Float32Array,
    );
    writeFileSync(path.join(out, `${backend}-${file}.f32`), sim);
    if (engine?.ok && kernels?.ok)
      writeFileSync(path.join(out, `engine-${file}.f32`), runEngine(engine.value, kernels.value, { height: h, width: w, pixels: crop }));
  }
  if (kernels?.ok) await kernels.value.close();
}

function compare(out: string, a: string, b: string): string {
  const files = readdirSync(out)
    .filter((f) => f.startsWith(`${a}-`))
    .map((f) => f.slice(a.length + 1));
  let differ = 0;
  let pixels = 0;
  let worst = 0;
  for (const file of files) {
    const read = (who: string) => new Float32Array(readFileSync(path.join(out, `${who}-${file}`)).buffer.slice(0));
    const [p, q] = [read(a), read(b)];
    pixels += p.length;
    p.forEach((value, i) => {
      if (value > 0.5 !== (q[i] as number) > 0.5) differ++;
      worst = Math.max(worst, Math.abs(value - (q[i] as number)));
    });
  }
  return `${a} vs ${b}: ${differ} of ${pixels} mask pixels differ (${((differ / pixels) * 1e6).toFixed(1)} per million), max |Δp| ${worst.toExponential(2)}`;
}

async function main(): Promise<void> {
  const [first, ...rest] = process.argv.slice(2);
  if (first === '--child') return child(rest[0]!, rest[1]!, rest[2]!, rest[3]!);
  const [modelDir, imagesDir] = [first, rest[0]];
  if (modelDir === undefined || imagesDir === undefined) {
    console.error('usage: npm run bench:exactness -- <saved BLU-Net folder> <images folder>');
    process.exit(2);
  }
  const out = mkdtempSync(path.join(os.tmpdir(), 'blu-exactness-'));
  try {
    for (const backend of BACKENDS) {
      const r = spawnSync(process.execPath, [SELF, '--child', backend, path.resolve(modelDir), path.resolve(imagesDir), out], {
        encoding: 'utf8',
        env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
      });
      if (r.status !== 0) console.error(`${backend}: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
    }
    const ran = BACKENDS.filter((b) => existsSync(path.join(out, `${b}-${readdirSync(imagesDir).sort()[0]}.f32`)));
    for (const b of BACKENDS.filter((x) => !ran.includes(x))) console.log(`${b}: not available here`);
    for (const b of ran) console.log(compare(out, 'engine', b));
    for (let i = 0; i < ran.length; i++) for (let j = i + 1; j < ran.length; j++) console.log(compare(out, ran[i]!, ran[j]!));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

// TensorFlow's start-up lines are dropped as in the CLI (BLU_TF_LOG=1 keeps them).
const filtered = await rerunWithTensorflowLogFiltered(fileURLToPath(import.meta.url), process.argv.slice(2), process.env);
if (filtered === null) await main();
else process.exitCode = filtered;
