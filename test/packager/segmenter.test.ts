import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FragmentInfo } from '../../services/packager/fragment.ts';
import type { InitSegmentInfo } from '../../services/packager/initSegment.ts';
import { Segmenter } from '../../services/packager/segmenter.ts';

/**
 * The segmenter's PROGRAM-DATE-TIME, from fragment infos as the fMP4 parser gives them: media
 * time is ffmpeg's wall-clock input time less a constant, and a fragment's arrival says when it
 * left ffmpeg.
 */
const TIMESCALE = 90_000;
const FRAGMENT_SEC = 0.2;
const init: InitSegmentInfo = {
  tracks: [{ trackId: 1, kind: 'video', timescale: TIMESCALE, codec: 'avc1.64001f', defaultSampleDuration: 3000, defaultSampleFlags: 0 }],
  referenceTrackId: 1,
  codecs: 'avc1.64001f',
};

/** Fragment `n` of 200 ms; every fifth starts with a key frame (1 s segments). */
function fragment(n: number): FragmentInfo {
  const duration = FRAGMENT_SEC * TIMESCALE;
  return { sequenceNumber: n + 1, tracks: [{ trackId: 1, baseMediaDecodeTime: n * duration, duration, sampleCount: 6, startsWithSync: n % 5 === 0 }] };
}

describe('segmenter: PROGRAM-DATE-TIME', () => {
  it('follows the earliest arrival: a start-up delay on the first fragments does not put later segments ahead of the clock', () => {
    const seg = new Segmenter({ segmentTargetSec: 1 });
    seg.pushInit(init);
    // Media starts at T0. ffmpeg's first three fragments leave 1.5 s late (its start-up), the
    // backlog drains, then every fragment leaves 100 ms after its media ends.
    const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);
    const segments = new Map<number, Date>();
    for (let n = 0; n < 25; n++) {
      const endMs = T0 + (n + 1) * FRAGMENT_SEC * 1000;
      const arrival = n < 3 ? T0 + 1500 + n * 10 : endMs + 100;
      const { part } = seg.pushFragment(Buffer.alloc(8), fragment(n), arrival);
      assert.ok(part, `fragment ${n} becomes a part`);
      if (part.index === 0) segments.set(part.msn, seg.openSegment!.programDateTime);
    }
    const pdts = [...segments.values()].map((d) => d.getTime() - T0);
    // Segment 0 took its date from the late first fragment (1.3 s ahead of its media); from the
    // next segment on, each is dated 100 ms after its media began: the steady delay, never ahead.
    assert.equal(pdts[0], 1300);
    assert.deepEqual(pdts.slice(1), [1100, 2100, 3100, 4100]);
  });

  it('leaves the date alone while fragments arrive as the first one did', () => {
    const seg = new Segmenter({ segmentTargetSec: 1 });
    seg.pushInit(init);
    const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);
    const dates: number[] = [];
    for (let n = 0; n < 15; n++) {
      // 300 ms after each fragment's end, and a late one now and then (a busy event loop).
      const arrival = T0 + (n + 1) * FRAGMENT_SEC * 1000 + 300 + (n % 4 === 3 ? 250 : 0);
      const { part } = seg.pushFragment(Buffer.alloc(8), fragment(n), arrival);
      if (part?.index === 0) dates.push(seg.openSegment!.programDateTime.getTime() - T0);
    }
    assert.deepEqual(dates, [300, 1300, 2300]);
  });
});
