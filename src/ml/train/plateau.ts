/**
 * The convergence rule of the full-precision models (issue 22): a trailing mean of the validation
 * metric picks the kept weights, and a plateau of that mean first lowers the learning rate, then
 * stops training. Pure (no tfjs), so it is the same on every backend and for every seed: the
 * decisions depend only on the sequence of validation values.
 */

/** Smoothing of the validation metric; also used without the stopping rule (checkpoint choice only). */
export interface Smoothing {
  /** Validations in the trailing mean (1 = raw values). */
  readonly window: number;
}

export interface PlateauRule {
  /** Validations in a row without the smoothed value beating its reference by more than minDelta. */
  readonly patience: number;
  readonly minDelta: number;
  /** Plateaus answered with lr × lrFactor before the one that stops. */
  readonly lrDrops: number;
  readonly lrFactor: number;
  /** No decision (drop or stop) before this many validations. */
  readonly minValidations: number;
  /**
   * Smoothed values at or below this never count toward a plateau: a model still at the
   * all-background solution (val IoU 0) has not started to learn, it has not converged.
   */
  readonly floor?: number;
}

export interface PlateauState {
  /** Smoothed value that the next improvement must beat by more than minDelta (NaN: none yet). */
  readonly reference: number;
  /** Validations since the reference was last raised. */
  readonly since: number;
  readonly drops: number;
}

export type PlateauAction = 'continue' | 'drop-lr' | 'stop';

export const PLATEAU_START: PlateauState = { reference: Number.NaN, since: 0, drops: 0 };

/** Mean of the last `window` values (all of them while fewer); NaN when one of them is (a NaN never looks good). */
export function trailingMean(values: readonly number[], window: number): number {
  const tail = values.slice(Math.max(0, values.length - Math.max(1, window)));
  if (tail.length === 0) return Number.NaN;
  return tail.reduce((a, v) => a + v, 0) / tail.length;
}

/**
 * One validation's decision. `smoothed` is the trailing mean after this validation (higher is
 * better) and `validations` the count so far. Values at the floor are skipped. Raising the reference resets the count; a plateau
 * after minValidations drops the lr while drops remain (and restarts the count), else stops.
 */
export function plateauStep(
  state: PlateauState,
  rule: PlateauRule,
  smoothed: number,
  validations: number,
): { state: PlateauState; action: PlateauAction } {
  if (rule.floor !== undefined && smoothed <= rule.floor) return { state, action: 'continue' };
  if (Number.isNaN(state.reference) || smoothed > state.reference + rule.minDelta) {
    return { state: { ...state, reference: smoothed, since: 0 }, action: 'continue' };
  }
  const since = state.since + 1;
  if (since < rule.patience || validations < rule.minValidations) return { state: { ...state, since }, action: 'continue' };
  if (state.drops < rule.lrDrops) return { state: { ...state, since: 0, drops: state.drops + 1 }, action: 'drop-lr' };
  return { state: { ...state, since }, action: 'stop' };
}
