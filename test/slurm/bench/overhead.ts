/**
 * Benchmark: what the Slurm executor adds per step on a real cluster (fake no-op worker).
 * Prints figures; asserts nothing. Run from the project root with the cluster up:
 *   B=/tmp/blu-slurm-bench; npx tsc --outDir $B --module nodenext --moduleResolution nodenext \
 *     --target es2022 --skipLibCheck --strict --types node test/slurm/bench/overhead.ts
 *   echo '{"type":"module"}' > $B/package.json; ln -sfn "$PWD/node_modules" $B/node_modules
 *   node $B/test/slurm/bench/overhead.js
 */
import path from 'node:path';
import { createSlurmExecutor } from '../../../src/runtime/executors/slurm.js';
import { clusterUnavailableReason, makeSpec, makeTempProject, recordingReport } from '../helpers.js';

const worker = path.resolve('test/slurm/fixtures/fake-exec-step.mjs');
const POLL_MS = Number(process.env.BLU_BENCH_POLL_MS ?? 250);

function stats(samples: readonly number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  return `min ${sorted[0]?.toFixed(0)} ms, median ${median.toFixed(0)} ms, max ${sorted.at(-1)?.toFixed(0)} ms (n=${sorted.length})`;
}

async function main(): Promise<void> {
  const unavailable = clusterUnavailableReason();
  if (unavailable) {
    console.error(`no cluster: ${unavailable}`);
    process.exitCode = 1;
    return;
  }
  const project = makeTempProject();
  const executor = createSlurmExecutor({ runDir: project.runDir, cliEntry: worker, extraSbatchArgs: [], pollMs: POLL_MS });
  const never = new AbortController().signal;

  const sequential: number[] = [];
  for (let i = 0; i < 6; i += 1) {
    const started = performance.now();
    const result = await executor.execute(makeSpec(project, `seq@i=${i}`, {}), { signal: never, report: recordingReport() });
    if (!result.ok) throw new Error(result.error.message);
    sequential.push(performance.now() - started);
  }
  console.log(`no-op step, execute() → success, one at a time (pollMs ${POLL_MS}): ${stats(sequential)}`);

  const fanOut = 16;
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: fanOut }, (_, i) =>
      executor.execute(makeSpec(project, `fan@i=${i}`, {}), { signal: never, report: recordingReport() }),
    ),
  );
  const failed = results.filter((r) => !r.ok).length;
  console.log(`${fanOut} no-op steps at once: all done in ${(performance.now() - started).toFixed(0)} ms (${failed} failed)`);

  const cancels: number[] = [];
  for (let i = 0; i < 3; i += 1) {
    const controller = new AbortController();
    let abortedAt = 0;
    const report = recordingReport((p) => {
      if (p.label === 'epoch') {
        abortedAt = performance.now();
        controller.abort();
      }
    });
    await executor.execute(makeSpec(project, `cancel@i=${i}`, { progressSteps: 1, sleepMs: 60_000 }), {
      signal: controller.signal,
      report,
    });
    cancels.push(performance.now() - abortedAt);
  }
  console.log(`abort of a running step → cancelled and gone from squeue: ${stats(cancels)}`);
  await executor.shutdown();
}

await main();
