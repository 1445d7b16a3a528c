import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createSlurmExecutor } from '../../src/runtime/executors/slurm.js';
import {
  FAKE_WORKER,
  scancelOutsideExecutor,
  clusterUnavailableReason,
  makeSpec,
  makeTempProject,
  queueState,
  recordingReport,
  scontrolState,
  submitForeignJob,
  removeTempProjects,
} from './helpers.js';

const unavailable = clusterUnavailableReason();
if (unavailable) console.warn(`[slurm tests skipped] ${unavailable}`);

function jobIdFromProgress(messages: readonly (string | undefined)[]): string | undefined {
  for (const m of messages) {
    const id = /submitted as Slurm job (\d+)/.exec(m ?? '')?.[1];
    if (id) return id;
  }
  return undefined;
}

describe.skipIf(unavailable !== null)('Slurm executor on a real cluster', () => {
  const project = makeTempProject();
  const executor = createSlurmExecutor({ runDir: project.runDir, cliEntry: FAKE_WORKER, extraSbatchArgs: [], pollMs: 200 });
  const foreignJobs: string[] = [];
  afterAll(async () => {
    foreignJobs.forEach(scancelOutsideExecutor);
    await executor.shutdown();
    removeTempProjects();
  });

  it('runs a job, forwards protocol progress and metrics, and returns the committed entry', async () => {
    const spec = makeSpec(project, 'train@model=a', { progressSteps: 3, sleepMs: 300 });
    const report = recordingReport();
    const result = await executor.execute(spec, { signal: new AbortController().signal, report });
    if (!result.ok) throw new Error(`expected success: ${result.error.message}\n${result.error.logTail}`);
    expect(result.value.jobId).toMatch(/^\d+$/);
    expect(result.value.entry?.key).toBe(spec.key);
    expect(result.value.entry?.producer.jobId).toBe(result.value.jobId);
    expect(scontrolState(result.value.jobId ?? '')).toBe('COMPLETED');
    const epochs = report.progressSeen.filter((p) => p.label === 'epoch').map((p) => p.current);
    expect(epochs).toEqual([1, 2, 3]);
    expect(report.metricsSeen.map((m) => m.step)).toEqual([1, 2, 3]);
    expect(readFileSync(spec.logPath, 'utf8')).toContain(`fake worker for ${spec.id} in job ${result.value.jobId}`);
  });

  it('finds the log of a project whose path contains % (no %j expansion by sbatch)', async () => {
    const odd = makeTempProject('blu-slurm-100%j-');
    const spec = makeSpec(odd, 'odd', { progressSteps: 2 });
    const report = recordingReport();
    const result = await createSlurmExecutor({ runDir: odd.runDir, cliEntry: FAKE_WORKER, extraSbatchArgs: [], pollMs: 200 }).execute(
      spec,
      { signal: new AbortController().signal, report },
    );
    expect(result.ok).toBe(true);
    expect(report.progressSeen.filter((p) => p.label === 'epoch')).toHaveLength(2);
    expect(readFileSync(spec.logPath, 'utf8')).toContain('fake worker done');
  });

  it('returns a null entry for a cache: false step', async () => {
    const spec = makeSpec(project, 'report', {}, { cache: false });
    const result = await executor.execute(spec, { signal: new AbortController().signal, report: recordingReport() });
    expect(result.ok && result.value.entry).toBeNull();
  });

  it('reports a failing job with its exit code, job id and log tail', async () => {
    const spec = makeSpec(project, 'broken', { noiseLines: 50, exitCode: 3 });
    const result = await executor.execute(spec, { signal: new AbortController().signal, report: recordingReport() });
    if (result.ok) throw new Error('expected failure');
    expect(result.error).toMatchObject({ reason: 'exit-non-zero', exitCode: 3, logPath: spec.logPath });
    expect(scontrolState(result.error.jobId ?? '')).toBe('FAILED');
    const tail = (result.error.logTail ?? '').split('\n');
    expect(tail).toHaveLength(30);
    expect(tail.at(-1)).toBe('blu-pipe: fake worker failing on purpose with 3');
    expect(result.error.message).toMatch(/exited with code 3 .*: fake worker failing on purpose with 3$/);
    expect(tail).not.toContain('noise line 1');
  });

  it("fails to submit an impossible request with sbatch's own message", async () => {
    const spec = makeSpec(project, 'too-big', {}, { resources: { cpus: 4096 } });
    const result = await executor.execute(spec, { signal: new AbortController().signal, report: recordingReport() });
    if (result.ok) throw new Error('expected failure');
    expect(result.error.reason).toBe('spawn-failed');
    expect(result.error.message).toMatch(/sbatch failed/);
  });

  it('cancels only its own job when the signal aborts, leaving a foreign job alone', async () => {
    const foreign = submitForeignJob(120);
    foreignJobs.push(foreign);
    const controller = new AbortController();
    // Abort once the worker has printed its first protocol line, i.e. the job really runs.
    const report = recordingReport((p) => p.label === 'epoch' && controller.abort());
    const spec = makeSpec(project, 'long', { progressSteps: 1, sleepMs: 120_000 });
    const result = await executor.execute(spec, { signal: controller.signal, report });
    if (result.ok) throw new Error('expected cancellation');
    const ours = jobIdFromProgress(report.progressSeen.map((p) => p.message));
    expect(result.error.reason).toBe('cancelled');
    expect(result.error.jobId).toBe(ours);
    expect(queueState(ours ?? '')).toBe('');
    expect(scontrolState(ours ?? '')).toBe('CANCELLED');
    expect(['RUNNING', 'PENDING']).toContain(queueState(foreign));
  });

  it('reports a job cancelled by someone else as a failure, not as our cancellation', async () => {
    // scancel from outside once the worker runs (its first protocol line arrived).
    const report = recordingReport((p) => {
      const id = p.label === 'epoch' ? jobIdFromProgress(report.progressSeen.map((q) => q.message)) : undefined;
      if (id) scancelOutsideExecutor(id);
    });
    const result = await executor.execute(makeSpec(project, 'victim', { progressSteps: 1, sleepMs: 120_000 }), {
      signal: new AbortController().signal,
      report,
    });
    if (result.ok) throw new Error('expected failure');
    expect(result.error).toMatchObject({ reason: 'signal', message: expect.stringMatching(/cancelled outside blu-pipe/) });
    expect(scontrolState(result.error.jobId ?? '')).toBe('CANCELLED');
  });

  it('shutdown() cancels every job still tracked', async () => {
    const other = createSlurmExecutor({ runDir: project.runDir, cliEntry: FAKE_WORKER, extraSbatchArgs: [], pollMs: 200 });
    const reports = [recordingReport(), recordingReport()];
    const runs = reports.map((report, i) =>
      other.execute(makeSpec(project, `fan@i=${i}`, { sleepMs: 120_000 }), { signal: new AbortController().signal, report }),
    );
    // Wait until both are submitted (their first progress line), then shut down.
    while (reports.some((r) => jobIdFromProgress(r.progressSeen.map((p) => p.message)) === undefined)) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await other.shutdown();
    const results = await Promise.all(runs);
    for (const [i, result] of results.entries()) {
      const id = jobIdFromProgress(reports[i]?.progressSeen.map((p) => p.message) ?? []);
      expect(result.ok ? 'ok' : result.error.reason).toBe('cancelled');
      expect(queueState(id ?? '')).toBe('');
    }
  });

  it('shutdown() during a submission still cancels the job once sbatch returns', async () => {
    const other = createSlurmExecutor({ runDir: project.runDir, cliEntry: FAKE_WORKER, extraSbatchArgs: [], pollMs: 200 });
    const report = recordingReport();
    const run = other.execute(makeSpec(project, 'late', { sleepMs: 120_000 }), { signal: new AbortController().signal, report });
    await other.shutdown(); // nothing tracked yet: sbatch has not returned
    const result = await run;
    const id = jobIdFromProgress(report.progressSeen.map((p) => p.message));
    expect(id).toMatch(/^\d+$/);
    expect(result.ok ? 'ok' : result.error.reason).toBe('cancelled');
    expect(queueState(id ?? '')).toBe('');
  });
});
