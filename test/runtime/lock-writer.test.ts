// Issue 20, class c: a lock entry always describes the bytes in the workspace. Two lock writers play
// two concurrent runs with different --set that write the same output (real files, a real lock file).
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StatCache } from '../../src/artifacts/stat-cache.js';
import type { ActionCacheEntry, KeyComponents, Sha256, StepKey } from '../../src/artifacts/types.js';
import { LockWriter, workspaceHolds } from '../../src/runtime/exec/lock-writer.js';
import { type LockSection, lockRefFor } from '../../src/runtime/plan/lockfile.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function project(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blu-lock-writer-'));
  dirs.push(dir);
  mkdirSync(path.join(dir, '.blu'));
  mkdirSync(path.join(dir, 'out'));
  return dir;
}

const sha = (text: string): Sha256 => createHash('sha256').update(text).digest('hex') as Sha256;

function entry(text: string, runId: string): ActionCacheEntry {
  const components = {
    keySchema: 1,
    kind: 'run',
    kindVersion: '1',
    command: [text],
    with: null,
    params: {},
    deps: {},
    upstream: {},
    env: {},
    outs: ['out/s.txt'],
  } as KeyComponents;
  return {
    schema: 1,
    key: sha(`key ${text}`) as string as StepKey,
    stepId: 's',
    components,
    outputs: [{ path: 'out/s.txt', type: 'file', hash: sha(text), size: text.length }],
    metrics: {},
    series: [],
    durationMs: 1,
    producer: { runId, stepId: 's', host: 'h', pid: 1, startedAt: '', finishedAt: '' },
  };
}

function writer(dir: string, previous: LockSection = { steps: {} }): LockWriter {
  const stat = StatCache.ephemeral();
  return new LockWriter({
    ref: lockRefFor({ file: path.join(dir, 'p.yaml'), projectDir: dir, overlayFiles: [] }),
    previous,
    pruneTo: null,
    flushDirs: async () => undefined,
    inWorkspace: (e) => workspaceHolds(stat, dir, e.outputs),
    emit: () => undefined,
  });
}

const lockedHash = (dir: string): string =>
  (
    JSON.parse(readFileSync(path.join(dir, 'p.lock'), 'utf8')) as {
      experiments: { default: { steps: { s: { outputs: { hash: string }[] } } } };
    }
  ).experiments.default.steps.s.outputs[0]!.hash;

describe('lock entries describe the workspace after concurrent runs (last writer wins)', () => {
  it('drops the entry of a run whose bytes another run has rewritten before its lock write', async () => {
    const dir = project();
    const runA = writer(dir);
    const runB = writer(dir);
    writeFileSync(path.join(dir, 'out/s.txt'), 'p=1');
    runA.record('s', entry('p=1', 'run-a'), true); // A's write is still pending (coalesced)…
    writeFileSync(path.join(dir, 'out/s.txt'), 'p=2'); // …when B rewrites the output
    runB.record('s', entry('p=2', 'run-b'), true);
    await runB.finish();
    await runA.finish(); // the earlier writer of the bytes, the later writer of the lock
    expect(lockedHash(dir)).toBe(sha('p=2'));
  });

  it('records a restore even when the lock recorded the same result at planning (another run wrote in between)', async () => {
    const dir = project();
    const mine = entry('p=1', 'run-1');
    const other = writer(dir);
    writeFileSync(path.join(dir, 'out/s.txt'), 'p=2');
    other.record('s', entry('p=2', 'run-b'), true);
    await other.finish();
    // This run planned against a lock recording `mine`, then restored its bytes.
    const restoring = writer(dir, { steps: { s: { key: mine.key, components: mine.components, outputs: mine.outputs, runId: 'run-1' } } });
    writeFileSync(path.join(dir, 'out/s.txt'), 'p=1');
    restoring.record('s', mine, true);
    await restoring.finish();
    expect(lockedHash(dir)).toBe(sha('p=1'));
  });
});
