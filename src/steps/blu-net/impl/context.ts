/** Helpers every BLU-Net step implementation uses: backend, upstream artifacts, JSON files, reporting. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BackendInfo } from '../../../ml/backend/index.js';
import { err, ok, type Result } from '../../../base/result.js';
import type { UpstreamOutputs } from '../../../runtime/step-spec.js';
import type { StepRunContext, StepRunFailure } from '../../../runtime/kinds/kind.js';
import { artifactPath } from '../common.js';

export type StepResult<T> = Result<T, StepRunFailure>;

export function failure(message: string): StepResult<never> {
  return err({ message });
}

/**
 * Every implementation that computes starts here: picks the backend from BLU_BACKEND (default auto).
 * Imported lazily so steps that only read JSON (report) never load TensorFlow.js.
 */
export async function startBackend(ctx: StepRunContext): Promise<StepResult<BackendInfo>> {
  const { initBackend } = await import('../../../ml/backend/index.js');
  const backend = await initBackend(parseBackend(process.env.BLU_BACKEND));
  if (!backend.ok) return failure(backend.error.message);
  const b = backend.value;
  const setup = b.native
    ? `TensorFlow ${b.native.tfVersion}, oneDNN ${b.native.onednn}, threads: ${b.native.threads}`
    : `threads ${b.threads}, simd ${b.simd}`;
  ctx.log(`backend: ${b.name} (${b.reason}; ${setup})`);
  return backend;
}

function parseBackend(value: string | undefined): 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu' {
  const known = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
  return known.find((k) => k === value) ?? 'auto';
}

/** Upstream instances of `ref`: the instance with that id, or every matrix instance of that step name. */
export function upstreamsOf(ctx: StepRunContext, ref: string): UpstreamOutputs[] {
  const all = Object.values(ctx.spec.upstream);
  const exact = all.filter((u) => u.stepId === ref);
  return exact.length > 0 ? exact : all.filter((u) => u.stepId.startsWith(`${ref}@`));
}

/** Absolute path of artifact `name` of upstream `ref` (one instance), checked against its committed outputs. */
export function upstreamArtifact(ctx: StepRunContext, ref: string, name: string): StepResult<string> {
  const [first, ...rest] = upstreamsOf(ctx, ref);
  if (!first || rest.length > 0) return failure(`expected exactly one upstream step '${ref}', found ${rest.length + (first ? 1 : 0)}`);
  return artifactOf(ctx, first, name);
}

export function artifactOf(ctx: StepRunContext, upstream: UpstreamOutputs, name: string): StepResult<string> {
  const wanted = artifactPath(upstream.stepId, name);
  const found = upstream.outputs.find((o) => o.path === wanted);
  if (!found) return failure(`upstream step '${upstream.stepId}' has no output '${wanted}'`);
  return { ok: true, value: ctx.resolve(found.path) };
}

/** Absolute path of this step's own declared artifact `name`. */
export function ownArtifact(ctx: StepRunContext, name: string): string {
  return ctx.resolve(artifactPath(ctx.spec.id, name));
}

export async function writeJson(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Reads a JSON file written by another BLU-Net step; `guard` checks the shape. */
export async function readJson<T>(file: string, guard: (value: unknown) => value is T): Promise<StepResult<T>> {
  try {
    const value: unknown = JSON.parse(await readFile(file, 'utf8'));
    return guard(value) ? ok(value) : failure(`${file} does not have the expected shape`);
  } catch (cause) {
    return failure(`cannot read ${file}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reports a metric now (the runtime adds it to the step's series and to MLflow). */
export function metric(ctx: StepRunContext, name: string, value: number, step = 0): void {
  ctx.report.metric(name, value, step, Date.now());
}

/** Thrown inside training callbacks to stop between batches; the trainers turn it into an error result. */
export function throwIfAborted(ctx: StepRunContext): void {
  if (ctx.signal.aborted) throw new Error('cancelled');
}

/** A collapsed model is a warning in the log and the terminal, a tag in MLflow and a mark in its info. */
export function reportCollapse(ctx: StepRunContext, label: string, reason: string): void {
  ctx.log(`WARNING: ${label} collapsed: ${reason}`);
  ctx.report.tag('blu.collapsed', reason);
  ctx.report.tag('blu.warning', `${label} collapsed: ${reason}`);
}
