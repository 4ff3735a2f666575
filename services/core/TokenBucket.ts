/**
 * A token bucket: `ratePerSecond` tokens refill continuously up to `burst`. `take()` spends
 * one token and says whether there was one. Used for the WebSocket message rate and the HTTP
 * edge's per-IP limits.
 */
export class TokenBucket {
  private readonly ratePerMs: number;
  private readonly burst: number;
  private tokens: number;
  private last: number;

  constructor(ratePerSecond: number, burst = ratePerSecond * 2, now = Date.now()) {
    this.ratePerMs = ratePerSecond / 1000;
    this.burst = burst;
    this.tokens = burst;
    this.last = now;
  }

  take(now = Date.now()): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** How long until `take()` would succeed, ms; 0 when it would now. */
  msUntilToken(now = Date.now()): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.ratePerMs);
  }

  /** The bucket is full again (nothing to remember about its owner). */
  isFull(now = Date.now()): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + Math.max(0, now - this.last) * this.ratePerMs);
    this.last = now;
  }
}
