/**
 * Test backend: the backend engineer's initBackend('wasm') when src/ml/backend exists, otherwise
 * tfjs-backend-wasm directly (forward-only needs no extra kernels).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type InitBackend = (preference: string) => Promise<{ ok: boolean }>;

const backendModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/ml/backend/index.ts');

export async function useWasm(): Promise<string> {
  if (existsSync(backendModule)) {
    try {
      const mod = (await import(pathToFileURL(backendModule).href)) as { initBackend?: InitBackend };
      const result = mod.initBackend ? await mod.initBackend('wasm') : { ok: false };
      if (result.ok) return tf.getBackend();
    } catch (e) {
      // The module is being written concurrently; fall back rather than fail unrelated tests.
      console.warn(`initBackend unavailable (${String(e)}); using tfjs-backend-wasm directly`);
    }
  }
  if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
  await tf.ready();
  return tf.getBackend();
}
