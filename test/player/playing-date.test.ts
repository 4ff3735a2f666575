import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redated, type DatedPlaylist } from '../../player/src/hls/playing-date.ts';

const T = Date.UTC(2026, 11, 5, 12, 0, 0);

/** A live playlist: complete segments from `startSN`, one second apart from `firstDate`, and an open one (the fragment hint) after them. */
function playlist(startSN: number, count: number, firstDate: number, hintDate: number | null = firstDate + count * 1000): DatedPlaylist {
  return {
    startSN,
    fragments: Array.from({ length: count }, (_, i) => ({ sn: startSN + i, programDateTime: firstDate + i * 1000 })),
    fragmentHint: { sn: startSN + count, programDateTime: hintDate },
  };
}

describe('player: the playing date against the newest playlist', () => {
  it("moves by what the newest playlist says of the playing segment: a new input's first segment dated 400 ms earlier since it was loaded", () => {
    const loaded = { sn: 12, programDateTime: T + 400 };
    const playing = new Date(T + 400 + 250);
    // Loaded as the open segment; now complete and listed, its date settled.
    assert.equal(redated(playing, loaded, playlist(10, 3, T - 2000))!.getTime(), T + 250);
    // Still the open segment (the fragment hint), already re-dated.
    assert.equal(redated(playing, loaded, playlist(10, 2, T - 2000, T))!.getTime(), T + 250);
  });

  it('keeps the date when nothing was re-dated, the segment is no longer listed, or has no date', () => {
    const loaded = { sn: 12, programDateTime: T };
    const playing = new Date(T + 250);
    assert.equal(redated(playing, loaded, playlist(10, 3, T - 2000))!.getTime(), T + 250, 'same date');
    assert.equal(redated(playing, loaded, playlist(20, 3, T + 8000))!.getTime(), T + 250, 'slid out of the playlist');
    assert.equal(redated(playing, loaded, { startSN: 10, fragments: [], fragmentHint: { sn: 12, programDateTime: null } })!.getTime(), T + 250, 'no date');
    assert.equal(redated(playing, undefined, playlist(10, 3, T)), playing, 'nothing playing yet');
    assert.equal(redated(playing, loaded, undefined), playing, 'no playlist');
    assert.equal(redated(null, loaded, playlist(10, 3, T)), null);
  });
});
