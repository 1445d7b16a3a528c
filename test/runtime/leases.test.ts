// Output leases as one append-only log per run: what another run reads from it, including a line
// caught half-written, the log of a run that died, and a run on another host (two real processes
// given different host ids) that keeps its leases by its heartbeat or loses them when it stops.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { liveness } from '../../src/base/liveness.js';
import { OutputLeases } from '../../src/runtime/exec/leases.js';
import { childFixture } from '../rig/child-modules.js';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

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
    expect(b.foreignHolder(['out/y.txt', 'out/x.txt'])).toMatchObject({
      runId: 'run-a',
      pid: process.pid,
      host: os.hostname(),
      path: 'out/x.txt',
    });
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

  it('removes lease directories of older layouts (<path hash>/<run>.json, <run>/<path hash>.json)', () => {
    const dir = leasesDir();
    const holder = JSON.stringify({
      runId: 'old',
      pid: process.pid,
      host: os.hostname(),
      path: 'out/x.txt',
      since: new Date().toISOString(),
    });
    for (const rel of ['0f3a9c/old.json', 'old-run/0f3a9c.json']) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), holder);
    }
    const a = new OutputLeases(dir, 'run-a');
    a.hold(['keep.txt']);
    expect(a.foreignHolder(['out/x.txt'])).toBeUndefined();
    expect(readdirSync(dir)).toEqual(['run-a.leases']);
  });

  it('writes its log again at the next beat when a reader removed it while the run was alive', async () => {
    const dir = leasesDir();
    const a = new OutputLeases(dir, 'run-a', liveness({ staleAfterMs: 300 }));
    a.hold(['out/x.txt']);
    rmSync(path.join(dir, 'run-a.leases')); // as a reader does that judged the run gone
    await vi.waitFor(() => expect(existsSync(path.join(dir, 'run-a.leases'))).toBe(true), { timeout: 10_000, interval: 20 });
    expect(new OutputLeases(dir, 'run-b').foreignHolder(['out/x.txt'])?.runId).toBe('run-a');
    a.releaseAll();
  });
});

// argv: leasesDir runId host staleAfterMs path. Holds the lease, says so, lets go when stdin says anything.
const CHILD = `
import { OutputLeases } from './runtime/exec/leases.js';
const [dir, runId, host, staleAfterMs, leased] = process.argv.slice(2);
const leases = new OutputLeases(dir, runId, { host, staleAfterMs: Number(staleAfterMs) });
leases.hold([leased]);
process.stdout.write('held\\n');
process.stdin.once('data', () => { leases.releaseAll(); process.exit(0); });
`;

/** A real process on "another host" (its own host id) holding a lease on `leased`; resolves once it holds it. */
async function otherHostHolder(dir: string, staleAfterMs: number, leased: string): Promise<ChildProcess> {
  const fixture = await childFixture(path.join(path.dirname(dir), 'child'), CHILD);
  const child = spawn(process.execPath, [fixture, dir, 'run-b', 'host-b', String(staleAfterMs), leased], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`child exited with ${String(code)} before holding its lease`)));
  });
  return child;
}

const exited = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

// Issue 20, class d: two runs each holding a lease the other waits for (each still has a reader of
// what the other must rewrite) would wait forever. The younger gives up what the older wants.
describe('output leases: waits that would form a cycle', () => {
  it('the younger waiting run gives up the lease the older one waits for; the older never yields, and both get through', async () => {
    const dir = leasesDir();
    const older = new OutputLeases(dir, '20261204-100000-aaaa');
    const younger = new OutputLeases(dir, '20261204-100001-bbbb');
    older.hold(['out/y.txt']); // it still has a reader of y, and must rewrite x
    younger.hold(['out/x.txt']); // it still has a reader of x, and must rewrite y
    const gaveUp: string[][] = [];
    const yielding = (log: string[][]) => ({ yieldable: () => true, onYield: (paths: readonly string[]) => void log.push([...paths]) });
    const olderGaveUp: string[][] = [];
    const olderFree = older.waitUntilFree(['out/x.txt'], AbortSignal.timeout(20_000), () => undefined, yielding(olderGaveUp));
    const youngerFree = younger.waitUntilFree(['out/y.txt'], AbortSignal.timeout(20_000), () => undefined, yielding(gaveUp));
    expect(await olderFree).toBe(true);
    expect(gaveUp).toEqual([['out/x.txt']]);
    older.release(['out/y.txt']); // its reader of y has finished
    expect(await youngerFree).toBe(true);
    expect(olderGaveUp).toEqual([]);
    older.releaseAll();
    younger.releaseAll();
  });

  it('a lease a step is reading right now is not given up', async () => {
    const dir = leasesDir();
    const older = new OutputLeases(dir, '20261204-100000-aaaa');
    const younger = new OutputLeases(dir, '20261204-100001-bbbb');
    older.hold(['out/y.txt']);
    younger.hold(['out/x.txt']);
    const asked: string[] = [];
    const youngerFree = younger.waitUntilFree(['out/y.txt'], AbortSignal.timeout(20_000), () => undefined, {
      yieldable: (p) => (asked.push(p), false),
      onYield: () => undefined,
    });
    const olderWait = new AbortController();
    const olderFree = older.waitUntilFree(['out/x.txt'], olderWait.signal, () => undefined);
    await vi.waitFor(() => expect(asked).toContain('out/x.txt'), { timeout: 20_000, interval: 25 });
    expect(older.foreignHolder(['out/x.txt'])?.path).toBe('out/x.txt');
    olderWait.abort();
    expect(await olderFree).toBe(false);
    older.releaseAll();
    expect(await youngerFree).toBe(true);
    younger.releaseAll();
  });
});

describe('output leases across hosts', () => {
  it('breaks the lease of a run on another host once its heartbeat is older than staleAfterMs, never by its pid', async () => {
    const dir = leasesDir();
    const child = await otherHostHolder(dir, 1500, 'out/x.txt');
    const here = new OutputLeases(dir, 'run-a', liveness({ host: 'host-a', staleAfterMs: 1500 }));
    child.kill('SIGKILL'); // its pid is dead on this machine, which means nothing for another host's run
    await exited(child);
    expect(here.foreignHolder(['out/x.txt'])).toMatchObject({ runId: 'run-b', host: 'host-b', path: 'out/x.txt' });
    const waited: string[] = [];
    expect(await here.waitUntilFree(['out/x.txt'], AbortSignal.timeout(20_000), (h) => waited.push(h.host))).toBe(true);
    expect(waited).toEqual(['host-b']);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('waits for a run on another host that keeps beating, past staleAfterMs, until it lets go', async () => {
    const dir = leasesDir();
    const child = await otherHostHolder(dir, 600, 'out/x.txt');
    const here = new OutputLeases(dir, 'run-a', liveness({ host: 'host-a', staleAfterMs: 600 }));
    let freed = false;
    const free = here.waitUntilFree(['out/x.txt'], AbortSignal.timeout(30_000), () => undefined).then((r) => ((freed = true), r));
    // Five beats (one every staleAfterMs/3) after the lease was taken: older than staleAfterMs, yet alive.
    const beats = new Set<number>();
    await vi.waitFor(
      () => {
        beats.add(statSync(path.join(dir, 'run-b.leases')).mtimeMs);
        expect(beats.size).toBeGreaterThanOrEqual(6);
      },
      { timeout: 20_000, interval: 25 },
    );
    expect(freed).toBe(false);
    child.stdin!.write('release\n');
    await exited(child);
    expect(await free).toBe(true);
  });
});
