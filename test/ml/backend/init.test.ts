import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeBackends } from '../../../src/ml/backend/describe.js';
import { initBackend, parseBackendName } from '../../../src/ml/backend/index.js';

// npm ci writes this when it built and verified tfjs-node; auto must then pick it.
const nativeInstalled = existsSync('node_modules/@tensorflow/tfjs-node/blu-native.json');
const expectedAuto = nativeInstalled ? 'tensorflow' : 'wasm';

describe('initBackend', () => {
  it(`picks ${expectedAuto} here and records why the others were skipped`, async () => {
    const saved = process.env.BLU_BACKEND;
    delete process.env.BLU_BACKEND;
    try {
      const r = await initBackend('auto');
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.value.name).toBe(expectedAuto);
      const node = r.value.tried.find((t) => t.name === 'tensorflow');
      if (nativeInstalled) {
        expect(node?.ok).toBe(true);
        expect(r.value.native?.tfVersion).toMatch(/^2\.\d+\.\d+/);
        expect(r.value.tried.map((t) => t.name)).toEqual(['tensorflow-gpu', 'tensorflow']);
      } else {
        expect(r.value.simd).toBe(true);
        expect(r.value.threads).toBeGreaterThanOrEqual(1);
        expect(node?.ok).toBe(false);
        expect(node?.detail).toMatch(/not installed/);
        expect(r.value.tried.map((t) => t.name)).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm']);
      }
      // Idempotent: a second call returns the same backend without re-trying.
      const again = await initBackend('auto');
      expect(again.ok && again.value.name).toBe(expectedAuto);
    } finally {
      if (saved !== undefined) process.env.BLU_BACKEND = saved;
    }
  });

  it('describeBackends explains the choice and how to add native backends', async () => {
    const text = await describeBackends();
    expect(text).toMatch(new RegExp(`Active backend: ${expectedAuto}`));
    if (nativeInstalled) expect(text).toMatch(/oneDNN: (on|off) \(TF_ENABLE_ONEDNN_OPTS=/);
    else expect(text).toMatch(/tensorflow\s+not installed/);
    expect(text).toMatch(/GPUs: (none found|\d+)/);
    expect(text).toMatch(/blu-pipe native install/);
  });
  it('honours an explicit preference and rejects a bad BLU_BACKEND', async () => {
    const cpu = await initBackend('cpu');
    expect(cpu.ok && cpu.value.name).toBe('cpu');
    process.env.BLU_BACKEND = 'quantum';
    try {
      const bad = await initBackend('auto');
      expect(bad.ok).toBe(false);
    } finally {
      delete process.env.BLU_BACKEND;
    }
    expect(parseBackendName('wasm')).toBe('wasm');
    expect(parseBackendName('gpu')).toBeUndefined();
  });
});
