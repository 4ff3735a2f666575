import { checkReconnectDelays } from './reconnect-policy.ts';

/**
 * One attempt to make a connection. `signal` aborts when this attempt is given up
 * (`abortAttempt`) or the whole run is cancelled; `runSignal` only in the latter case, so an
 * attempt can tell "try the next one" from "everything stopped".
 */
export type ReconnectAttempt = (signal: AbortSignal, runSignal: AbortSignal) => Promise<void>;

/** How a `retry` run ended: an attempt succeeded, every attempt failed, or `cancel` (or a newer run) ended it first. */
export type ReconnectOutcome = 'recovered' | 'exhausted' | 'cancelled';

/**
 * The one recovery loop of the player's WebRTC legs (Publisher, StageSubscriber), so that the
 * studio and the stage view recover alike.
 *
 * Schedule: `retry` waits `delaysMs[0]` before attempt 1, `delaysMs[1]` before attempt 2, and
 * so on, stopping at the first attempt that succeeds; the list's length is the number of
 * attempts. With the default (DEFAULT_RECONNECT_DELAYS_MS: 250, 1000, 2000, 4000, 8000 ms) it
 * gives up after the 5th failed attempt, about 15 s after the loss, and the owner then reports
 * its fatal error.
 *
 * One run at a time: starting a run cancels the previous one. `cancel()` clears the pending
 * delay's timer and aborts the running attempt; the run then ends as `cancelled` (or `once`
 * resolves false) whatever the attempt does afterwards, so a stopped owner never hears of it.
 */
export class Reconnector {
  readonly delaysMs: readonly number[];
  private run: AbortController | undefined;
  private attempt: AbortController | undefined;

  /** Throws a TypeError naming `owner` when `delaysMs` is not a non-empty list of delays ≥ 0. */
  constructor(delaysMs: readonly number[], owner: string) {
    checkReconnectDelays(delaysMs, owner);
    this.delaysMs = delaysMs;
  }

  /**
   * Runs `attempt` once, now (a first connection, no backoff). Resolves true once it
   * succeeded, false when the run was cancelled meanwhile (whatever the attempt did); rejects
   * with the attempt's error otherwise.
   */
  async once(attempt: ReconnectAttempt): Promise<boolean> {
    const run = this.begin();
    try {
      await this.runAttempt(attempt, run.signal);
    } catch (err) {
      if (!this.end(run)) return false;
      throw err;
    }
    return this.end(run);
  }

  /** Runs `attempt` after each delay of the schedule until one succeeds; `onAttempt` hears of each (1-based) before it starts. */
  async retry(attempt: ReconnectAttempt, onAttempt?: (attempt: number) => void): Promise<ReconnectOutcome> {
    const run = this.begin();
    const options = { delaysMs: this.delaysMs, signal: run.signal, ...(onAttempt ? { onAttempt } : {}) };
    const outcome = await retryWithBackoff(() => this.runAttempt(attempt, run.signal), options).then(
      () => 'recovered' as const,
      () => 'exhausted' as const,
    );
    return this.end(run) ? outcome : 'cancelled';
  }

  /** Fails the running attempt now (its new leg is already gone); the next one follows after its delay. */
  abortAttempt(reason: unknown): void {
    this.attempt?.abort(reason);
  }

  /** Ends the running run, if any: clears its pending timer and aborts its attempt with `reason`. Idempotent. */
  cancel(reason: unknown = new DOMException('reconnection cancelled', 'AbortError')): void {
    const run = this.run;
    this.run = undefined;
    this.attempt = undefined;
    run?.abort(reason);
  }

  private begin(): AbortController {
    this.cancel();
    const run = new AbortController();
    this.run = run;
    return run;
  }

  /** Whether `run` was still the current one; it is not any more. */
  private end(run: AbortController): boolean {
    if (this.run !== run) return false;
    this.run = undefined;
    return true;
  }

  private async runAttempt(attempt: ReconnectAttempt, runSignal: AbortSignal): Promise<void> {
    const controller = new AbortController();
    this.attempt = controller;
    try {
      await attempt(AbortSignal.any([runSignal, controller.signal]), runSignal);
    } finally {
      if (this.attempt === controller) this.attempt = undefined;
    }
  }
}

/** Why `retryWithBackoff` gave up: every attempt failed. `cause` is the last attempt's error. */
export class AttemptsExhaustedError extends Error {
  readonly attempts: number;
  constructor(attempts: number, cause: unknown) {
    super(`gave up after ${attempts} attempts`, { cause });
    this.name = 'AttemptsExhaustedError';
    this.attempts = attempts;
  }
}

export interface RetryOptions {
  /** Wait before each attempt, ms (see DEFAULT_RECONNECT_DELAYS_MS). */
  delaysMs: readonly number[];
  /** Aborting stops waiting and attempting; the promise rejects with the signal's reason. */
  signal: AbortSignal;
  /** Called before each attempt (1-based), after its delay. */
  onAttempt?: (attempt: number) => void;
  /** Called with each failed attempt's error. */
  onFailure?: (attempt: number, error: unknown) => void;
}

/**
 * Runs `attempt` after each delay until one resolves. Rejects with AttemptsExhaustedError when
 * every attempt failed, or with the signal's reason once aborted (also between attempts).
 */
export async function retryWithBackoff(attempt: (n: number) => Promise<void>, options: RetryOptions): Promise<void> {
  const { delaysMs, signal } = options;
  let lastError: unknown;
  for (let i = 0; i < delaysMs.length; i++) {
    await abortableDelay(delaysMs[i]!, signal);
    const n = i + 1;
    options.onAttempt?.(n);
    try {
      await attempt(n);
      signal.throwIfAborted();
      return;
    } catch (err) {
      signal.throwIfAborted();
      lastError = err;
      options.onFailure?.(n, err);
    }
  }
  throw new AttemptsExhaustedError(delaysMs.length, lastError);
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
