import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isPidAlive } from '../../src/base/liveness.js';

const WATCH = pathToFileURL(path.resolve('dist/src/runtime/exec/parent-watch.js')).href;

/** Runs `parent`, which starts a worker that blocks its event loop for 60 s, prints its pid and exits. */
async function orphanedWorker(watch: boolean): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'blu-parent-watch-'));
  const worker = path.join(dir, 'worker.mjs');
  writeFileSync(
    worker,
    `${watch ? `const { exitWithParent } = await import(${JSON.stringify(WATCH)}); exitWithParent(50);` : ''}
process.stdout.write(String(process.pid) + '\\n');
const end = Date.now() + 60_000;
while (Date.now() < end) {} // like a long synchronous TensorFlow call: no timer or signal handler runs here
`,
  );
  const parent = `const c = require('node:child_process').spawn(process.execPath, [${JSON.stringify(worker)}], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
c.stdout.once('data', (d) => { process.stdout.write(d); process.exit(0); });`;
  const child = spawn(process.execPath, ['-e', parent], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => child.on('exit', resolve));
  return Number(out.trim());
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!isPidAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !isPidAlive(pid);
}

describe('a step worker whose runner is gone', () => {
  it('kills itself even while its main thread is blocked', async () => {
    const pid = await orphanedWorker(true);
    expect(pid).toBeGreaterThan(0);
    expect(await waitForExit(pid, 15_000)).toBe(true);
  }, 30_000);

  it('(control) without the watch, the orphan keeps running', async () => {
    const pid = await orphanedWorker(false);
    try {
      expect(await waitForExit(pid, 1_000)).toBe(false);
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  }, 30_000);
});
