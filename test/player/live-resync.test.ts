import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { liveResyncTarget } from '../../player/src/hls/live-resync.ts';

/** A TimeRanges over [start, end) pairs, as the video element reports its buffer. */
const ranges = (...pairs: [number, number][]): TimeRanges => ({
  length: pairs.length,
  start: (i: number) => pairs[i]![0],
  end: (i: number) => pairs[i]![1],
});

describe('live resync: where a stalled live player jumps', () => {
  it('jumps to the live sync position when nothing is buffered at the playhead and live has moved on', () => {
    // The case from the cluster failover: buffered to 6.9, the new node's media mapped from 8.0 on, never loaded.
    assert.equal(liveResyncTarget(6.9, ranges([0, 6.9]), 46.2), 46.2);
    assert.equal(liveResyncTarget(6.9, ranges(), 12), 12);
  });

  it("leaves it to hls.js when media is buffered at or just after the playhead", () => {
    assert.equal(liveResyncTarget(6.9, ranges([0, 8]), 46), undefined, 'buffered through the playhead');
    assert.equal(liveResyncTarget(6.9, ranges([0, 6.9], [7.5, 9]), 46), undefined, 'a small hole hls.js jumps itself');
  });

  it('does not jump backwards, nowhere, or for less than half a second', () => {
    assert.equal(liveResyncTarget(10, ranges([0, 10]), 9), undefined);
    assert.equal(liveResyncTarget(10, ranges([0, 10]), 10.3), undefined);
    assert.equal(liveResyncTarget(10, ranges([0, 10]), null), undefined);
    assert.equal(liveResyncTarget(10, ranges([0, 10]), Number.NaN), undefined);
    assert.equal(liveResyncTarget(10, ranges([0, 10], [30, 40]), 35), 35, 'a far range is no help at the playhead');
  });
});
