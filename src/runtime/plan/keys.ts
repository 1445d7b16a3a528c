import { computeStepKey } from '../../artifacts/canonical.js';
import type { KeyComponents, StepKey } from '../../artifacts/types.js';
import type { StepInstance } from '../pipeline.js';

/**
 * Key parts of one step. Deps produced by an upstream step are represented by that step's key
 * (provenance), so keys of a whole pipeline are known before anything runs.
 */
export function keyComponents(
  step: StepInstance,
  depHashes: Readonly<Record<string, string>>,
  upstreamKeys: Readonly<Record<string, string>>,
  code: string | undefined,
): KeyComponents {
  return {
    keySchema: 1,
    kind: step.kind,
    kindVersion: step.kindVersion,
    command: step.command,
    with: step.with,
    params: step.params,
    deps: depHashes,
    upstream: upstreamKeys,
    env: step.envKey,
    outs: step.outs.map((o) => o.path).sort(),
    ...(code !== undefined ? { code } : {}),
  };
}

export function stepKey(components: KeyComponents): StepKey {
  return computeStepKey(components);
}

/** Deps not produced by any step: these are hashed from disk. */
export function externalDeps(step: StepInstance, outputsByStep: ReadonlyMap<string, readonly string[]>): string[] {
  return step.deps.filter(
    (dep) => !step.needs.some((need) => (outputsByStep.get(need) ?? []).some((out) => dep === out || dep.startsWith(`${out}/`))),
  );
}
