import { describe, expect, it } from 'vitest';
import { describeBackends, initBackend, parseBackendName } from '../../../src/ml/backend/index.js';

describe('initBackend', () => {
  it('picks wasm here and records tfjs-node as not installed', async () => {
    const saved = process.env.BLU_BACKEND;
    delete process.env.BLU_BACKEND;
    try {
      const r = await initBackend('auto');
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.value.name).toBe('wasm');
      expect(r.value.simd).toBe(true);
      expect(r.value.threads).toBeGreaterThanOrEqual(1);
      const node = r.value.tried.find((t) => t.name === 'tensorflow');
      expect(node?.ok).toBe(false);
      expect(node?.detail).toMatch(/not installed/);
      expect(r.value.tried.map((t) => t.name)).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm']);
      // Idempotent: a second call returns the same backend without re-trying.
      const again = await initBackend('auto');
      expect(again.ok && again.value.name).toBe('wasm');
    } finally {
      if (saved !== undefined) process.env.BLU_BACKEND = saved;
    }
  });

  it('describeBackends explains the choice and how to add native backends', async () => {
    const text = await describeBackends();
    expect(text).toMatch(/Active backend: wasm/);
    expect(text).toMatch(/tensorflow\s+not installed/);
    expect(text).toMatch(/npm install @tensorflow\/tfjs-node-gpu@4\.22\.0/);
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
