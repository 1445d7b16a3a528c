/**
 * How the fuzzer drives blu-pipe: `run` always as the real CLI in a child process (real step
 * processes, a real SIGKILL of the runner); `status --json`, `cache verify --json` and `gc`
 * in-process through their command modules, which is what makes thousands of scenarios affordable.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheCommand } from '../../src/cli/commands/cache.js';
import { gcCommand } from '../../src/cli/commands/gc.js';
import { statusCommand } from '../../src/cli/commands/status.js';
import type { CliIO } from '../../src/cli/io.js';

/** The built CLI: this file is test/fuzz/driver.ts (vitest) or dist/test/fuzz/driver.js (npm run fuzz:runtime). */
export function cliEntry(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const inDist = path.basename(path.resolve(here, '../..')) === 'dist';
  return inDist ? path.resolve(here, '../../src/cli/main.js') : path.resolve(here, '../../dist/src/cli/main.js');
}

export interface InProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A command module run in this process against a project directory; a throw is reported, not raised. */
async function inProcess(
  command: (argv: readonly string[], io: CliIO) => Promise<number>,
  argv: readonly string[],
  cwd: string,
): Promise<InProcessResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    cwd,
    env: { PATH: process.env.PATH },
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    isTTY: false,
  };
  try {
    return { code: await command(argv, io), stdout, stderr };
  } catch (error) {
    return { code: -1, stdout, stderr: `${stderr}threw: ${error instanceof Error ? error.stack : String(error)}` };
  }
}

export const statusJson = (cwd: string, argv: readonly string[]): Promise<InProcessResult> =>
  inProcess(statusCommand, [...argv, '--json'], cwd);
export const verifyJson = (cwd: string): Promise<InProcessResult> => inProcess(cacheCommand, ['verify', '--json'], cwd);
export const gc = (cwd: string, keepLast: number): Promise<InProcessResult> => inProcess(gcCommand, ['--keep-last', String(keepLast)], cwd);

export interface CliRun {
  /** Exit code; null when killed by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The harness SIGKILLed it while it was still running. */
  readonly killed: boolean;
  /** Still running at the harness's time limit (then killed). */
  readonly hung: boolean;
}

const MAX_CAPTURE = 4 << 20;

/**
 * Runs `blu-pipe run …` as a child process in its own process group. With `killAfterMs`, SIGKILLs the
 * runner (only it, as an OOM killer would) after that delay, then waits for what it had started to end.
 * A run still going after `hangMs` is killed with its process group and reported as hung.
 */
export function cliRun(
  cwd: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  options: { readonly hangMs: number; readonly killAfterMs?: number },
): Promise<CliRun> {
  const { hangMs, killAfterMs } = options;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliEntry(), 'run', ...args], {
      cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => void (stdout.length < MAX_CAPTURE && (stdout += d.toString())));
    child.stderr.on('data', (d: Buffer) => void (stderr.length < MAX_CAPTURE && (stderr += d.toString())));
    let killed = false;
    let hung = false;
    const killer =
      killAfterMs === undefined
        ? undefined
        : setTimeout(() => {
            killed = child.exitCode === null && child.signalCode === null;
            child.kill('SIGKILL');
          }, killAfterMs);
    const hang = setTimeout(() => {
      hung = true;
      killGroup(child.pid);
    }, hangMs);
    child.on('close', (code, signal) => {
      clearTimeout(hang);
      if (killer) clearTimeout(killer);
      const done = (): void => resolve({ code, signal, stdout, stderr, killed, hung });
      if (killed) void drainGroup(child.pid).then(done);
      else done();
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * After the runner's SIGKILL its steps may still be running (the fork server kills its own children;
 * the first few steps are the runner's direct children). They share its process group: wait for the
 * group to empty (SIGKILL it after 3 s), so that no orphan writes into the next run.
 */
async function drainGroup(pid: number | undefined): Promise<void> {
  if (pid === undefined) return;
  const deadline = Date.now() + 3000;
  for (;;) {
    try {
      process.kill(-pid, 0);
    } catch {
      break;
    }
    if (Date.now() > deadline) {
      killGroup(pid);
      break;
    }
    await sleep(25);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Step ids that ended `failed` in a `run --json` event stream. */
export function failedSteps(stdout: string): string[] {
  const failed: string[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const e = JSON.parse(line) as { type?: string; stepId?: string; outcome?: string };
      if (e.type === 'step-end' && e.outcome === 'failed' && e.stepId) failed.push(e.stepId);
    } catch {
      // a partial line from a killed run
    }
  }
  return failed;
}

export function crashLogExists(projectDir: string): boolean {
  return existsSync(path.join(projectDir, '.blu', 'crash.log'));
}
