/**
 * Pure builders for what the Slurm executor hands to `sbatch`: the argv (never a shell string),
 * the job name and the one-line batch script. Kept free of I/O so they can be unit-tested.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { StepResources, StepSpec } from '../step-spec.js';

/** Slurm truncates nothing itself but long names make `squeue` unreadable. */
const MAX_JOB_NAME = 120;

/** A file-name stem for a step id: readable part + short hash so that `a/b` and `a_b` differ. */
export function safeFileStem(stepId: string): string {
  const readable = stepId.replace(/[^A-Za-z0-9._@=-]/g, '_').slice(0, 80);
  const digest = createHash('sha256').update(stepId).digest('hex').slice(0, 8);
  return `${readable}-${digest}`;
}

/** `blu:<project>/<step id>` with anything unusual replaced, so squeue output stays parseable. */
export function slurmJobName(spec: Pick<StepSpec, 'projectDir' | 'id'>): string {
  const project = path.basename(spec.projectDir) || 'project';
  const raw = `blu:${project}/${spec.id}`;
  return raw.replace(/[^A-Za-z0-9._:/@=+-]/g, '_').slice(0, MAX_JOB_NAME);
}

/** Milliseconds → Slurm "minutes:seconds" (Slurm itself rounds up to whole minutes). */
export function timeLimitFromMs(ms: number): string {
  const totalSeconds = Math.max(1, Math.ceil(ms / 1000));
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = totalSeconds % 60;
  return `${minutes}:${String(seconds).padStart(2, '0')}`;
}

/** Declared resources → sbatch options; `custom` budgets are local-only and not mapped. */
export function resourceArgs(resources: StepResources, timeoutMs: number | null): string[] {
  const args: string[] = [];
  if (resources.cpus === 'all') args.push('--exclusive');
  else if (resources.cpus !== undefined) args.push(`--cpus-per-task=${resources.cpus}`);
  if (resources.mem !== undefined) args.push(`--mem=${resources.mem}`);
  if (resources.gpus !== undefined) args.push(`--gpus=${resources.gpus}`);
  if (resources.time !== undefined) args.push(`--time=${resources.time}`);
  else if (timeoutMs !== null) args.push(`--time=${timeLimitFromMs(timeoutMs)}`);
  if (resources.partition !== undefined) args.push(`--partition=${resources.partition}`);
  return args;
}

export interface SbatchInput {
  readonly spec: Pick<StepSpec, 'id' | 'projectDir' | 'logPath' | 'resources' | 'timeoutMs'>;
  readonly scriptPath: string;
  readonly extraSbatchArgs: readonly string[];
}

/**
 * The full `sbatch` argv. Order matters: later options win in sbatch, so step-level
 * `resources.sbatch` can override the mapped ones and executor-level extras override both.
 * `--no-requeue`: a job Slurm silently re-runs would rewrite its log and outputs behind the
 * scheduler's back; node failures are reported instead and the run's retry policy decides.
 */
export function buildSbatchArgv(input: SbatchInput): string[] {
  const { spec } = input;
  return [
    '--parsable',
    `--job-name=${slurmJobName(spec)}`,
    `--output=${escapeFilenamePattern(spec.logPath)}`,
    `--error=${escapeFilenamePattern(spec.logPath)}`,
    `--chdir=${spec.projectDir}`,
    '--no-requeue',
    ...resourceArgs(spec.resources, spec.timeoutMs),
    ...(spec.resources.sbatch ?? []),
    ...input.extraSbatchArgs,
    input.scriptPath,
  ];
}

/** sbatch expands `%j`, `%x`, … in --output/--error; `%%` is a literal `%` (a path may contain one). */
export function escapeFilenamePattern(filePath: string): string {
  return filePath.replace(/%/g, '%%');
}

/** POSIX single-quoting: the only way a path reaches shell text. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The batch script: nothing but absolute, quoted paths; no user-controlled string. */
export function renderBatchScript(nodeBin: string, cliEntry: string, specPath: string): string {
  const entry = path.resolve(cliEntry);
  const spec = path.resolve(specPath);
  return ['#!/bin/sh', `exec ${shellQuote(nodeBin)} ${shellQuote(entry)} exec-step ${shellQuote(spec)}`, ''].join('\n');
}
