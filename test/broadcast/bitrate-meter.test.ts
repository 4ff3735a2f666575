import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BitrateMeter } from '../../services/broadcast/BitrateMeter.ts';

describe('BitrateMeter', () => {
  it('averages the parts of the window over their media duration, per rendition', () => {
    let now = 0;
    const meter = new BitrateMeter({ windowMs: 1000, now: () => now });
    assert.deepEqual(meter.read(), []);
    assert.equal(meter.lastPartAgeMs, undefined);
    for (let i = 0; i < 5; i++) {
      meter.add('720p', 50_000, 0.2); // 2 Mb/s
      meter.add('360p', 20_000, 0.2); // 800 kb/s
      now += 200;
    }
    assert.deepEqual(meter.read(), [
      { name: '720p', bitsPerSecond: 2_000_000 },
      { name: '360p', bitsPerSecond: 800_000 },
    ]);
    assert.equal(meter.lastPartAgeMs, 200);
  });

  it('a burst of parts after a restart reads as their media rate, and old parts leave the window', () => {
    let now = 0;
    const meter = new BitrateMeter({ windowMs: 1000, now: () => now });
    meter.add('720p', 100_000, 0.2);
    now = 5000;
    // Five parts at once (a restarted ffmpeg catching up): still 1 Mb/s of media.
    for (let i = 0; i < 5; i++) meter.add('720p', 25_000, 0.2);
    assert.deepEqual(meter.read(), [{ name: '720p', bitsPerSecond: 1_000_000 }]);
    now = 7000;
    assert.deepEqual(meter.read(), [{ name: '720p', bitsPerSecond: 0 }], 'nothing in the window: 0');
    assert.equal(meter.lastPartAgeMs, 2000);
  });
});
