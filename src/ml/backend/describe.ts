import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendInfo } from './index.js';

function triedLines(info: BackendInfo): string[] {
  return info.tried.map((t) => `  ${t.ok ? 'ok  ' : 'skip'} ${t.name.padEnd(15)} ${t.detail}`);
}

const HOW_TO_ADD = [
  'Faster backends (optional, need internet at install time):',
  `  CPU, native TensorFlow:   npm install @tensorflow/tfjs-node@${tf.version_core}`,
  `  NVIDIA GPU (CUDA+cuDNN):  npm install @tensorflow/tfjs-node-gpu@${tf.version_core}`,
  '  Both download libtensorflow from storage.googleapis.com during install; offline the',
  '  install script fails and npm drops the optional package, so wasm stays in use.',
  '  Force a backend with --backend <name> or BLU_BACKEND=tensorflow-gpu|tensorflow|wasm|cpu.',
];

/** The text `blu-pipe doctor` prints about tensor backends. */
export async function describeBackends(): Promise<string> {
  const result = await initBackend('auto');
  const lines = [`TensorFlow.js ${tf.version_core} (tfjs-core), Node ${process.version}`];
  if (!result.ok) {
    lines.push(`No usable tensor backend: ${result.error.message}`);
  } else {
    const info = result.value;
    lines.push(`Active backend: ${info.name} (${info.reason})`);
    lines.push(`  threads: ${info.threads === 0 ? 'native thread pool' : info.threads}, SIMD: ${info.simd ? 'yes' : 'no'}`);
    lines.push('Candidates tried:', ...triedLines(info));
    if (info.name === 'wasm' && info.threads === 1) {
      lines.push('  wasm runs single-threaded in Node (tfjs disables wasm threads under Node).');
    }
  }
  lines.push(...HOW_TO_ADD);
  return lines.join('\n');
}
