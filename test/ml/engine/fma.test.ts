import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEngineLogits } from '../../../src/ml/engine/forward.js';
import { loadWasmKernels, type WasmKernels } from '../../../src/ml/engine/wasm.js';
import { useTestBackend } from '../models/setup-backend.js';
import { bluNetCases, expectMatchesReference } from './fixtures.js';

// Node 20 keeps relaxed SIMD behind a flag (Node 22 ships it); turning it on here lets the tests
// check the FMA build on any supported Node. Library code never sets V8 flags.
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

let dir: string;
let fma: WasmKernels;
let fmaTwo: WasmKernels;
beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(path.join(os.tmpdir(), 'blu-engine-fma-'));
  const loaded = await Promise.all([loadWasmKernels({ fma: true, threads: 1 }), loadWasmKernels({ fma: true, threads: 2 })]);
  const [one, two] = loaded.map((l) => {
    if (!l.ok) throw new Error(l.error.message);
    return l.value;
  });
  [fma, fmaTwo] = [one as WasmKernels, two as WasmKernels];
});
afterAll(async () => {
  await Promise.all([fma.close(), fmaTwo.close()]);
  await rm(dir, { recursive: true, force: true });
});

describe('relaxed-SIMD (FMA) kernels', () => {
  it('are the build loaded', () => expect(fma.name).toMatch(/FMA/));

  for (const c of bluNetCases) {
    it(`equal the reference and the simulation, and 1 and 2 threads agree bit for bit, on ${c.label}`, async () => {
      const { engine, input, logits } = await expectMatchesReference(fma, c, dir);
      expect(Array.from(runEngineLogits(engine, fmaTwo, input))).toEqual(Array.from(logits));
    });
  }
});
