// A job that slurmctld has already forgotten (MinJobAge passed) must be judged by the action
// cache. Waiting an hour is not an option, so a stand-in `scontrol` that answers exactly like a
// purged job id ("Invalid job id specified", exit 1) is put first on PATH; sbatch and squeue stay real.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSlurmExecutor } from '../../src/runtime/executors/slurm.js';
import { FAKE_WORKER, clusterUnavailableReason, makeSpec, makeTempProject, recordingReport, removeTempProjects } from './helpers.js';

const unavailable = clusterUnavailableReason();

function pathWithForgetfulScontrol(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'blu-fake-scontrol-'));
  const fake = path.join(dir, 'scontrol');
  writeFileSync(fake, '#!/bin/sh\necho "slurm_load_jobs error: Invalid job id specified" >&2\nexit 1\n');
  chmodSync(fake, 0o755);
  return `${dir}${path.delimiter}${process.env.PATH ?? ''}`;
}

describe.skipIf(unavailable !== null)("Slurm executor when the job left Slurm's records", () => {
  afterAll(removeTempProjects);
  const project = makeTempProject();
  const executor = createSlurmExecutor({
    runDir: project.runDir,
    cliEntry: FAKE_WORKER,
    extraSbatchArgs: [],
    pollMs: 200,
    env: { PATH: pathWithForgetfulScontrol() },
  });

  it('counts the job as successful when the worker committed its entry', async () => {
    const spec = makeSpec(project, 'forgotten-ok', { progressSteps: 2 });
    const result = await executor.execute(spec, { signal: new AbortController().signal, report: recordingReport() });
    if (!result.ok) throw new Error(result.error.message);
    expect(result.value.entry?.key).toBe(spec.key);
  });

  it('counts it as failed when nothing was committed', async () => {
    const spec = makeSpec(project, 'forgotten-failed', { exitCode: 2 });
    const result = await executor.execute(spec, { signal: new AbortController().signal, report: recordingReport() });
    if (result.ok) throw new Error('expected failure');
    expect(result.error.reason).toBe('internal');
    expect(result.error.message).toMatch(/left Slurm's records .* no action-cache entry/);
    expect(result.error.logTail).toContain('failing on purpose with 2');
  });
});
