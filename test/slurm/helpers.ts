/** Shared set-up for the Slurm tests: cluster detection, temp projects and step specs. */
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KeyComponents, StepKey } from '../../src/artifacts/types.js';
import type { StepProgress } from '../../src/runtime/events.js';
import type { StepReport } from '../../src/runtime/executor.js';
import type { JsonValue } from '../../src/base/result.js';
import type { StepResources, StepSpec } from '../../src/runtime/step-spec.js';

export const FAKE_WORKER = fileURLToPath(new URL('./fixtures/fake-exec-step.mjs', import.meta.url));

/** Why the cluster tests cannot run here, or null when sinfo answers with a usable node. */
export function clusterUnavailableReason(): string | null {
  const probe = spawnSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error) return `sinfo not runnable (${probe.error.message}); run scripts/slurm-ci-up.sh as root`;
  if (probe.status !== 0) return `sinfo failed: ${probe.stderr.trim()}; run scripts/slurm-ci-up.sh`;
  const states = probe.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!states.some((s) => /^(idle|mixed|allocated|completing)/.test(s)))
    return `no usable Slurm node (states: ${states.join(', ') || 'none'})`;
  return null;
}

export interface TempProject {
  readonly projectDir: string;
  readonly cacheDir: string;
  readonly runId: string;
  readonly runDir: string;
}

const createdProjects: string[] = [];

/** For afterAll: temp projects hold job logs and cache entries; nothing else needs them after a file's tests. */
export function removeTempProjects(): void {
  for (const dir of createdProjects.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function makeTempProject(prefix = 'blu-slurm-'): TempProject {
  const projectDir = mkdtempSync(path.join(tmpdir(), prefix));
  createdProjects.push(projectDir);
  const runId = `run-${randomUUID().slice(0, 8)}`;
  return { projectDir, cacheDir: path.join(projectDir, '.blu', 'cache'), runId, runDir: path.join(projectDir, '.blu', 'runs', runId) };
}

export function makeSpec(
  project: TempProject,
  id: string,
  plan: JsonValue,
  extra: Partial<{ resources: StepResources; timeoutMs: number | null; cache: boolean }> = {},
): StepSpec {
  const components: KeyComponents = {
    keySchema: 1,
    kind: 'fake',
    kindVersion: '1',
    command: null,
    with: plan,
    params: {},
    deps: {},
    upstream: {},
    env: {},
    outs: [],
  };
  const key = createHash('sha256').update(`${project.runId}/${id}/${randomUUID()}`).digest('hex') as StepKey;
  return {
    specSchema: 1,
    id,
    name: id.split('@')[0] ?? id,
    kind: 'fake',
    kindVersion: '1',
    projectDir: project.projectDir,
    cacheDir: project.cacheDir,
    runId: project.runId,
    logPath: path.join(project.runDir, 'logs', `${id.replace(/[^A-Za-z0-9._-]/g, '_')}.log`),
    command: null,
    with: plan,
    params: {},
    deps: [],
    outs: [],
    env: {},
    upstream: {},
    resources: extra.resources ?? { cpus: 1 },
    timeoutMs: extra.timeoutMs ?? null,
    cache: extra.cache ?? true,
    key,
    components,
  };
}

export interface RecordedReport extends StepReport {
  readonly progress: (p: StepProgress) => void;
  readonly progressSeen: StepProgress[];
  readonly metricsSeen: { name: string; value: number; step: number }[];
}

export function recordingReport(onProgress?: (p: StepProgress) => void): RecordedReport {
  const progressSeen: StepProgress[] = [];
  const metricsSeen: { name: string; value: number; step: number }[] = [];
  return {
    progressSeen,
    metricsSeen,
    progress: (p) => {
      progressSeen.push(p);
      onProgress?.(p);
    },
    metric: (name, value, step) => metricsSeen.push({ name, value, step }),
    tag: () => undefined,
  };
}

/** Queue state of a job as squeue sees it ('' when it is no longer queued or running). */
export function queueState(jobId: string): string {
  const out = spawnSync('squeue', ['-h', '-j', jobId, '-o', '%T'], { encoding: 'utf8' });
  return out.status === 0 ? out.stdout.trim() : '';
}

export function scontrolState(jobId: string): string {
  const out = spawnSync('scontrol', ['show', 'job', '-o', jobId], { encoding: 'utf8' });
  return /JobState=(\S+)/.exec(out.stdout)?.[1] ?? '';
}

export function submitForeignJob(seconds: number): string {
  const out = spawnSync('sbatch', ['--parsable', '-J', 'foreign-job', '-o', '/dev/null', '--wrap', `sleep ${seconds}`], {
    encoding: 'utf8',
  });
  if (out.status !== 0) throw new Error(`foreign sbatch failed: ${out.stderr}`);
  return out.stdout.trim();
}

/** scancel run by the test itself, as a user or administrator would, bypassing the executor. */
export function scancelOutsideExecutor(jobId: string): void {
  spawnSync('scancel', [jobId]);
}
