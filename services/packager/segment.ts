import type { ObjectNames } from './names.ts';
import type { Part } from './part.ts';
import type { DateRangeModel, PlaylistSegment } from './playlist.ts';

/**
 * A media segment: the parts from one IDR up to (not including) the IDR that starts the next
 * segment. Segments are immutable once complete; the open (newest) one grows part by part.
 */
export interface Segment {
  msn: number;
  parts: Part[];
  /** Sum of its parts' durations. */
  durationSec: number;
  /** Wall-clock time of the segment's first sample. */
  programDateTime: Date;
  /** EXT-X-DISCONTINUITY before this segment (first segment after an input restart). */
  discontinuity: boolean;
  /** Discontinuity sequence number of this segment (counts every DISCONTINUITY up to it). */
  discontinuitySequence: number;
  /** Init generation (EXT-X-MAP) this segment decodes with; a new one per input stream. */
  initGeneration: number;
  complete: boolean;
  /** Timed metadata that starts within it (EXT-X-DATERANGE). Shared with its playlist entries, so a late one shows everywhere. */
  dateRanges?: DateRangeModel[];
  /** The concatenated parts, once complete. */
  data?: Buffer;
}

/** How a segment is listed in a playlist; `withParts` lists its parts too (LL-HLS, near the live edge). */
export function toPlaylistSegment(s: Segment, names: ObjectNames, withParts: boolean): PlaylistSegment {
  return {
    msn: s.msn,
    uri: names.segment(s.msn),
    durationSec: s.durationSec,
    programDateTime: s.programDateTime,
    discontinuity: s.discontinuity,
    discontinuitySequence: s.discontinuitySequence,
    initUri: names.init(s.initGeneration),
    parts: withParts ? s.parts.map((p) => ({ uri: names.part(p.id), durationSec: p.durationSec, independent: p.independent })) : [],
    complete: s.complete,
    ...(s.dateRanges ? { dateRanges: s.dateRanges } : {}),
  };
}
