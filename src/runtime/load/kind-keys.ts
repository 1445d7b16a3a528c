/**
 * Keys a step kind accepts inside a param mapping the pipeline passes to it whole
 * (`train: ${params.binarise}` with `binarise`'s `train` schema listing `loss`), so an overlay or
 * `--set` may give an optional kind setting the pipeline does not declare, without declaring it
 * there first (which would change the keys of every step reading the mapping). A key no kind lists
 * is still an unknown param: the typo guard stays.
 */
import type { JsonValue } from '../../base/result.js';
import type { RawPipeline } from '../../schemas/types.js';
import type { StepKindRegistry } from '../kinds/kind.js';
import { wholeReference } from './interpolate.js';

/** For a param path (dotted), the keys some kind's `with:` schema lists for the mapping it is given as. */
export type KindKeys = (param: string) => ReadonlySet<string>;

function schemaKeys(schema: unknown): string[] {
  if (schema === null || typeof schema !== 'object') return [];
  const properties = (schema as { properties?: unknown }).properties;
  return properties !== null && typeof properties === 'object' ? Object.keys(properties) : [];
}

/** The params a `with:` value names as a whole reference, in any alternative (`${a ?? params.p}`). */
function wholeParamRefs(value: JsonValue | undefined): string[] {
  const ref = typeof value === 'string' ? wholeReference(value) : undefined;
  if (ref === undefined) return [];
  return [ref, ...(ref.fallbacks ?? [])].filter((r) => r.scope === 'params').map((r) => r.path);
}

export function kindKeysOf(raw: RawPipeline, registry: StepKindRegistry): KindKeys {
  const byParam = new Map<string, Set<string>>();
  for (const step of Object.values(raw.steps ?? {})) {
    const kind = step.uses === undefined ? undefined : registry.get(step.uses);
    if (kind === undefined || step.with === undefined) continue;
    const properties = (kind.withSchema as { properties?: Record<string, unknown> }).properties ?? {};
    for (const [key, value] of Object.entries(step.with)) {
      const keys = schemaKeys(properties[key]);
      for (const param of wholeParamRefs(value)) {
        const set = byParam.get(param) ?? new Set<string>();
        for (const k of keys) set.add(k);
        byParam.set(param, set);
      }
    }
  }
  return (param) => byParam.get(param) ?? new Set();
}
