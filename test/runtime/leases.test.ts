// Output leases as one append-only log per run: what another run reads from it, including a line
// caught half-written and the log of a run that died.
import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OutputLeases } from '../../src/runtime/leases.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function leasesDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blu-leases-'));
  dirs.push(dir);
  return path.join(dir, 'leases');
}

describe('output leases', () => {
  it("shows another run's live leases, names the path, and forgets released ones", () => {
    const dir = leasesDir();
    const a = new OutputLeases(dir, 'run-a');
    const b = new OutputLeases(dir, 'run-b');
    a.hold(['out/x.txt', 'odd\nname.txt']);
    expect(b.foreignHolder(['out/y.txt', 'out/x.txt'])).toMatchObject({ runId: 'run-a', pid: process.pid, host: os.hostname(), path: 'out/x.txt' });
    expect(b.foreignHolder(['odd\nname.txt'])?.path).toBe('odd\nname.txt');
    expect(a.foreignHolder(['out/x.txt'])).toBeUndefined(); // its own leases never block a run
    a.release(['out/x.txt']);
    expect(b.foreignHolder(['out/x.txt'])).toBeUndefined();
    a.hold(['out/x.txt']);
    expect(b.foreignHolder(['out/x.txt'])?.path).toBe('out/x.txt');
    a.releaseAll();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('reads a release caught half-written as still held', () => {
    const dir = leasesDir();
    const a = new OutputLeases(dir, 'run-a');
    a.hold(['out/x.txt']);
    appendFileSync(path.join(dir, 'run-a.leases'), '-"out/x.t');
    expect(new OutputLeases(dir, 'run-b').foreignHolder(['out/x.txt'])?.runId).toBe('run-a');
  });

  it('removes the log of a run whose process is gone', () => {
    const dir = leasesDir();
    const a = new OutputLeases(dir, 'run-a');
    a.hold(['keep.txt']); // creates the directory
    const dead = { runId: 'dead', pid: 2 ** 22 + 12345, host: os.hostname(), since: new Date().toISOString() };
    writeFileSync(path.join(dir, 'dead.leases'), `${JSON.stringify(dead)}\n+"out/x.txt"\n`);
    expect(a.foreignHolder(['out/x.txt'])).toBeUndefined();
    expect(readdirSync(dir)).toEqual(['run-a.leases']);
  });

  it('waits while another run holds a path and goes on once it lets go', async () => {
    const dir = leasesDir();
    const a = new OutputLeases(dir, 'run-a');
    a.hold(['out/x.txt']);
    const waited: string[] = [];
    const free = new OutputLeases(dir, 'run-b').waitUntilFree(['out/x.txt'], new AbortController().signal, (h) => waited.push(h.runId));
    setTimeout(() => a.release(['out/x.txt']), 150);
    expect(await free).toBe(true);
    expect(waited).toEqual(['run-a']);
  });
});
