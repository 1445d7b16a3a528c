import { createRng, shuffled } from '../random.js';

export interface ThesisSplitOptions {
  /** Number of validation folds the train+val pool is cut into (thesis: 5). */
  readonly folds: number;
  /** Which fold is validation, 0-based. */
  readonly fold: number;
  /** Seed of the pool reshuffle (thesis: seed=1). */
  readonly seed: number;
  /** Seed of the first shuffle that fixes the test set (thesis: random_state=44). */
  readonly testSeed: number;
  /** How many items form the fixed test set, taken from the end (thesis: 10 of 40). */
  readonly testCount: number;
}

export interface SplitIndices<T> {
  readonly train: T[];
  readonly validation: T[];
  readonly test: T[];
}

/** Cuts items into `parts` consecutive chunks whose sizes differ by at most one (np.array_split). */
export function chunk<T>(items: readonly T[], parts: number): T[][] {
  const base = Math.floor(items.length / parts);
  const extra = items.length % parts;
  const out: T[][] = [];
  let start = 0;
  for (let p = 0; p < parts; p++) {
    const size = base + (p < extra ? 1 : 0);
    out.push(items.slice(start, start + size));
    start += size;
  }
  return out;
}

/**
 * The thesis split (§6): sort, seeded shuffle, last `testCount` are the shared test set, the rest
 * is reshuffled and cut into `folds` chunks; chunk `fold` validates, the others train.
 * Our PRNG is not numpy's, so the same seeds give a different (but fixed) permutation.
 */
export function thesisSplit<T>(items: readonly T[], keyOf: (item: T) => string, options: ThesisSplitOptions): SplitIndices<T> {
  const sorted = items.slice().sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  const order = shuffled(sorted, createRng(options.testSeed));
  const poolSize = Math.max(0, order.length - options.testCount);
  const pool = shuffled(order.slice(0, poolSize), createRng(options.seed));
  const chunks = chunk(pool, options.folds);
  return {
    train: chunks.filter((_, i) => i !== options.fold).flat(),
    validation: chunks[options.fold] ?? [],
    test: order.slice(poolSize),
  };
}
