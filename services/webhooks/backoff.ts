import type { BackoffOptions } from './WebhookTypes.ts';
import { CONFIG_DEFAULTS } from '../core/config.ts';

/** WEBHOOK_RETRY_INITIAL_MS, WEBHOOK_RETRY_MAX_MS and WEBHOOK_RETRY_HOURS's defaults. */
export const BACKOFF_DEFAULTS: Required<BackoffOptions> = {
  initialMs: CONFIG_DEFAULTS.WEBHOOK_RETRY_INITIAL_MS,
  maxMs: CONFIG_DEFAULTS.WEBHOOK_RETRY_MAX_MS,
  maxAgeMs: CONFIG_DEFAULTS.WEBHOOK_RETRY_HOURS * 3600_000,
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
