import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type Hls from 'hls.js';
import { METADATA_CLASS, MetadataCueController, type MetadataCue } from '../../player/src/hls/metadata-cues.ts';

/** What the controller reads of a date range (hls.js `DateRange`). */
interface Range {
  class: string;
  startTime: number;
  attr: Record<string, string>;
}

const payload = (value: unknown) => ({ 'X-PAYLOAD': Buffer.from(JSON.stringify(value)).toString('base64') });
const range = (startTime: number, value: unknown): Range => ({ class: METADATA_CLASS, startTime, attr: payload(value) });

/**
 * The parts of hls.js and of a <video> that the controller uses: levels with their playlists'
 * date ranges, the playing level, and a frame callback this test calls with a media time.
 */
function fakePlayer(levels: Record<string, Range>[], currentLevel: number) {
  const hls = { currentLevel, levels: levels.map((dateRanges) => ({ details: { dateRanges } })) };
  let callback: ((now: number, metadata: { mediaTime: number }) => void) | undefined;
  const video = {
    requestVideoFrameCallback(cb: typeof callback) {
      callback = cb;
      return 1;
    },
    cancelVideoFrameCallback() {},
  };
  return {
    hls,
    source: () => ({ hls: hls as unknown as Hls, video: video as unknown as HTMLVideoElement }),
    frame: (mediaTime: number) => callback!(0, { mediaTime }),
  };
}

function firedBy(player: ReturnType<typeof fakePlayer>, frames: number[]): MetadataCue[] {
  const controller = new MetadataCueController(player.source);
  try {
    for (const t of frames) player.frame(t);
    return [...controller.fired];
  } finally {
    controller.destroy();
  }
}

describe('metadata cues: timed metadata fired at its frame', () => {
  it('fires an item of the playing level on the first frame at or after its start, once', () => {
    const player = fakePlayer([{ a: range(10.5, { q: 1 }), other: { ...range(10, {}), class: 'com.example' } }], 0);
    const fired = firedBy(player, [10.0, 10.4, 10.5, 10.6, 11]);
    assert.deepEqual(
      fired.map((c) => [c.id, c.mediaTime, c.payload]),
      [['a', 10.5, { q: 1 }]],
    );
  });

  it('fires an item that only the level loaded next lists (after an ABR switch the playing level is no longer reloaded)', () => {
    // Level 0 plays, and its playlist stopped at the switch; level 1's has the item posted since.
    const player = fakePlayer([{}, { late: range(20.2, 'after the switch') }], 0);
    const fired = firedBy(player, [19.9, 20.1, 20.25]);
    assert.deepEqual(
      fired.map((c) => [c.id, c.mediaTime, c.payload]),
      [['late', 20.25, 'after the switch']],
    );
  });

  it("takes an item's time from the playing level when several levels list it", () => {
    const player = fakePlayer([{ x: range(30.3, 1) }, { x: range(30.0, 1) }], 0);
    const fired = firedBy(player, [30.1, 30.2, 30.3]);
    assert.deepEqual(
      fired.map((c) => [c.id, c.startTime, c.mediaTime]),
      [['x', 30.3, 30.3]],
    );
  });

  it('skips an item already further behind the first frame than staleAfterSec', () => {
    const player = fakePlayer([{ old: range(5, 1), fresh: range(9.5, 2) }], 0);
    const fired = firedBy(player, [9, 9.6]);
    assert.deepEqual(
      fired.map((c) => c.id),
      ['fresh'],
    );
  });
});
