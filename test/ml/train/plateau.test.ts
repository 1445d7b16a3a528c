/** The convergence rule (issue 22): pure decisions, checked against hand-computed sequences. */
import { describe, expect, it } from 'vitest';
import { PLATEAU_START, plateauStep, trailingMean, type PlateauAction, type PlateauRule } from '../../../src/ml/train/plateau.js';

/** Feeds smoothed values through the rule; returns each validation's action and the final state. */
function run(values: readonly number[], rule: PlateauRule): PlateauAction[] {
  let state = PLATEAU_START;
  return values.map((v, i) => {
    const decided = plateauStep(state, rule, v, i + 1);
    state = decided.state;
    return decided.action;
  });
}

const RULE: PlateauRule = { patience: 2, minDelta: 0.01, lrDrops: 1, lrFactor: 0.5, minValidations: 0 };

describe('trailing mean', () => {
  it('averages the last `window` values, all of them while fewer', () => {
    expect(trailingMean([1, 2, 3, 4], 3)).toBe(3);
    expect(trailingMean([1, 2, 3, 4], 10)).toBe(2.5);
    expect(trailingMean([0.5], 4)).toBe(0.5);
    expect(trailingMean([1, 2, 3, 4], 1)).toBe(4);
  });

  it('is NaN without values or with a NaN in the window (a NaN never looks good)', () => {
    expect(trailingMean([], 3)).toBeNaN();
    expect(trailingMean([1, Number.NaN, 3], 2)).toBeNaN();
    expect(trailingMean([Number.NaN, 2, 4], 2)).toBe(3);
  });
});

describe('plateau rule', () => {
  it('drops the lr at the first plateau and stops at the second', () => {
    // 0.5 sets the reference; 0.6 beats it by > 0.01; 0.605 and 0.6 do not (2 = patience) → drop;
    // 0.615 beats 0.6 + 0.01 → new reference; 0.62 twice does not beat 0.625 → stop.
    expect(run([0.5, 0.6, 0.605, 0.6, 0.615, 0.62, 0.62], RULE)).toEqual([
      'continue',
      'continue',
      'continue',
      'drop-lr',
      'continue',
      'continue',
      'stop',
    ]);
  });

  it('stops at the first plateau without lr drops', () => {
    expect(run([0.5, 0.505, 0.51], { ...RULE, lrDrops: 0 })).toEqual(['continue', 'continue', 'stop']);
  });

  it('counts an improvement of exactly min_delta as none', () => {
    expect(run([0.5, 0.75, 0.75], { ...RULE, minDelta: 0.25, lrDrops: 0 })).toEqual(['continue', 'continue', 'stop']);
  });

  it('decides nothing before minValidations, and an improvement then resets the count', () => {
    const rule = { ...RULE, minValidations: 5 };
    // At validation 4 the count (2) has reached patience, but 4 < 5; 0.615 then beats 0.6 + 0.01.
    expect(run([0.5, 0.6, 0.6, 0.6, 0.615, 0.615, 0.615], rule)).toEqual([
      'continue',
      'continue',
      'continue',
      'continue',
      'continue',
      'continue',
      'drop-lr',
    ]);
  });

  it('is decided by the values alone (the same sequence, the same decisions)', () => {
    const values = Array.from({ length: 40 }, (_, i) => Math.sin(i / 3) * 0.1 + i / 100);
    expect(run(values, RULE)).toEqual(run(values, RULE));
  });
});

describe('plateau rule floor', () => {
  it('does not count validations at or below the floor (a model that has not left val IoU 0 has not converged)', () => {
    const rule = { ...RULE, lrDrops: 0, floor: 0.001 };
    expect(run([0, 0, 0, 0, 0.3, 0.3, 0.3], rule)).toEqual([
      'continue',
      'continue',
      'continue',
      'continue',
      'continue',
      'continue',
      'stop',
    ]);
    // Without a floor, the zeros plateau.
    expect(run([0, 0, 0], { ...RULE, lrDrops: 0 })).toEqual(['continue', 'continue', 'stop']);
  });
});
