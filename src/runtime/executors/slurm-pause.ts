/**
 * Poll-loop sleeps that end early on abort. Many steps usually share one run-wide signal, so
 * this keeps a single abort listener per signal instead of one per sleeping step (Node warns
 * past 10 listeners, and 64 jobs in flight would each add one).
 */
export class AbortablePauses {
  private readonly sleepers = new WeakMap<AbortSignal, Set<() => void>>();

  pause(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal === undefined) return new Promise((resolve) => setTimeout(resolve, ms));
    if (signal.aborted) return Promise.resolve();
    const sleepers = this.sleepersOf(signal);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleepers.add(wake);
    });
  }

  private sleepersOf(signal: AbortSignal): Set<() => void> {
    const known = this.sleepers.get(signal);
    if (known !== undefined) return known;
    const created = new Set<() => void>();
    this.sleepers.set(signal, created);
    signal.addEventListener('abort', () => [...created].forEach((wake) => wake()), { once: true });
    return created;
  }
}
