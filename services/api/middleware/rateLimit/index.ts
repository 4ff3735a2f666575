import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { CONFIG_DEFAULTS } from '../../../core/config.ts';
import { ServiceError } from '../../../core/errors.ts';
import { TokenBucket } from '../../../core/TokenBucket.ts';

export interface RateLimitOptions {
  /** Requests one client IP may make per minute, refilled continuously. */
  perMinute: number;
  /** Requests one client IP may make at once. */
  burst: number;
}

/** The WHIP/WHEP offer limit's defaults (HTTP_INGEST_RATE_PER_MINUTE, HTTP_INGEST_RATE_BURST). */
export const INGEST_RATE_DEFAULTS: RateLimitOptions = {
  perMinute: CONFIG_DEFAULTS.HTTP_INGEST_RATE_PER_MINUTE,
  burst: CONFIG_DEFAULTS.HTTP_INGEST_RATE_BURST,
};

/** The room-token limit's defaults (HTTP_TOKEN_RATE_PER_MINUTE, HTTP_TOKEN_RATE_BURST). */
export const TOKEN_RATE_DEFAULTS: RateLimitOptions = {
  perMinute: CONFIG_DEFAULTS.HTTP_TOKEN_RATE_PER_MINUTE,
  burst: CONFIG_DEFAULTS.HTTP_TOKEN_RATE_BURST,
};

/** Requests between two sweeps of the buckets that have refilled (their clients are forgotten). */
const SWEEP_EVERY = 1000;

/**
 * A token bucket per client IP (the TCP peer's address: the service is reached directly, not
 * through a proxy whose forwarding headers it could trust). A request without a token is
 * refused with 429 `rate_limited` and `Retry-After` (whole seconds until the next token), before
 * any other work. Every route the middleware is mounted on shares its buckets.
 */
export function rateLimit(opts: RateLimitOptions) {
  const buckets = new Map<string, TokenBucket>();
  let untilSweep = SWEEP_EVERY;
  return createMiddleware(async (c, next) => {
    const now = Date.now();
    if (--untilSweep <= 0) {
      untilSweep = SWEEP_EVERY;
      for (const [ip, bucket] of buckets) if (bucket.isFull(now)) buckets.delete(ip);
    }
    const ip = clientIp(c);
    let bucket = buckets.get(ip);
    if (!bucket) buckets.set(ip, (bucket = new TokenBucket(opts.perMinute / 60, opts.burst, now)));
    if (!bucket.take(now)) {
      c.header('retry-after', String(Math.max(1, Math.ceil(bucket.msUntilToken(now) / 1000))));
      throw new ServiceError('rate_limited', 'too many requests from this address; retry later');
    }
    await next();
  });
}

/** The TCP peer's address, from @hono/node-server's bindings; `unknown` elsewhere (app.request in tests without bindings). */
export function clientIp(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}
