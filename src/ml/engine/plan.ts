/**
 * The order and shapes of the records in a packed BLU-Net file, derived from its options alone
 * (no tfjs). It mirrors the layer creation order of models/topology.ts, which is the order
 * models/packed.ts writes; a test checks the two agree. A 'separable' record holds the inner
 * activation's gammas too when the header option separableBinarise is set (model.ts reads them
 * between the depthwise and pointwise blocks), so the order of records does not depend on it.
 */
import type { PackedOptions } from '../models/packed-format.js';

export type PlanRecord =
  | { readonly kind: 'conv'; readonly name: string; readonly k: number; readonly cin: number; readonly filters: number }
  | { readonly kind: 'separable'; readonly name: string; readonly k: number; readonly cin: number; readonly filters: number }
  | { readonly kind: 'activation'; readonly name: string; readonly channels: number };

const ACT = '_BinarySignActivation';
const SEP = 'BinaryLightweight_';

/** Every binary record in file order. */
export function packedRecordPlan(o: Pick<PackedOptions, 'baseFilters' | 'levels'>): PlanRecord[] {
  const filtersAt = (level: number) => o.baseFilters * 2 ** level;
  const out: PlanRecord[] = [];
  const withAct = (r: Exclude<PlanRecord, { kind: 'activation' }>) =>
    out.push(r, { kind: 'activation', name: `${r.name}${ACT}`, channels: r.filters });
  withAct({ kind: 'conv', name: 'Level0_BinaryConv2D_1', k: 3, cin: 1, filters: filtersAt(0) });
  withAct({ kind: 'conv', name: 'Level0_BinaryConv2D_2', k: 3, cin: filtersAt(0), filters: filtersAt(0) });
  for (let n = 1; n < o.levels; n++) {
    const name = (i: number) => `Level${n}_${SEP}Contracting_BinarySeparableConv2D_${i}`;
    withAct({ kind: 'separable', name: name(1), k: 3, cin: filtersAt(n - 1), filters: filtersAt(n) });
    withAct({ kind: 'separable', name: name(2), k: 3, cin: filtersAt(n), filters: filtersAt(n) });
  }
  for (let n = o.levels - 2; n >= 0; n--) {
    const name = (i: number) => `Level${n}_${SEP}Expanding_BinarySeparableConv2D_${i}`;
    withAct({ kind: 'separable', name: name(1), k: 2, cin: filtersAt(n + 1), filters: filtersAt(n) });
    withAct({ kind: 'separable', name: name(2), k: 3, cin: 2 * filtersAt(n), filters: filtersAt(n) });
    withAct({ kind: 'separable', name: name(3), k: 3, cin: filtersAt(n), filters: filtersAt(n) });
  }
  out.push({ kind: 'conv', name: 'logit_output', k: 1, cin: filtersAt(0), filters: 1 });
  return out;
}
