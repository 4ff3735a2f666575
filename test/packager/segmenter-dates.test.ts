import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FragmentInfo } from '../../services/packager/fragment.ts';
import type { InitSegmentInfo } from '../../services/packager/initSegment.ts';
import { Segmenter } from '../../services/packager/segmenter.ts';
import type { Segment } from '../../services/packager/segment.ts';

/**
 * PROGRAM-DATE-TIME of the Segmenter against fragment arrival times, as ffmpeg delivers them:
 * media time is arrival at ffmpeg less a constant, and the first fragments of an input come late
 * by ffmpeg's start-up. 90 kHz video, 0.2 s fragments, an IDR every 1 s (every fifth fragment).
 */

const TIMESCALE = 90_000;
const FRAGMENT_TICKS = 18_000;
const INIT: InitSegmentInfo = {
  tracks: [{ trackId: 1, kind: 'video', timescale: TIMESCALE, codec: 'avc1.64001f', defaultSampleDuration: 3000, defaultSampleFlags: 0 }],
  referenceTrackId: 1,
  codecs: 'avc1.64001f',
};
/** Wall clock of media time 0 (the input's arrival at ffmpeg). */
const MEDIA_ZERO_MS = Date.UTC(2026, 11, 5, 12, 0, 0);
const END_TO_END_MS = 30;

function fragment(i: number): FragmentInfo {
  return { sequenceNumber: i + 1, tracks: [{ trackId: 1, baseMediaDecodeTime: i * FRAGMENT_TICKS, duration: FRAGMENT_TICKS, sampleCount: 6, startsWithSync: i % 5 === 0 }] };
}

/** When fragment i leaves ffmpeg: its media end plus a steady 30 ms, plus `late(i)` of start-up. */
function arrival(i: number, late: (i: number) => number): number {
  return MEDIA_ZERO_MS + ((i + 1) * FRAGMENT_TICKS * 1000) / TIMESCALE + END_TO_END_MS + late(i);
}

/** Feeds `count` fragments; returns every segment completed (and the open one), and the open segment's date after each fragment. */
function run(count: number, late: (i: number) => number, segmenter = new Segmenter({ segmentTargetSec: 1 })) {
  segmenter.pushInit(INIT);
  const segments: Segment[] = [];
  const openDates: number[] = [];
  for (let i = 0; i < count; i++) {
    const { completed } = segmenter.pushFragment(Buffer.alloc(0), fragment(i), arrival(i, late));
    if (completed) segments.push(completed);
    openDates.push(segmenter.openSegment!.programDateTime.getTime());
  }
  return { segments: [...segments, segmenter.openSegment!], openDates, segmenter };
}

/** Each segment's date is the previous one's plus its duration, to the millisecond. */
function assertContiguous(segments: Segment[]): void {
  for (let i = 1; i < segments.length; i++) {
    const prev = segments[i - 1]!;
    assert.equal(segments[i]!.programDateTime.getTime() - prev.programDateTime.getTime(), Math.round(prev.durationSec * 1000), `segment ${segments[i]!.msn} follows ${prev.msn}`);
  }
}

describe('packager: PROGRAM-DATE-TIME of a live input', () => {
  it('an input with no start-up delay: dates are arrival less its steady delay, contiguous', () => {
    const { segments } = run(15, () => 0);
    assert.equal(segments[0]!.programDateTime.getTime(), MEDIA_ZERO_MS + END_TO_END_MS);
    assertContiguous(segments);
  });

  it('a start-up burst (the first fragments 700, 500, 300, 100 ms late): the open first segment comes down to the steady bound, and later segments follow it with no step', () => {
    const startUp = [700, 500, 300, 100];
    const { segments, openDates } = run(15, (i) => startUp[i] ?? 0);
    // Taken from the first fragment alone, the dates would run 700 ms ahead for the whole input.
    assert.equal(openDates[0], MEDIA_ZERO_MS + END_TO_END_MS + 700);
    assert.deepEqual(
      openDates.slice(0, 5).map((d) => d - MEDIA_ZERO_MS - END_TO_END_MS),
      [700, 500, 300, 100, 0],
      'the open first segment follows the lowest bound',
    );
    assert.equal(segments[0]!.programDateTime.getTime(), MEDIA_ZERO_MS + END_TO_END_MS, 'the first segment as completed');
    assertContiguous(segments);
    assert.equal(segments.length, 3);
  });

  it('once the first segment is complete the dates are fixed: a faster fragment later moves nothing', () => {
    // Steady at 30 ms, then one fragment of the third segment arrives 25 ms early.
    const { segments } = run(15, (i) => (i === 12 ? -25 : 0));
    assert.equal(segments[0]!.programDateTime.getTime(), MEDIA_ZERO_MS + END_TO_END_MS);
    assertContiguous(segments);
  });

  it('timed metadata in the open first segment moves with its date', () => {
    const segmenter = new Segmenter({ segmentTargetSec: 1 });
    segmenter.pushInit(INIT);
    segmenter.pushFragment(Buffer.alloc(0), fragment(0), arrival(0, () => 400));
    const open = segmenter.openSegment!;
    const startDate = new Date(open.programDateTime.getTime() + 200);
    open.dateRanges!.push({ id: 'q1', classId: 'com.stagecast.metadata', startDate, payload: 'e30=' });
    segmenter.pushFragment(Buffer.alloc(0), fragment(1), arrival(1, () => 0));
    assert.equal(open.programDateTime.getTime(), MEDIA_ZERO_MS + END_TO_END_MS);
    assert.equal(open.dateRanges![0]!.startDate.getTime(), startDate.getTime() - 400, 'same offset into the segment');
  });

  it('a new input (ffmpeg restarted) settles again, after a discontinuity', () => {
    const { segmenter } = run(7, () => 0);
    const restartedAt = MEDIA_ZERO_MS + 5000;
    const { completed } = segmenter.pushInit(INIT);
    assert.ok(completed, 'the open segment of the old input is completed');
    // The new input's media time starts again at 0; its first fragment comes 600 ms late.
    const late = [600, 0];
    for (let i = 0; i < 2; i++) {
      segmenter.pushFragment(Buffer.alloc(0), fragment(i), restartedAt + ((i + 1) * FRAGMENT_TICKS * 1000) / TIMESCALE + END_TO_END_MS + late[i]!);
    }
    const open = segmenter.openSegment!;
    assert.equal(open.discontinuity, true);
    assert.equal(open.programDateTime.getTime(), restartedAt + END_TO_END_MS);
  });
});
