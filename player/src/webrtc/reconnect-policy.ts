/**
 * When and how often a publisher or stage subscriber makes its connection again after the
 * server (or the browser) lost it. One policy for both, so the studio and the stage view
 * behave alike after a media engine restart.
 */

/**
 * Close reasons (`unpublished.reason`, `subscriberClosed.reason`) that are a fault worth a new
 * connection: ICE/DTLS failed, or the media engine's worker died and was replaced. Every other
 * reason (`demoted`, `kicked`, `client_request`, `room_closed`, …) is a decision to respect.
 */
export const RECOVERABLE_REASONS: readonly string[] = ['engine_died', 'transport_failed'];

/** Wait before each attempt, ms; the list's length is the number of attempts. */
export const DEFAULT_RECONNECT_DELAYS_MS: readonly number[] = [250, 1000, 2000, 4000, 8000];

export function isRecoverable(reason: string | undefined): boolean {
  return reason !== undefined && RECOVERABLE_REASONS.includes(reason);
}

/** Throws a TypeError naming `owner` unless `delays` is a non-empty list of finite delays ≥ 0. */
export function checkReconnectDelays(delays: readonly number[], owner: string): void {
  if (!Array.isArray(delays) || delays.length === 0 || !delays.every((d) => Number.isFinite(d) && d >= 0)) {
    throw new TypeError(`${owner}: reconnectDelaysMs must be a non-empty list of delays ≥ 0`);
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
