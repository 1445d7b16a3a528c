/**
 * A semaphore over named budgets (cpu slots, gpus, custom). A request waits until all its amounts
 * fit. Waiting requests are served highest priority first, in arrival order among equals, and one
 * that does not fit yet holds back those behind it, so a large one (cpus: all) is not starved.
 * Priority matters because the scheduler hands more steps to the pool than it has slots: served
 * in arrival order, steps that became ready early (side branches) would run before the critical
 * path that became ready later.
 */
export class ResourcePool {
  readonly #free: Map<string, number>;
  readonly #capacity: ReadonlyMap<string, number>;
  readonly #queue: { need: Readonly<Record<string, number>>; priority: number; grant: () => void }[] = [];

  constructor(capacity: Readonly<Record<string, number>>) {
    this.#capacity = new Map(Object.entries(capacity));
    this.#free = new Map(Object.entries(capacity));
  }

  /** Caps each request at the pool's capacity so no request can wait forever. */
  clamp(need: Readonly<Record<string, number>>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, amount] of Object.entries(need)) {
      const cap = this.#capacity.get(name);
      if (cap !== undefined) out[name] = Math.min(amount, cap);
    }
    return out;
  }

  /** Names a request uses that this pool has no budget for. */
  unknown(need: Readonly<Record<string, number>>): string[] {
    return Object.keys(need).filter((n) => !this.#capacity.has(n));
  }

  acquire(need: Readonly<Record<string, number>>, priority = 0): Promise<() => void> {
    const clamped = this.clamp(need);
    return new Promise((resolve) => {
      const request = { need: clamped, priority, grant: () => resolve(() => this.#release(clamped)) };
      const behind = this.#queue.findIndex((q) => q.priority < priority);
      this.#queue.splice(behind < 0 ? this.#queue.length : behind, 0, request);
      this.#drain();
    });
  }

  #fits(need: Readonly<Record<string, number>>): boolean {
    return Object.entries(need).every(([n, a]) => (this.#free.get(n) ?? 0) >= a);
  }

  #drain(): void {
    while (this.#queue.length > 0 && this.#fits(this.#queue[0]!.need)) {
      const next = this.#queue.shift()!;
      for (const [n, a] of Object.entries(next.need)) this.#free.set(n, (this.#free.get(n) ?? 0) - a);
      next.grant();
    }
  }

  #release(need: Readonly<Record<string, number>>): void {
    for (const [n, a] of Object.entries(need)) this.#free.set(n, (this.#free.get(n) ?? 0) + a);
    this.#drain();
  }
}
