import { existsSync, readdirSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { execa } from 'execa';
import { initBackend, type BackendInfo } from './index.js';
import { findOnPath } from './native/toolchain.js';

function triedLines(info: BackendInfo): string[] {
  return info.tried.map((t) => `  ${t.ok ? 'ok  ' : 'skip'} ${t.name.padEnd(15)} ${t.detail}`);
}

const HOW_TO_ADD = [
  'Native backends:',
  '  CPU: npm ci builds tfjs-node against a local TensorFlow C library when it can (see',
  '       `npx blu-pipe native status`); by hand: npx blu-pipe native install [--from <wheel|tar.gz|dir>]',
  '  GPU: the same build against a CUDA TensorFlow wheel or libtensorflow-gpu archive gives what',
  '       tfjs-node-gpu gives (README, "Tensor backends"); with internet,',
  `       npm install @tensorflow/tfjs-node-gpu@${tf.version_core} also works.`,
  '  Force a backend with --backend <name> or BLU_BACKEND=tensorflow-gpu|tensorflow|wasm|cpu.',
];

/** NVIDIA GPUs as the driver lists them (nvidia-smi -L), else the device nodes; [] when there are none. */
export async function listGpus(env: Readonly<Record<string, string | undefined>>): Promise<string[]> {
  const smi = findOnPath(['nvidia-smi'], env);
  if (smi !== null) {
    const listed = await execa(smi, ['-L'], { reject: false, timeout: 10_000 });
    if (listed.exitCode === 0) return listed.stdout.split('\n').filter((l) => l.trim() !== '');
  }
  if (!existsSync('/dev')) return [];
  return readdirSync('/dev')
    .filter((d) => /^nvidia\d+$/.test(d))
    .map((d) => `/dev/${d} (nvidia-smi not found)`);
}

function nativeLines(info: BackendInfo): string[] {
  if (info.native === undefined) return [];
  return [
    `  TensorFlow ${info.native.tfVersion} (C library behind tfjs-node)`,
    `  oneDNN: ${info.native.onednn}`,
    `  threads: ${info.native.threads}`,
  ];
}

/** The text `blu-pipe doctor` prints about tensor backends. */
export async function describeBackends(env: Readonly<Record<string, string | undefined>> = process.env): Promise<string> {
  const result = await initBackend('auto');
  const lines = [`TensorFlow.js ${tf.version_core} (tfjs-core), Node ${process.version}`];
  if (!result.ok) {
    lines.push(`No usable tensor backend: ${result.error.message}`);
  } else {
    const info = result.value;
    lines.push(`Active backend: ${info.name} (${info.reason})`);
    if (info.native === undefined) lines.push(`  threads: ${info.threads}, SIMD: ${info.simd ? 'yes' : 'no'}`);
    lines.push(...nativeLines(info));
    lines.push('Candidates tried:', ...triedLines(info));
    if (info.name === 'wasm' && info.threads === 1) {
      lines.push('  wasm runs single-threaded in Node (tfjs disables wasm threads under Node).');
    }
  }
  const gpus = await listGpus(env);
  lines.push(gpus.length === 0 ? 'GPUs: none found' : `GPUs: ${gpus.length}`, ...gpus.map((g) => `  ${g}`));
  lines.push(...HOW_TO_ADD);
  return lines.join('\n');
}
