/** A synthetic event stream for a three-step pipeline run, with real files for its artifacts. */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunEvent } from '../../src/runtime/events.js';
import type { StepKey } from '../../src/artifacts/types.js';
import type { PipelineRunInfo, TrackingSettings } from '../../src/tracking/tracker.js';

export const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

export async function makeProject(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'blu-tracking-'));
}

export function runInfo(projectDir: string, runId: string, overrides: Partial<PipelineRunInfo> = {}): PipelineRunInfo {
  return {
    runId,
    projectDir,
    pipelineFile: 'pipeline.yaml',
    pipelineName: 'seg',
    commandLine: ['blu-pipe', 'run', '-x', 'small'],
    experimentOverlays: ['small'],
    gitCommit: 'abc123',
    gitDirty: false,
    bluPipeVersion: '0.1.0',
    executor: 'local',
    backend: 'wasm',
    host: 'node1',
    params: { seed: 7, data: { size: 64 } },
    ...overrides,
  };
}

export const settings = (trackingUri: string | null, experimentName = 'seg-exp'): TrackingSettings => ({
  trackingUri,
  experimentName,
  enabled: true,
});

const key = (s: string): StepKey => s.padEnd(64, '0') as StepKey;

export interface StreamOptions {
  readonly runId: string;
  readonly t0?: number;
  /** Learning rate of train: a different value makes a params diff in compare. */
  readonly lr?: number;
  readonly losses?: readonly number[];
  /** The run of an earlier run that produced prepare's outputs. */
  readonly prepareSource?: string;
  readonly extraMetrics?: number;
}

/** Writes the step logs and outputs the events refer to, then returns the events. */
export async function pipelineEvents(projectDir: string, options: StreamOptions): Promise<RunEvent[]> {
  const t0 = options.t0 ?? T0;
  const logs = path.join(projectDir, '.blu', 'logs', options.runId);
  await fs.mkdir(path.join(projectDir, 'out', 'plots'), { recursive: true });
  await fs.mkdir(logs, { recursive: true });
  await fs.writeFile(path.join(projectDir, 'out', 'model.json'), '{"weights":[1,2,3]}');
  await fs.writeFile(path.join(projectDir, 'out', 'plots', 'loss.csv'), 'epoch,loss\n0,0.9\n');
  await fs.writeFile(path.join(logs, 'train.log'), 'training…\n');
  await fs.writeFile(path.join(logs, 'eval.log'), 'eval\n');
  const losses = options.losses ?? [0.9, 0.6, 0.4];
  const trainParams = { lr: options.lr ?? 0.01, model: { depth: 3, name: 'unet' }, 'bad key?': 'x' };
  const events: RunEvent[] = [
    {
      type: 'run-start',
      runId: options.runId,
      pipelineFile: 'pipeline.yaml',
      pipelineName: 'seg',
      time: t0,
      steps: [
        { id: 'prepare', action: 'restore' },
        { id: 'train', action: 'run' },
        { id: 'eval', action: 'run' },
      ],
    },
    {
      type: 'step-queued',
      stepId: 'prepare',
      kind: 'shell',
      key: key('aa'),
      params: { size: 64 },
      action: 'restore',
      reasons: [],
      time: t0 + 10,
    },
    {
      type: 'step-end',
      stepId: 'prepare',
      outcome: 'restored',
      key: key('aa'),
      durationMs: 5,
      metrics: { images: 42 },
      source: { runId: options.prepareSource ?? 'r-older', stepId: 'prepare', finishedAt: '2025-12-31T00:00:00Z' },
      artifacts: [],
      time: t0 + 15,
    },
    {
      type: 'step-queued',
      stepId: 'train',
      kind: 'train',
      key: key('bb'),
      params: trainParams,
      action: 'run',
      reasons: [{ kind: 'never-run' }],
      time: t0 + 20,
    },
    {
      type: 'step-start',
      stepId: 'train',
      kind: 'train',
      key: key('bb'),
      params: trainParams,
      logPath: path.join(logs, 'train.log'),
      attempt: 1,
      time: t0 + 1000,
    },
    ...losses.map(
      (loss, step): RunEvent => ({ type: 'step-metric', stepId: 'train', name: 'loss', value: loss, step, time: t0 + 2000 + step * 1000 }),
    ),
    ...Array.from(
      { length: options.extraMetrics ?? 0 },
      (_, i): RunEvent => ({ type: 'step-metric', stepId: 'train', name: 'batch_loss', value: 1 / (i + 1), step: i, time: t0 + 5000 + i }),
    ),
    { type: 'step-metric', stepId: 'train', name: 'val/acc', value: 0.71, step: 2, time: t0 + 4500 },
    { type: 'step-metric', stepId: 'train', name: 'grad norm!', value: NaN, step: 2, time: t0 + 4600 },
    {
      type: 'step-end',
      stepId: 'train',
      outcome: 'ran',
      key: key('bb'),
      durationMs: 4000,
      metrics: { loss: losses.at(-1) ?? 0, 'val/acc': 0.71, best_epoch: 2 },
      ...(losses.length > 1 ? { curves: ['loss'] } : {}),
      artifacts: [path.join(projectDir, 'out', 'model.json'), path.join(projectDir, 'out', 'plots')],
      logPath: path.join(logs, 'train.log'),
      time: t0 + 5000,
    },
    { type: 'step-queued', stepId: 'eval', kind: 'shell', key: key('cc'), params: {}, action: 'run', reasons: [], time: t0 + 5010 },
    {
      type: 'step-start',
      stepId: 'eval',
      kind: 'shell',
      key: key('cc'),
      params: {},
      logPath: path.join(logs, 'eval.log'),
      attempt: 1,
      time: t0 + 5100,
    },
    { type: 'step-progress', stepId: 'eval', progress: { message: 'half' }, time: t0 + 5200 },
    {
      type: 'step-end',
      stepId: 'eval',
      outcome: 'ran',
      key: key('cc'),
      durationMs: 900,
      metrics: { dice: 0.8 },
      artifacts: [],
      logPath: path.join(logs, 'eval.log'),
      jobId: '4242',
      time: t0 + 6000,
    },
    {
      type: 'run-end',
      runId: options.runId,
      status: 'succeeded',
      durationMs: 6000,
      time: t0 + 6000,
      counts: { ran: 2, restored: 1, fresh: 0, failed: 0, skipped: 0, cancelled: 0 },
    },
  ];
  return events;
}

/** Every file under a directory: relative path → content ('<dir>' is never listed). */
export async function readTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(path.join(dir, entry.name), childRel);
      else out[childRel] = await fs.readFile(path.join(dir, entry.name), 'utf8');
    }
  };
  await walk(root, '');
  return out;
}

/** Run ids 000…001, 000…002, … so golden paths are stable. */
export function counterIds(start = 0): () => string {
  let n = start;
  return () => (++n).toString(16).padStart(32, '0');
}
