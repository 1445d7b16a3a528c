import { afterEach, describe, expect, it, vi } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { acquireLock, readLockHolder, type LockHolder } from '../../src/artifacts/lock.js';
import { ageBy, removeTempDirs, tempDir } from './helpers.js';
import { childFixture } from '../rig/child-modules.js';

afterEach(removeTempDirs);

function me(stepId: string): Omit<LockHolder, 'token'> {
  return { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), runId: 'run-t', stepId };
}

async function lockFile(): Promise<string> {
  return join(await tempDir('lock'), 'locks', 'k.lock');
}

async function writeForeignLock(file: string, holder: Partial<LockHolder>): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const full: LockHolder = { ...me('foreign'), token: 'foreign-token', ...holder };
  await writeFile(file, JSON.stringify(full));
}

describe('acquireLock in one process', () => {
  it('makes a second acquirer wait, reports the holder once, then hands over', async () => {
    const file = await lockFile();
    const first = await acquireLock(file, me('first'), {});
    expect(first.ok).toBe(true);
    const onWait = vi.fn<(h: LockHolder) => void>();
    let secondDone = false;
    const second = acquireLock(file, me('second'), { pollMs: 10, onWait }).then((r) => {
      secondDone = true;
      return r;
    });
    await vi.waitFor(() => expect(onWait).toHaveBeenCalled(), { timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 100)); // several more polls while the lock is held
    expect(secondDone).toBe(false);
    expect(onWait).toHaveBeenCalledTimes(1);
    expect(onWait.mock.calls[0]![0]).toMatchObject({ stepId: 'first', pid: process.pid, runId: 'run-t' });
    if (first.ok) await first.value.release();
    const got = await second;
    expect(got.ok).toBe(true);
    expect(await readLockHolder(file)).toMatchObject({ stepId: 'second' });
    if (got.ok) await got.value.release();
    expect(await readdir(dirname(file))).toEqual([]); // no lock, no temp files left
  });

  it('returns aborted when the signal fires while waiting', async () => {
    const file = await lockFile();
    const held = await acquireLock(file, me('holder'), {});
    const result = await acquireLock(file, me('waiter'), { pollMs: 10, signal: AbortSignal.timeout(100) });
    expect(result).toEqual({ ok: false, error: { reason: 'aborted' } });
    if (held.ok) await held.value.release();
  });

  it('release leaves alone a lock that replaced ours (as a breaker replaces one it judged stale)', async () => {
    const file = await lockFile();
    const held = await acquireLock(file, me('mine'), {});
    await rename(file, `${file}.stale-aside`);
    await writeForeignLock(file, { token: 'someone-else' });
    if (held.ok) await held.value.release();
    expect(await readLockHolder(file)).toMatchObject({ token: 'someone-else' });
  });

  it('keeps its lock alive with a heartbeat (mtime refreshed every staleAfterMs/3)', async () => {
    const file = await lockFile();
    const held = await acquireLock(file, me('long'), { staleAfterMs: 600 });
    await ageBy(file, 60); // as if the holder had been silent for a minute
    await vi.waitFor(async () => expect(Date.now() - (await stat(file)).mtimeMs).toBeLessThan(5000), { timeout: 10_000, interval: 50 });
    expect(await readLockHolder(file)).toMatchObject({ stepId: 'long' });
    if (held.ok) await held.value.release();
  });
});

describe('acquireLock breaking stale locks', () => {
  it('breaks the lock of a dead pid on this host', async () => {
    const file = await lockFile();
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    await writeForeignLock(file, { pid: dead });
    const onWait = vi.fn();
    const got = await acquireLock(file, me('heir'), { pollMs: 10, onWait, signal: AbortSignal.timeout(5000) });
    expect(got.ok).toBe(true);
    expect(onWait).not.toHaveBeenCalled();
    expect(await readLockHolder(file)).toMatchObject({ stepId: 'heir' });
    if (got.ok) await got.value.release();
  });

  it('breaks a lock whose heartbeat is older than staleAfterMs', async () => {
    const file = await lockFile();
    await writeForeignLock(file, { host: 'other-node', pid: 1 });
    await ageBy(file, 60);
    const got = await acquireLock(file, me('heir'), { staleAfterMs: 5000, signal: AbortSignal.timeout(5000) });
    expect(got.ok).toBe(true);
    if (got.ok) await got.value.release();
  });

  it('never trusts pids of another host while the heartbeat is fresh', async () => {
    const file = await lockFile();
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    await writeForeignLock(file, { host: 'other-node', pid: dead });
    const onWait = vi.fn<(h: LockHolder) => void>();
    const got = await acquireLock(file, me('waiter'), { pollMs: 10, onWait, signal: AbortSignal.timeout(200) });
    expect(got.ok).toBe(false);
    expect(onWait.mock.calls[0]![0]).toMatchObject({ host: 'other-node', token: 'foreign-token' });
  });
});

/** A plain `node` child running the built lock module. */
function buildChildFixture(dir: string): Promise<string> {
  return childFixture(dir, CHILD_SOURCE);
}

// argv: lockFile logFile name holdMs [die]
const CHILD_SOURCE = `
import { appendFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { acquireLock } from './artifacts/lock.js';
const [lockFile, logFile, name, holdMs, mode] = process.argv.slice(2);
const me = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), runId: 'child', stepId: name };
const got = await acquireLock(lockFile, me, { pollMs: 15 });
if (!got.ok) process.exit(2);
await appendFile(logFile, 'start ' + name + '\\n');
await new Promise((r) => setTimeout(r, Number(holdMs)));
await appendFile(logFile, 'end ' + name + '\\n');
if (mode === 'die') process.kill(process.pid, 'SIGKILL');
await got.value.release();
`;

function runChild(child: string, args: string[]): Promise<number | null> {
  return new Promise((resolveExit, reject) => {
    const proc = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    proc.on('error', reject);
    proc.on('exit', (code, signal) => resolveExit(signal === null ? code : -1));
  });
}

describe('acquireLock across real processes', () => {
  it('serialises three contending child processes', async () => {
    const dir = await tempDir('lock-procs');
    const child = await buildChildFixture(dir);
    const file = join(dir, 'locks', 'shared.lock');
    const log = join(dir, 'log.txt');
    const codes = await Promise.all(['a', 'b', 'c'].map((n) => runChild(child, [file, log, n, '150'])));
    expect(codes).toEqual([0, 0, 0]);
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(6);
    for (let i = 0; i < 6; i += 2) {
      const name = lines[i]!.split(' ')[1];
      expect([lines[i], lines[i + 1]]).toEqual([`start ${name}`, `end ${name}`]);
    }
  });

  it('takes over the lock of a child killed while holding it', async () => {
    const dir = await tempDir('lock-kill');
    const child = await buildChildFixture(dir);
    const file = join(dir, 'locks', 'shared.lock');
    const code = await runChild(child, [file, join(dir, 'log.txt'), 'victim', '10', 'die']);
    expect(code).toBe(-1);
    expect(await readLockHolder(file)).toMatchObject({ stepId: 'victim' });
    const got = await acquireLock(file, me('survivor'), { signal: AbortSignal.timeout(5000) });
    expect(got.ok).toBe(true);
    if (got.ok) await got.value.release();
  });
});
