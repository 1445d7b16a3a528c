// Own file so that vitest runs it beside executor.test.ts: a Slurm time limit has 1-minute
// granularity and is enforced up to ~30 s late, so this test alone takes 60-90 s.
import { afterAll, describe, expect, it } from 'vitest';
import { createSlurmExecutor } from '../../src/runtime/executors/slurm.js';
import {
  FAKE_WORKER,
  clusterUnavailableReason,
  makeSpec,
  makeTempProject,
  recordingReport,
  scontrolState,
  removeTempProjects,
} from './helpers.js';

const unavailable = clusterUnavailableReason();

describe.skipIf(unavailable !== null)('Slurm executor time limit', () => {
  afterAll(removeTempProjects);
  it('reports a job killed at its time limit as timeout', { timeout: 150_000 }, async () => {
    const project = makeTempProject();
    const executor = createSlurmExecutor({ runDir: project.runDir, cliEntry: FAKE_WORKER, extraSbatchArgs: [], pollMs: 1000 });
    // timeoutMs 5 s → --time=0:05, which Slurm rounds up to one minute.
    const spec = makeSpec(project, 'slow', { progressSteps: 1, sleepMs: 600_000 }, { timeoutMs: 5_000 });
    const result = await executor.execute(spec, { signal: new AbortController().signal, report: recordingReport() });
    await executor.shutdown();
    if (result.ok) throw new Error('expected a timeout');
    expect(result.error.reason).toBe('timeout');
    expect(scontrolState(result.error.jobId ?? '')).toBe('TIMEOUT');
    expect(result.error.logTail).toContain('fake worker for slow');
  });
});
