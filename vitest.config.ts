import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// The ML tests run once per tensor backend this machine has: always wasm, and native TensorFlow
// when npm ci built and verified tfjs-node (it then writes this file). A verified backend that
// breaks later fails its tests instead of being skipped.
const nativeVerified = existsSync('node_modules/@tensorflow/tfjs-node/blu-native.json') && process.env.BLU_NATIVE !== '0';
const ML = 'test/ml/**/*.test.ts';
// Tests of our own wasm/cpu kernels: the native project has nothing to add to them.
const WASM_KERNEL_TESTS = ['test/ml/backend/kernels.test.ts', 'test/ml/backend/cpu-kernels.test.ts', 'test/ml/backend/init.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: end-to-end tests spawn real subprocesses and tfjs work; keep the pool small.
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'core', include: ['test/**/*.test.ts'], exclude: [ML] } },
      { extends: true, test: { name: 'ml-wasm', include: [ML], env: { BLU_TEST_BACKEND: 'wasm' } } },
      ...(nativeVerified
        ? [
            {
              extends: true,
              test: { name: 'ml-native', include: [ML], exclude: WASM_KERNEL_TESTS, env: { BLU_TEST_BACKEND: 'tensorflow' } },
            },
          ]
        : []),
    ],
  },
});
