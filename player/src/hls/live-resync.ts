/**
 * Where a live player stuck behind its playlist should jump, or undefined to leave it to hls.js.
 *
 * hls.js bridges small holes in the buffer itself, but not this one: a broadcast that moved to
 * another node (cluster failover or drain) carries its numbering on after a discontinuity, and
 * a part that was being fetched when the old node went is never delivered. The playhead then
 * sits at the end of the buffer, before the first fragment hls.js maps for the new node, and
 * hls.js keeps reloading the playlist without loading a fragment (seen in the cluster e2e).
 *
 * Jump only when nothing is buffered at or just after the playhead (else hls.js's own gap
 * handling gets there) and the live sync position is ahead of it.
 */
export function liveResyncTarget(currentTime: number, buffered: TimeRanges, liveSyncPosition: number | null | undefined): number | undefined {
  if (typeof liveSyncPosition !== 'number' || !Number.isFinite(liveSyncPosition)) return undefined;
  for (let i = 0; i < buffered.length; i++) {
    if (buffered.end(i) > currentTime + 0.1 && buffered.start(i) <= currentTime + 1) return undefined;
  }
  return liveSyncPosition > currentTime + 0.5 ? liveSyncPosition : undefined;
}
