/**
 * A condition variable for the event loop: `wait` parks until the next `broadcast` or a
 * timeout. Waiters re-check their predicate (and whether the thing they wait on closed) every
 * time they wake; a wake-up promises nothing but "something changed".
 *
 * `revision` counts broadcasts, so a reader can tell whether anything changed since it last
 * looked (the origin keys its rendered playlist on it). `changed()` is the one promise every
 * caller shares for the next broadcast: many readers cost one promise per broadcast, not a
 * timer and a listener each.
 */
export class Condition {
  private readonly waiters = new Set<() => void>();
  private revisionCount = 0;
  private next: { promise: Promise<void>; resolve: () => void } | undefined;

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

  /** Resolves at the next broadcast; every caller until then gets the same promise. */
  changed(): Promise<void> {
    if (!this.next) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.next = { promise, resolve };
    }
    return this.next.promise;
  }

  broadcast(): void {
    this.revisionCount++;
    const next = this.next;
    this.next = undefined;
    next?.resolve();
    for (const wake of [...this.waiters]) wake();
  }

  /** Broadcasts so far: unchanged revision, unchanged state. */
  get revision(): number {
    return this.revisionCount;
  }

  get waiting(): number {
    return this.waiters.size;
  }
}
