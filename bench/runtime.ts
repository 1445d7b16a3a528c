/**
 * Runtime benchmark (`npm run bench`): a generated DAG of 1000 trivial `run:` steps, timing
 * planning, the first full run and a no-op rerun; then a no-op rerun of the example pipeline and
 * of pipelines/blu-net.yaml when it has been run before. Prints medians; asserts nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');

function generate(dir: string, steps: number): void {
  const lines = ['name: bench', 'steps:'];
  for (let i = 0; i < steps; i++) {
    // Each step reads two earlier outputs (a wide, layered DAG) and writes its own.
    const needs = i < 10 ? [] : [`out/s${(i * 7) % i}.txt`, `out/s${i - 1 - (i % 10)}.txt`];
    lines.push(`  s${i}:`, `    run: [sh, -c, 'cat "$@" /dev/null > out/s${i}.txt; echo ${i} >> out/s${i}.txt', sh${needs.map((n) => `, ${n}`).join('')}]`);
    if (needs.length > 0) lines.push(`    deps: [${needs.join(', ')}]`);
    lines.push(`    outs: [out/s${i}.txt]`);
  }
  mkdirSync(path.join(dir, '.blu'), { recursive: true });
  mkdirSync(path.join(dir, 'out'), { recursive: true });
  writeFileSync(path.join(dir, 'bench.yaml'), `${lines.join('\n')}\n`);
}

function timeCli(args: string[], cwd: string): { wallMs: number; reportedMs: number | null; ok: boolean } {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, MLFLOW_TRACKING_URI: '' } });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const m = /succeeded in ([0-9.]+)(ms|s)/.exec(r.stderr);
  const reportedMs = m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : null;
  return { wallMs, reportedMs, ok: r.status === 0 };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function row(label: string, samples: { wallMs: number; reportedMs: number | null }[]): void {
  const wall = median(samples.map((s) => s.wallMs));
  const reported = samples.every((s) => s.reportedMs !== null) ? median(samples.map((s) => s.reportedMs!)) : null;
  console.log(`${label.padEnd(44)} ${wall.toFixed(0).padStart(7)} ms wall${reported !== null ? `   ${reported.toFixed(0).padStart(6)} ms run phase (after load + plan)` : ''}`);
}

function main(): void {
  if (!existsSync(CLI)) throw new Error('run `npm run build` first');
  const repeats = Number(process.env.BENCH_REPEATS ?? 5);
  console.log(`blu-pipe runtime benchmark: ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, node ${process.version}, medians of ${repeats}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blu-bench-'));
  try {
    generate(dir, 1000);
    row('plan 1000 steps (status, cold)', [timeCli(['status', 'bench.yaml'], dir)]);
    row('first full run, 1000 steps (-j 2)', [timeCli(['run', 'bench.yaml', '--no-track', '-j', '2'], dir)]);
    row('no-op rerun, 1000 fresh steps, --no-track', Array.from({ length: repeats }, () => timeCli(['run', 'bench.yaml', '--no-track'], dir)));
    row('no-op rerun, 1000 fresh steps, tracked', Array.from({ length: Math.min(3, repeats) }, () => timeCli(['run', 'bench.yaml'], dir)));
    row('status, 1000 fresh steps', Array.from({ length: repeats }, () => timeCli(['status', 'bench.yaml'], dir)));
    row('node startup (blu-pipe --version)', Array.from({ length: repeats }, () => timeCli(['--version'], dir)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const blu = path.join(REPO, 'pipelines/blu-net.yaml');
  if (existsSync(blu) && existsSync(path.join(REPO, 'pipelines/blu-net.lock'))) {
    const status = execFileSync(process.execPath, [CLI, 'status', 'pipelines/blu-net.yaml'], { cwd: REPO, encoding: 'utf8' });
    if (/: 0 stale, 0 to restore/.test(status)) row('no-op rerun, pipelines/blu-net.yaml', Array.from({ length: repeats }, () => timeCli(['run', 'pipelines/blu-net.yaml', '--no-track'], REPO)));
    else console.log('pipelines/blu-net.yaml is not fully fresh here; run it once to benchmark its no-op rerun');
  }
}

main();
