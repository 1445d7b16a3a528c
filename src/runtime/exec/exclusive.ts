/**
 * Exclusive steps (`resources: { cpus: all }`) run alone, so every step waits while one runs. One
 * that is ready early (it needs nothing, like a latency benchmark of untrained models) would take
 * the idle pool at once and hold up the critical path for its whole run. The gate holds an
 * exclusive step back until no other step of the run that is at least as urgent (scheduling
 * priority) and does not depend on it is still to finish: then it delays nothing that matters more.
 *
 * Only exclusive steps wait here, and only for non-exclusive ones, which never wait here; a step
 * that needs an exclusive one is downstream of it, never waited for. A waiting step still holds one
 * of the graph runner's slots, though: if every step in flight is waiting here, the steps waited for
 * cannot start, so the most urgent waiter is let go (`track` counts the steps in flight).
 */
export interface GateStep {
  readonly id: string;
  readonly needs: readonly string[];
  readonly exclusive: boolean;
}

export class ExclusiveGate {
  readonly #unfinished = new Set<string>();
  /** For each exclusive step: the steps it lets finish first. */
  readonly #blockers = new Map<string, ReadonlySet<string>>();
  readonly #waiting = new Map<string, () => void>();
  readonly #priority: ReadonlyMap<string, number>;
  #inFlight = 0;
  #checkQueued = false;

  /** `steps`: those the run acts on; `priority`: their scheduling priorities (graph.ts). */
  constructor(steps: readonly GateStep[], priority: ReadonlyMap<string, number>) {
    this.#priority = priority;
    const downstream = dependentsOf(steps);
    for (const s of steps) this.#unfinished.add(s.id);
    for (const x of steps.filter((s) => s.exclusive)) {
      const after = reachable(x.id, downstream);
      const rank = priority.get(x.id) ?? 0;
      const blockers = steps.filter((y) => !y.exclusive && y.id !== x.id && !after.has(y.id) && (priority.get(y.id) ?? 0) >= rank);
      this.#blockers.set(x.id, new Set(blockers.map((y) => y.id)));
    }
  }

  /** Runs one step's whole handling, counted as in flight. */
  async track<T>(run: () => Promise<T>): Promise<T> {
    this.#inFlight++;
    try {
      return await run();
    } finally {
      this.#inFlight--;
      this.#queueStallCheck();
    }
  }

  /** Resolves when step `id` may ask for its resources (at once for any step not exclusive). */
  wait(id: string): Promise<void> {
    if (this.#free(id)) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#queueStallCheck();
    });
  }

  /**
   * After the graph runner has started what a finished step made ready (it does so in promise
   * callbacks, so setImmediate comes after): are all steps in flight waiting here?
   */
  #queueStallCheck(): void {
    if (this.#checkQueued || this.#waiting.size === 0) return;
    this.#checkQueued = true;
    setImmediate(() => {
      this.#checkQueued = false;
      if (this.#inFlight === 0 || this.#waiting.size < this.#inFlight) return;
      const [first] = [...this.#waiting.keys()].sort((a, b) => (this.#priority.get(b) ?? 0) - (this.#priority.get(a) ?? 0));
      const go = this.#waiting.get(first!)!;
      this.#waiting.delete(first!);
      go();
    });
  }

  /** Step `id` ended (whatever its outcome): exclusive steps waiting only for it may go. */
  finished(id: string): void {
    this.#unfinished.delete(id);
    for (const [waiter, go] of this.#waiting) {
      if (!this.#free(waiter)) continue;
      this.#waiting.delete(waiter);
      go();
    }
  }

  #free(id: string): boolean {
    for (const b of this.#blockers.get(id) ?? []) if (this.#unfinished.has(b)) return false;
    return true;
  }
}

function dependentsOf(steps: readonly GateStep[]): Map<string, string[]> {
  const down = new Map<string, string[]>();
  for (const s of steps) for (const n of s.needs) down.set(n, [...(down.get(n) ?? []), s.id]);
  return down;
}

function reachable(from: string, down: ReadonlyMap<string, readonly string[]>): Set<string> {
  const seen = new Set<string>();
  const queue = [from];
  while (queue.length > 0) for (const d of down.get(queue.pop()!) ?? []) if (!seen.has(d)) seen.add(d), queue.push(d);
  return seen;
}
