import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNativeEngine, nativeEngineCacheFile } from '../../../src/ml/engine/native-build.js';
import { describeEngine, loadEngineKernels } from '../../../src/ml/engine/native.js';

// The native engine is optional: without a compiler the build says why in one line, and every
// engine choice except an explicit `native` falls back to wasm.
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'blu-engine-fallback-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('native engine fallback', () => {
  it('does not build without a compiler, and says what is missing', async () => {
    const env = { PATH: path.join(dir, 'empty-bin'), HOME: dir, BLU_NATIVE_CACHE: path.join(dir, 'cache') };
    const built = await buildNativeEngine(env);
    expect(built.ok).toBe(false);
    if (!built.ok) expect(built.error).toMatch(/^compiling the native engine needs a C\+\+ compiler/);
    expect(nativeEngineCacheFile(env)).toContain(path.join(dir, 'cache'));
  });

  it('auto falls back to wasm and says why; native fails; wasm never asks for the addon', async () => {
    const env = { ...process.env, BLU_ENGINE_ADDON: path.join(dir, 'missing.node') };
    const auto = await loadEngineKernels('auto', { threads: 1, env });
    expect(auto.ok).toBe(true);
    if (auto.ok) {
      expect(auto.value.kernels.name).toMatch(/^wasm/);
      expect(auto.value.why).toMatch(/native unavailable \(BLU_ENGINE_ADDON=.*missing\.node does not exist\)/);
      await auto.value.kernels.close();
    }
    const native = await loadEngineKernels('native', { threads: 1, env });
    expect(native.ok).toBe(false);
    const wasm = await loadEngineKernels('wasm', { threads: 1, env });
    expect(wasm.ok && wasm.value.kernels.name).toMatch(/^wasm/);
    expect(describeEngine(env)).toMatch(/^binary engine: wasm SIMD \(--engine auto\); native not available/);
  });
});
