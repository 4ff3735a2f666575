import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DATA_BITS,
  blockRect,
  checkRtpConsistency,
  crc8Bits,
  decodeBits,
  decodePattern,
  encodeBits,
  percentile,
  renderPattern,
  restoreTimestamp,
} from './latency-pattern.ts';

/** Box-filter downscale of an RGBA buffer, like drawImage onto a small canvas. */
function downscale(src: Uint8ClampedArray, sw: number, sh: number, dw: number, dh: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(dw * dh * 4);
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      const x0 = Math.floor((x * sw) / dw);
      const x1 = Math.floor(((x + 1) * sw) / dw);
      const y0 = Math.floor((y * sh) / dh);
      const y1 = Math.floor(((y + 1) * sh) / dh);
      for (let c = 0; c < 4; c++) {
        let sum = 0;
        for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) sum += src[(yy * sw + xx) * 4 + c]!;
        out[(y * dw + x) * 4 + c] = sum / ((x1 - x0) * (y1 - y0));
      }
    }
  }
  return out;
}

/** Deterministic pseudo-random generator (xorshift32). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

describe('latency pattern', () => {
  const now = 1_760_000_123_456; // a plausible wall clock, ms (needs more than 32 bits)

  it('encodes 44 bits with a valid CRC and decodes them back', () => {
    const bits = encodeBits({ timestampMs: now, counter: 21 });
    assert.equal(bits.length, DATA_BITS);
    const decoded = decodeBits(bits);
    assert.deepEqual(decoded, { timestampLow32: now % 2 ** 32, counter: 21 % 16 });
    assert.equal(crc8Bits([]), 0);
  });

  it('round-trips through an RGBA buffer at full size and scaled down', () => {
    for (const [ts, counter] of [
      [now, 0],
      [now + 33, 1],
      [0, 15],
      [2 ** 32 - 1, 7],
      [now + 987_654, 9],
    ] as const) {
      const img = renderPattern({ timestampMs: ts, counter }, 640, 480);
      const full = decodePattern(img, 640, 480);
      assert.ok(full, `decode ${ts}`);
      assert.equal(full.timestampLow32, ts % 2 ** 32);
      assert.equal(full.counter, counter);
      assert.equal(full.contrast, 255);
      const small = downscale(img, 640, 480, 128, 96);
      assert.equal(decodePattern(small, 128, 96)?.timestampLow32, ts % 2 ** 32);
      const tiny = downscale(img, 640, 480, 32, 24);
      assert.equal(decodePattern(tiny, 32, 24)?.timestampLow32, ts % 2 ** 32);
    }
  });

  it('survives compression-like noise, a contrast squeeze and a brightness shift', () => {
    const img = renderPattern({ timestampMs: now, counter: 3 }, 640, 480);
    const rand = rng(42);
    for (let i = 0; i < img.length; i += 4) {
      // Limited-range video (16..235) plus ±30 of noise.
      const v = 16 + (img[i]! * 219) / 255 + (rand() - 0.5) * 60 + 10;
      img[i] = img[i + 1] = img[i + 2] = v;
    }
    const decoded = decodePattern(img, 640, 480);
    assert.equal(decoded?.timestampLow32, now % 2 ** 32);
  });

  it('rejects a corrupted buffer', () => {
    const img = renderPattern({ timestampMs: now, counter: 5 }, 640, 480);
    // Invert one data block (block 1: top row, second column).
    const r = blockRect(1, 640, 480);
    for (let y = r.y; y < r.y + r.h; y++) {
      for (let x = r.x; x < r.x + r.w; x++) {
        const o = (y * 640 + x) * 4;
        img[o] = img[o + 1] = img[o + 2] = 255 - img[o]!;
      }
    }
    assert.equal(decodePattern(img, 640, 480), null);
  });

  it('rejects every single-block and double-block flip (CRC-8 catches them)', () => {
    const bits = encodeBits({ timestampMs: now, counter: 11 });
    for (let i = 0; i < bits.length; i++) {
      const one = [...bits];
      one[i] = !one[i];
      assert.equal(decodeBits(one), null, `flip ${i}`);
      for (let j = i + 1; j < bits.length; j++) {
        const two = [...one];
        two[j] = !two[j];
        assert.equal(decodeBits(two), null, `flip ${i},${j}`);
      }
    }
  });

  it('rejects frames without contrast (black, grey, garbage)', () => {
    assert.equal(decodePattern(new Uint8ClampedArray(64 * 48 * 4), 64, 48), null);
    assert.equal(decodePattern(new Uint8ClampedArray(64 * 48 * 4).fill(128), 64, 48), null);
    const rand = rng(7);
    let accepted = 0;
    for (let n = 0; n < 200; n++) {
      const junk = new Uint8ClampedArray(64 * 48 * 4).map(() => (rand() < 0.5 ? 0 : 255));
      if (decodePattern(junk, 64, 48)) accepted++;
    }
    assert.ok(accepted <= 3, `random frames accepted: ${accepted}`);
  });

  it('restores the full timestamp from its low 32 bits, across a wrap', () => {
    assert.equal(restoreTimestamp(now % 2 ** 32, now + 40), now);
    const wrap = 2 ** 33; // low bits are 0 here
    assert.equal(restoreTimestamp((wrap - 10) % 2 ** 32, wrap + 25), wrap - 10);
    assert.equal(restoreTimestamp((wrap + 5) % 2 ** 32, wrap + 3), wrap + 5); // clocks slightly off
  });

  it('drops samples whose pixels came from a newer frame than the RTP timestamp says', () => {
    // 30 fps; the sender clock and RTP (ms) advance together with a constant offset of 5000 ms
    // plus up to ±3 ms of capture jitter. Frames 10 and 20 are read one frame too new.
    const samples = Array.from({ length: 30 }, (_, i) => {
      const sentAt = now + i * 33.3 + ((i * 5) % 7) - 3;
      const displayedAt = now + i * 33.3 + 50;
      const readAt = i === 10 || i === 20 ? sentAt + 33.3 : sentAt;
      return { latencyMs: displayedAt - readAt, displayedAt, counter: i % 16, rtpMs: 5000 + i * 33.3 };
    });
    const { kept, mismatched } = checkRtpConsistency(samples);
    assert.equal(mismatched, 2);
    assert.equal(kept.length, 28);
    assert.ok(kept.every((s) => s.latencyMs > 40));
    assert.deepEqual(checkRtpConsistency(samples.map(({ rtpMs: _r, ...s }) => s)).mismatched, 0);
  });

  it('computes nearest-rank percentiles', () => {
    const v = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.equal(percentile(v, 50), 50);
    assert.equal(percentile(v, 95), 95);
    assert.equal(percentile([7], 95), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
  });
});
