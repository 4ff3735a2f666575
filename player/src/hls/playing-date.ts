/** The parts of an hls.js fragment a date needs (hls.js `Fragment`). */
export interface DatedFragment {
  sn: number | 'initSegment';
  programDateTime: number | null;
}

/** The parts of an hls.js playlist a date needs (hls.js `LevelDetails`). */
export interface DatedPlaylist {
  startSN: number;
  fragments: DatedFragment[];
  fragmentHint?: DatedFragment | undefined;
}

/**
 * `date` (hls.js `playingDate`: the playing fragment's PROGRAM-DATE-TIME as it was loaded, plus
 * the playhead's offset into it) moved by what the newest playlist says of that same segment.
 * The packager may date a new input's first segment a little earlier on later playlists
 * (services/packager/segmenter.ts), and hls.js keeps the date it loaded until the next
 * fragment plays. Unchanged when the playlist does not list that segment (any more) or gives it
 * no date.
 */
export function redated(date: Date | null, playing: DatedFragment | undefined, newest: DatedPlaylist | undefined): Date | null {
  if (!date || !playing || !newest || playing.programDateTime === null || typeof playing.sn !== 'number') return date;
  const listed = newest.fragments[playing.sn - newest.startSN];
  const same = listed?.sn === playing.sn ? listed : newest.fragmentHint?.sn === playing.sn ? newest.fragmentHint : undefined;
  if (!same || same.programDateTime === null) return date;
  return new Date(date.getTime() + same.programDateTime - playing.programDateTime);
}
