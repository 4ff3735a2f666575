import type { BackoffOptions } from './WebhookTypes.ts';

export const BACKOFF_DEFAULTS: Required<BackoffOptions> = {
  initialMs: 2000,
  maxMs: 15 * 60 * 1000,
  maxAgeMs: 24 * 60 * 60 * 1000,
};

/**
 * Delay before retry number `attempt` (1 = after the first failure): doubling from
 * `initialMs`, capped at `maxMs`, with "equal jitter" (half fixed, half random) so that many
 * deliveries failing together against one endpoint do not retry in lockstep.
 */
export function retryDelayMs(attempt: number, opts: Required<BackoffOptions>, random: () => number = Math.random): number {
  const exp = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt - 1, 40));
  return Math.round(exp / 2 + random() * (exp / 2));
}
