import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBucket } from '../../services/signaling/TokenBucket.ts';

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
});
