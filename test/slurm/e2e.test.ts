// End to end: the real CLI runs a small pipeline with `--executor slurm` (every step a Slurm job
// running `blu-pipe exec-step` on the node), then a local run of the same pipeline must find
// everything fresh. Needs `npm run build` (dist/src/cli/main.js) and the cluster.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  scancelOutsideExecutor,
  clusterUnavailableReason,
  makeTempProject,
  queueState,
  scontrolState,
  submitForeignJob,
  removeTempProjects,
} from './helpers.js';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const cli = path.join(projectRoot, 'dist', 'src', 'cli', 'main.js');

function skipReason(): string | null {
  const cluster = clusterUnavailableReason();
  if (cluster) return cluster;
  if (!existsSync(cli)) return `${cli} missing: run \`npm run build\` first`;
  return null;
}
const skip = skipReason();
if (skip) console.warn(`[slurm e2e skipped] ${skip}`);

const PIPELINE = `
name: slurm-e2e
params:
  count: 5
steps:
  numbers:
    run: [node, scripts/numbers.mjs, "\${params.count}", data/numbers.txt]
    deps: [scripts/numbers.mjs]
    outs: [data/numbers.txt]
  power:
    matrix:
      exponent: [2, 3]
    needs: [numbers]
    run: [node, scripts/power.mjs, "\${matrix.exponent}", data/numbers.txt, "out/power-\${matrix.exponent}.txt"]
    deps: [scripts/power.mjs, data/numbers.txt]
    outs: ["out/power-\${matrix.exponent}.txt"]
    resources:
      cpus: 1
      mem: 100M
`;

const NUMBERS = `import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
const [count, out] = process.argv.slice(2);
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, Array.from({ length: Number(count) }, (_, i) => i + 1).join('\\n') + '\\n');
console.log('job ' + process.env.SLURM_JOB_ID + ' wrote ' + count + ' numbers');
`;

const POWER = `import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
const [exponent, input, out] = process.argv.slice(2);
const values = readFileSync(input, 'utf8').trim().split('\\n').map(Number);
mkdirSync(path.dirname(out), { recursive: true });
console.log('::blu::' + JSON.stringify({ progress: { label: 'numbers', current: values.length, total: values.length } }));
writeFileSync(out, values.map((v) => v ** Number(exponent)).join(',') + '\\n');
console.log('job ' + process.env.SLURM_JOB_ID + ' on ' + process.env.SLURMD_NODENAME);
`;

interface JsonEvent {
  readonly type: string;
  readonly stepId?: string;
  readonly progress?: { readonly label?: string; readonly current?: number };
  readonly outcome?: string;
  readonly jobId?: string;
  readonly status?: string;
  readonly steps?: readonly { readonly id: string; readonly action: string }[];
}

function runCli(projectDir: string, args: readonly string[]): { status: number | null; events: JsonEvent[]; stderr: string } {
  const child = spawnSync(process.execPath, [cli, ...args], { cwd: projectDir, encoding: 'utf8', timeout: 110_000 });
  const events = child.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as JsonEvent);
  return { status: child.status, events, stderr: child.stderr };
}

describe.skipIf(skip !== null)('blu-pipe run --executor slurm (built CLI, real cluster)', () => {
  afterAll(removeTempProjects);
  it('runs every step as a Slurm job; a local run afterwards is all fresh', { timeout: 120_000 }, () => {
    const { projectDir } = makeTempProject();
    mkdirSync(path.join(projectDir, 'scripts'));
    writeFileSync(path.join(projectDir, 'pipeline.yaml'), PIPELINE);
    writeFileSync(path.join(projectDir, 'scripts', 'numbers.mjs'), NUMBERS);
    writeFileSync(path.join(projectDir, 'scripts', 'power.mjs'), POWER);

    const slurmRun = runCli(projectDir, ['run', 'pipeline.yaml', '--executor', 'slurm', '--json']);
    expect(slurmRun.status, slurmRun.stderr).toBe(0);
    const ended = slurmRun.events.filter((e) => e.type === 'step-end');
    expect(ended.map((e) => [e.stepId, e.outcome]).sort()).toEqual([
      ['numbers', 'ran'],
      ['power@exponent=2', 'ran'],
      ['power@exponent=3', 'ran'],
    ]);
    for (const e of ended) expect(scontrolState(e.jobId ?? 'none'), `${e.stepId} job ${e.jobId}`).toBe('COMPLETED');
    expect(readFileSync(path.join(projectDir, 'out', 'power-3.txt'), 'utf8')).toBe('1,8,27,64,125\n');
    const forwarded = slurmRun.events.filter((e) => e.type === 'step-progress' && e.progress?.label === 'numbers');
    // A set: exec-step currently writes each `run:` protocol line to the job log twice (raw output
    // plus its re-emitted report), so every progress event arrives twice; reported to the lead.
    expect([...new Set(forwarded.map((e) => e.stepId))].sort()).toEqual(['power@exponent=2', 'power@exponent=3']);

    const localRun = runCli(projectDir, ['run', 'pipeline.yaml', '--json']);
    expect(localRun.status, localRun.stderr).toBe(0);
    const start = localRun.events.find((e) => e.type === 'run-start');
    expect(start?.steps?.map((s) => s.action)).toEqual(['fresh', 'fresh', 'fresh']);
    execFileSync('squeue', ['-h']); // cluster still answers after the run
  });

  it('Ctrl-C on the CLI cancels its Slurm job and leaves a foreign job alone', { timeout: 90_000 }, async () => {
    const { projectDir } = makeTempProject();
    mkdirSync(path.join(projectDir, 'scripts'));
    writeFileSync(path.join(projectDir, 'scripts', 'nap.mjs'), 'console.log("napping"); setTimeout(() => {}, 120_000);\n');
    writeFileSync(
      path.join(projectDir, 'pipeline.yaml'),
      'name: nap\nsteps:\n  nap:\n    run: [node, scripts/nap.mjs]\n    deps: [scripts/nap.mjs]\n',
    );
    const foreign = submitForeignJob(120);
    try {
      const child = spawn(process.execPath, [cli, 'run', 'pipeline.yaml', '--executor', 'slurm', '--json'], {
        cwd: projectDir,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const jobName = `blu:${path.basename(projectDir)}/nap`;
      const jobId = await waitForRunningJob(jobName, 60_000);
      child.kill('SIGINT');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).not.toBe(0);
      expect(queueState(jobId)).toBe('');
      expect(scontrolState(jobId)).toBe('CANCELLED');
      expect(['RUNNING', 'PENDING']).toContain(queueState(foreign));
    } finally {
      scancelOutsideExecutor(foreign);
    }
  });
});

/** Polls squeue for a job with this name until it runs; returns its id. */
async function waitForRunningJob(jobName: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const out = spawnSync('squeue', ['-h', '-n', jobName, '-o', '%i|%T'], { encoding: 'utf8' }).stdout.trim();
    const [id, state] = out.split('|');
    if (id && state === 'RUNNING') return id;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no running job named ${jobName} within ${timeoutMs} ms`);
}
