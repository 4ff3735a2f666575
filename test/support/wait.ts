/**
 * Waiting on the Node side, for tests and benches alike: the one `sleep` and the one polling
 * helper. A predicate that has to run inside a page (DOM, window globals) is not polled here but
 * with `pollPage` (test/support/pages.ts), which evaluates it in the page on each round.
 */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface WaitForOptions<T> {
  /** When a value read is the one waited for. Default: truthy. */
  until?: (value: T) => boolean;
  /** Pause between reads, ms. Default 200. */
  stepMs?: number;
  /**
   * On timeout, resolve with the last value read instead of throwing, for a caller that asserts
   * on it with a message of its own (often one describing state read after the wait). Default true.
   */
  throwOnTimeout?: boolean;
}

/**
 * Reads `read()` until `until` holds for the value (default: truthy) and returns that value. It
 * reads once more after `timeoutMs` has passed, then throws, naming `what` and the last value
 * (or, with `throwOnTimeout: false`, returns that last value).
 */
export async function waitFor<T>(what: string, timeoutMs: number, read: () => T | Promise<T>, options: WaitForOptions<T> = {}): Promise<T> {
  const { until = Boolean, stepMs = 200, throwOnTimeout = true } = options;
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (until(value)) return value;
    if (Date.now() >= end) {
      if (!throwOnTimeout) return value;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(value)?.slice(0, 500)}`);
    }
    await sleep(stepMs);
  }
}
