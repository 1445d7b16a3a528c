import type { Executor } from '../executor.js';

/** What the scheduler reads of an executor before any step runs. */
export type ExecutorShape = Pick<Executor, 'name' | 'maxParallel' | 'enforcesLocalResources'>;

/**
 * An executor whose implementation is built (and its modules imported) when the first step runs.
 * A no-op rerun runs nothing, so it never pays for loading child-process, output-routing and log
 * code. `shape` must be what `create` will return for those fields.
 */
export function lazyExecutor(shape: ExecutorShape, create: () => Promise<Executor>): Executor {
  let created: Promise<Executor> | null = null;
  return {
    ...shape,
    async execute(spec, options) {
      created ??= create();
      return (await created).execute(spec, options);
    },
    async shutdown() {
      if (created !== null) await (await created).shutdown();
    },
  };
}
