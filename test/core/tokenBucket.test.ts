import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBucket } from '../../services/core/TokenBucket.ts';

describe('TokenBucket', () => {
  it('allows a burst of twice the rate, then refills at the rate', () => {
    const bucket = new TokenBucket(10, 20, 0);
    let allowed = 0;
    for (let i = 0; i < 50; i++) if (bucket.take(0)) allowed++;
    assert.equal(allowed, 20);
    assert.equal(bucket.take(50), false); // half a token after 50 ms
    assert.equal(bucket.take(100), true); // one token after 100 ms
    assert.equal(bucket.take(100), false);
    // Idle time refills, capped at the burst size.
    let later = 0;
    for (let i = 0; i < 50; i++) if (bucket.take(60_000)) later++;
    assert.equal(later, 20);
  });

  it('says how long until the next token', () => {
    const bucket = new TokenBucket(2, 1, 0); // one token per 500 ms, burst 1
    assert.equal(bucket.msUntilToken(0), 0);
    assert.equal(bucket.take(0), true);
    assert.equal(bucket.msUntilToken(0), 500);
    assert.equal(bucket.msUntilToken(400), 100);
    assert.equal(bucket.isFull(400), false);
    assert.equal(bucket.msUntilToken(500), 0);
    assert.equal(bucket.isFull(500), true);
  });
});
