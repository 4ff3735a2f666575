/**
 * A condition variable for the event loop: `wait` parks until the next `broadcast` or a
 * timeout. Waiters re-check their predicate (and whether the thing they wait on closed) every
 * time they wake; a wake-up promises nothing but "something changed".
 */
export class Condition {
  private readonly waiters = new Set<() => void>();

  /** Resolves true when woken by broadcast, false on timeout or abort. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      if (signal?.aborted) return resolve(false);
      const finish = (woken: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        resolve(woken);
      };
      const wake = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), Math.max(0, timeoutMs));
      this.waiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  broadcast(): void {
    for (const wake of [...this.waiters]) wake();
  }

  get waiting(): number {
    return this.waiters.size;
  }
}
