import type { Storage } from '../storage/Storage.ts';
import type { RecordingInfo } from './recording.ts';
import type { Part } from './part.ts';
import type { Segment } from './segment.ts';

export interface HlsPackagerOptions {
  /** Room id; the first path segment of every storage key and origin URL. Must match ^[A-Za-z0-9_-]{1,64}$. */
  roomId: string;
  /** Where segments and segment-only playlists are uploaded. */
  storage: Storage;
  /**
   * EXT-X-PART-INF PART-TARGET, seconds. Each part is one input fragment, and the spec wants
   * parts no longer than PART-TARGET and (but for independent and last ones) at least 85% of
   * it, so this must match the transcoder's -frag_duration: 0.2 s fragments need 0.2-0.235,
   * 0.3 s fragments suit 0.333. Default: derived from the input (the longest part of the first
   * segment, rounded up to the ms); live playlists are served once it is known.
   */
  partTargetSec?: number;
  /** A segment ends at the first IDR after it reaches this duration, seconds (1-6). Default 1. */
  segmentTargetSec?: number;
  /** Complete segments listed in live playlists (and kept in storage while live). Default 6. */
  windowSegments?: number;
  /** Keep every segment in storage, with an EVENT playlist that becomes VOD on end(). Default false. */
  record?: boolean;
  /**
   * Also keep this broadcast as a VOD recording with this id (see recording.ts), under
   * `<roomId>/recordings/<id>/`. Default: no recording.
   */
  recordingId?: string;
  /** Segment uploads held per rendition while storage is failing; older ones are dropped past it. Default 120. */
  uploadBufferSegments?: number;
  /** Names objects so that a restarted packager never reuses a name (see names.ts). Default: start time in base 36. */
  epoch?: string;
  /**
   * Carry on the numbering of an earlier packager of the same room, so that its playlists stay
   * one stream for players and caches: the room's broadcast moved here after its node died. The
   * first segment of each rendition gets media sequence `nextMsn` and carries a discontinuity.
   * Default: numbering from 0.
   */
  resume?: HlsResumePoint;
}

/** How far a packager's numbering got (`HlsPackager.position()`), for a successor to carry on. */
export interface HlsResumePoint {
  /** The media sequence number the next segment gets. */
  nextMsn: number;
  /** The discontinuity sequence of the last segment. */
  discontinuitySequence: number;
}

export interface RenditionInfo {
  /** Peak bits per second, for EXT-X-STREAM-INF BANDWIDTH. */
  bandwidth: number;
  /** Default: from the init segment. */
  width?: number;
  /** Default: from the init segment. */
  height?: number;
  frameRate?: number;
}

export type HlsPackagerEvents = {
  /** A part was published (and is in the live playlist). */
  part: [rendition: string, part: Part];
  /** A segment completed. */
  segment: [rendition: string, segment: Segment];
  /** Every rendition has a complete segment: the multivariant playlist is playable. Once. */
  ready: [];
  /** A rendition's input failed to parse; its stream was dropped. */
  inputerror: [rendition: string, error: Error];
  /** end() was called: playlists carry ENDLIST. */
  ended: [];
  /** The recording is complete in storage: VOD playlists, manifest `ready`. Once, after `ended`. */
  recorded: [info: RecordingInfo];
  close: [reason: string];
};
