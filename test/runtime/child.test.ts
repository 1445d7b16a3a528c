import { describe, expect, it } from 'vitest';
import { runChild } from '../../src/runtime/exec/child.js';

function options(overrides: Partial<Parameters<typeof runChild>[2]> = {}): Parameters<typeof runChild>[2] & { chunks: string[] } {
  const chunks: string[] = [];
  return {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '' },
    signal: new AbortController().signal,
    killGraceMs: 2000,
    onOutput: (c) => chunks.push(c),
    chunks,
    ...overrides,
  };
}

describe('runChild', () => {
  it('streams stdout and stderr and reports the exit code', async () => {
    const o = options();
    const outcome = await runChild(
      process.execPath,
      ['-e', 'process.stdout.write("out\\n"); process.stderr.write("err\\n"); process.exit(3)'],
      o,
    );
    expect(outcome).toEqual({ exitCode: 3, timedOut: false, cancelled: false });
    expect(o.chunks.join('').split('\n').sort()).toEqual(['', 'err', 'out']);
  });

  it('reports a command that does not exist as a spawn error, not an exit code', async () => {
    const outcome = await runChild('blu-no-such-command-xyz', [], options());
    expect(outcome.spawnError?.code).toBe('ENOENT');
    expect(outcome.exitCode).toBeUndefined();
  });

  it('stops a child at its timeout with SIGTERM', async () => {
    const outcome = await runChild(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], options({ timeoutMs: 300 }));
    expect(outcome).toMatchObject({ signal: 'SIGTERM', timedOut: true, cancelled: false });
  });

  it('escalates to SIGKILL when the child ignores SIGTERM, and marks a cancelled run', async () => {
    const controller = new AbortController();
    const run = runChild(
      process.execPath,
      ['-e', 'process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000)'],
      options({ signal: controller.signal, killGraceMs: 200, onOutput: () => controller.abort() }),
    );
    expect(await run).toMatchObject({ signal: 'SIGKILL', cancelled: true });
  });
});
