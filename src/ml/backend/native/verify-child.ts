/**
 * Run as its own process by `native install` / `native status`: loads tfjs-node and checks conv2d
 * and depthwise conv (forward and both gradients) against the cpu backend. A broken library can
 * crash the process, so the parent only reads the one JSON line this prints.
 */
import { applyNativeEnvDefaults } from './env-defaults.js';

interface CheckResult {
  ok: boolean;
  tfVersion?: string;
  backend?: string;
  maxRelativeError?: number;
  loadMs?: number;
  error?: string;
}

type Tf = typeof import('@tensorflow/tfjs');

function sample(tf: Tf): { x: Float32Array; w: Float32Array; d: Float32Array } {
  const x = tf.randomNormal([2, 9, 11, 3], 0, 1, 'float32', 7);
  const w = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 8);
  const d = tf.randomNormal([3, 3, 3, 2], 0, 1, 'float32', 9);
  const out = { x: x.dataSync() as Float32Array, w: w.dataSync() as Float32Array, d: d.dataSync() as Float32Array };
  tf.dispose([x, w, d]);
  return out;
}

// Every output and gradient of a strided conv and a depthwise conv, flattened.
function compute(tf: Tf, data: ReturnType<typeof sample>): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(data.x, [2, 9, 11, 3]);
    const w = tf.tensor4d(data.w, [3, 3, 3, 4]);
    const d = tf.tensor4d(data.d, [3, 3, 3, 2]);
    type T4 = import('@tensorflow/tfjs').Tensor4D;
    const f = (...[a, b, c]: import('@tensorflow/tfjs').Tensor[]) =>
      tf
        .conv2d(a as T4, b as T4, 2, 'same')
        .square()
        .sum()
        .add(
          tf
            .depthwiseConv2d(a as T4, c as T4, 1, 'valid')
            .mul(0.5)
            .sum(),
        );
    const y = tf.conv2d(x, w, 2, 'same');
    const grads = tf.grads(f)([x, w, d]);
    return [y, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

function maxRelativeError(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((values, i) => {
    const other = b[i]!;
    const scale = Math.max(1, ...Array.from(other, Math.abs));
    values.forEach((v, j) => {
      worst = Math.max(worst, Math.abs(v - other[j]!) / scale);
    });
  });
  return worst;
}

async function check(): Promise<CheckResult> {
  applyNativeEnvDefaults(process.env);
  const started = Date.now();
  const specifier = '@tensorflow/tfjs-node'; // a variable: the package may be absent when this compiles
  const node = (await import(specifier)) as Tf;
  const loadMs = Date.now() - started;
  const backend = node.getBackend();
  if (backend !== 'tensorflow') return { ok: false, error: `tfjs-node loaded but the active backend is '${backend}'`, loadMs };
  const tfVersion = (node.backend() as unknown as { binding?: { TF_Version?: string } }).binding?.TF_Version ?? 'unknown';
  const data = sample(node);
  const native = compute(node, data);
  await node.setBackend('cpu');
  const reference = compute(node, data);
  const error = maxRelativeError(native, reference);
  return {
    ok: error < 1e-4,
    tfVersion,
    backend,
    maxRelativeError: error,
    loadMs,
    ...(error < 1e-4 ? {} : { error: `results differ from the cpu backend by ${error.toExponential(2)} (relative)` }),
  };
}

check()
  .then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (e: unknown) =>
      process.stdout.write(`${JSON.stringify({ ok: false, error: (e instanceof Error ? e.message : String(e)).split('\n')[0] })}\n`),
  )
  .finally(() => setTimeout(() => process.exit(0), 100));
