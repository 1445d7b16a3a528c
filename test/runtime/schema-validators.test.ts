// The validators generated at build time (dist/src/schemas/validators.cjs) must judge exactly as
// ajv compiling the shipped schemas at run time: same verdicts, same errors, from the same text.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ajvLib } from '../../src/runtime/lazy-deps.js';
import type { GeneratedValidators } from '../../src/runtime/load/schema-check.js';
import { AJV_OPTIONS } from '../../src/schemas/index.js';
import { OVERLAY_SCHEMA, PIPELINE_SCHEMA, SHIPPED_SCHEMAS } from '../../src/schemas/index.js';
import { REPO } from '../rig/project.js';

const GENERATED = path.join(REPO, 'dist/src/schemas/validators.cjs');

function load(): GeneratedValidators {
  if (!existsSync(GENERATED)) throw new Error(`build first: ${GENERATED} is missing (npm test builds it)`);
  return createRequire(import.meta.url)(GENERATED) as GeneratedValidators;
}

const PIPELINES: unknown[] = [
  { name: 'ok', steps: { a: { run: 'echo hi', outs: ['a.txt'] } } },
  {
    steps: { a: { run: ['sort', '-o', 'x', 'y'], deps: ['y'], outs: [{ path: 'x', track: true }], timeout: '5m', retries: 1 } },
    params: { lr: 0.1 },
  },
  { nmae: 'typo', steps: {} },
  { steps: { a: { outs: 3, needs: 'b', resources: { cpus: -1 } } } },
  { steps: { 'bad name!': { run: 'x', env: { A: 1 } } }, mlflow: { experiment: 7 } },
  [],
  'steps: {}',
];

const OVERLAYS: unknown[] = [{ params: { lr: 0.2 } }, { description: 3 }, { parmas: {} }, null];

describe('build-time schema validators', () => {
  it('were generated from the shipped schema texts', () => {
    const generated = load();
    expect(generated.sourceHashes).toEqual(Object.fromEntries(SHIPPED_SCHEMAS.map((s) => [s.name, s.sha256])));
  });

  it('give the verdicts and errors of the schemas compiled at run time', () => {
    const generated = load();
    const ajv = new (ajvLib().Ajv)(AJV_OPTIONS);
    const cases: [ReturnType<typeof ajv.compile>, GeneratedValidators['pipeline'], unknown[]][] = [
      [ajv.compile(PIPELINE_SCHEMA), generated.pipeline, PIPELINES],
      [ajv.compile(OVERLAY_SCHEMA), generated.overlay, OVERLAYS],
    ];
    let invalid = 0;
    for (const [compiled, built, docs] of cases) {
      for (const doc of docs) {
        const verdict = compiled(doc);
        expect(built(doc)).toBe(verdict);
        expect(built.errors ?? null).toEqual(compiled.errors ?? null);
        if (!verdict) invalid++;
      }
    }
    expect(invalid).toBeGreaterThanOrEqual(7); // the comparison covered errors, not only valid documents
  });
});
