import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ForkServer,
  launchDirect,
  type ChildEnd,
  type LaunchHandlers,
  type Launched,
  type LaunchTarget,
} from '../../src/runtime/exec/launchers.js';
import { CLI } from '../rig/project.js';

async function readyServer(): Promise<ForkServer> {
  const server = new ForkServer(); // unref'd: it goes when the test process does
  for (let i = 0; i < 200 && !server.usable; i++) await new Promise((r) => setTimeout(r, 25));
  if (!server.usable) throw new Error('the fork server did not come up in 5 s');
  return server;
}

/** Launches `node -e script`, collecting output; `onStart` gets the handle to kill it. */
function run(
  launch: (t: LaunchTarget, h: LaunchHandlers) => Launched,
  script: string,
  onStart: (l: Launched) => void = () => undefined,
): Promise<{ end: ChildEnd; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const launched = launch(
      { file: process.execPath, args: ['-e', script], cwd: process.cwd(), env: { PATH: process.env.PATH ?? '' } },
      {
        onOutput: (chunk) => (output += chunk),
        onEnd: (end) => resolve({ end, output }),
      },
    );
    onStart(launched);
  });
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.each([
  ['directly', async () => launchDirect],
  [
    'through the fork server',
    async () => {
      const s = await readyServer();
      return (t: LaunchTarget, h: LaunchHandlers) => s.launch(t, h);
    },
  ],
])('launching %s', (_name, make) => {
  it('streams stdout and stderr, then the exit code', async () => {
    const launch = await make();
    const { end, output } = await run(launch, 'process.stdout.write("out\\n"); process.stderr.write("err\\n"); process.exit(3)');
    expect(end).toEqual({ exitCode: 3 });
    expect(output.split('\n').sort()).toEqual(['', 'err', 'out']);
  });

  it('reports a missing command as a spawn error', async () => {
    const launch = await make();
    const end = await new Promise<ChildEnd>((resolve) =>
      launch({ file: 'blu-no-such-command-xyz', args: [], cwd: process.cwd(), env: {} }, { onOutput: () => undefined, onEnd: resolve }),
    );
    expect(end).toMatchObject({ spawnError: { code: 'ENOENT' } });
  });

  it('delivers a kill signal', async () => {
    const launch = await make();
    const { end } = await run(launch, 'console.log("up"); setInterval(() => {}, 1000)', (l) => setTimeout(() => l.kill('SIGTERM'), 300));
    expect(end).toEqual({ signal: 'SIGTERM' });
  });
});

describe('the fork server', () => {
  it("kills its children when blu-pipe's process goes away, even by SIGKILL", async () => {
    // The built module (npm test builds first): a plain node child cannot import TypeScript.
    const source = path.join(path.dirname(CLI), '../runtime/exec/launchers.js');
    // A parent that starts a long child through a fork server, prints the child's pid, then is killed.
    const script = `
      const { ForkServer } = await import(${JSON.stringify(source)});
      const server = new ForkServer();
      while (!server.usable) await new Promise((r) => setTimeout(r, 20));
      server.launch({ file: process.execPath, args: ['-e', 'console.log(process.pid); setInterval(() => {}, 1000)'], cwd: process.cwd(), env: {} },
        { onOutput: (pid) => { console.log(pid.trim()); process.kill(process.pid, 'SIGKILL'); }, onEnd: () => undefined });`;
    const stdout = await new Promise<string>((resolve) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], (_e, out) => resolve(out)),
    );
    const pid = Number(stdout.trim());
    expect(pid).toBeGreaterThan(0);
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive(pid)).toBe(false);
  });
});
