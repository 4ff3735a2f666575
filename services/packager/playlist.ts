/**
 * HLS playlist writer (RFC 8216bis, with the low-latency tags). One function per tag, each
 * returning the tag's line; `mediaPlaylist` and `multivariantPlaylist` assemble them. Pure:
 * the same model always gives the same text.
 */

export interface PlaylistPart {
  uri: string;
  durationSec: number;
  independent: boolean;
}

export interface PlaylistSegment {
  msn: number;
  uri: string;
  durationSec: number;
  programDateTime: Date;
  discontinuity: boolean;
  discontinuitySequence: number;
  initUri: string;
  /** Parts to list before the segment (LL-HLS); empty for older segments or non-LL playlists. */
  parts: PlaylistPart[];
  /** False for the open segment: only its parts are listed, no EXTINF. */
  complete: boolean;
  /** EXT-X-GAP: the segment's media is missing (lost to a storage outage). */
  gap?: boolean;
  /** Timed metadata that starts within this segment (EXT-X-DATERANGE, after its PROGRAM-DATE-TIME). */
  dateRanges?: DateRangeModel[];
}

/**
 * One timed-metadata item as EXT-X-DATERANGE. START-DATE is on the segment's PROGRAM-DATE-TIME
 * timeline, so a player maps it to the media time of the frame it was attached to.
 */
export interface DateRangeModel {
  /** Unique within the playlist; [A-Za-z0-9_-]. */
  id: string;
  /** CLASS: what kind of metadata (the player only acts on its own class). */
  classId: string;
  startDate: Date;
  /** X-PAYLOAD: base64 of the payload's UTF-8 JSON (a quoted string cannot hold `"` or line breaks). */
  payload: string;
}

export interface RenditionReport {
  uri: string;
  lastMsn: number;
  lastPart: number;
}

export interface MediaPlaylistModel {
  version: number;
  targetDurationSec: number;
  /** LL-HLS only. */
  lowLatency?: { partTargetSec: number; partHoldBackSec: number; preloadHintUri?: string; renditionReports: RenditionReport[] };
  playlistType?: 'EVENT' | 'VOD';
  mediaSequence: number;
  segments: PlaylistSegment[];
  ended: boolean;
}

export interface VariantModel {
  uri: string;
  bandwidth: number;
  codecs: string;
  width?: number;
  height?: number;
  frameRate?: number;
}

/** Seconds with up to 5 decimals, no trailing zeros beyond the first decimal. */
export function formatSeconds(sec: number): string {
  const fixed = sec.toFixed(5).replace(/0+$/, '');
  return fixed.endsWith('.') ? `${fixed}0` : fixed;
}

export const extM3u = (): string => '#EXTM3U';
export const version = (v: number): string => `#EXT-X-VERSION:${v}`;
export const independentSegments = (): string => '#EXT-X-INDEPENDENT-SEGMENTS';
export const targetDuration = (sec: number): string => `#EXT-X-TARGETDURATION:${sec}`;
export const serverControl = (partHoldBackSec: number): string =>
  `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${formatSeconds(partHoldBackSec)}`;
export const partInf = (partTargetSec: number): string => `#EXT-X-PART-INF:PART-TARGET=${formatSeconds(partTargetSec)}`;
export const playlistType = (type: 'EVENT' | 'VOD'): string => `#EXT-X-PLAYLIST-TYPE:${type}`;
export const mediaSequence = (msn: number): string => `#EXT-X-MEDIA-SEQUENCE:${msn}`;
export const discontinuitySequence = (seq: number): string => `#EXT-X-DISCONTINUITY-SEQUENCE:${seq}`;
export const map = (uri: string): string => `#EXT-X-MAP:URI="${uri}"`;
export const discontinuity = (): string => '#EXT-X-DISCONTINUITY';
export const programDateTime = (date: Date): string => `#EXT-X-PROGRAM-DATE-TIME:${date.toISOString()}`;
export const gap = (): string => '#EXT-X-GAP';
export const dateRange = (d: DateRangeModel): string =>
  `#EXT-X-DATERANGE:ID="${d.id}",CLASS="${d.classId}",START-DATE="${d.startDate.toISOString()}",X-PAYLOAD="${d.payload}"`;
/** The protocol version that defines EXT-X-GAP. */
const GAP_VERSION = 8;
export const extinf = (sec: number): string => `#EXTINF:${formatSeconds(sec)},`;
export const part = (p: PlaylistPart): string =>
  `#EXT-X-PART:DURATION=${formatSeconds(p.durationSec)},URI="${p.uri}"${p.independent ? ',INDEPENDENT=YES' : ''}`;
export const preloadHint = (uri: string): string => `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${uri}"`;
export const renditionReport = (r: RenditionReport): string =>
  `#EXT-X-RENDITION-REPORT:URI="${r.uri}",LAST-MSN=${r.lastMsn},LAST-PART=${r.lastPart}`;
export const endlist = (): string => '#EXT-X-ENDLIST';
export const streamInf = (v: VariantModel): string => {
  const attrs = [`BANDWIDTH=${Math.round(v.bandwidth)}`, `CODECS="${v.codecs}"`];
  if (v.width && v.height) attrs.push(`RESOLUTION=${v.width}x${v.height}`);
  if (v.frameRate) attrs.push(`FRAME-RATE=${v.frameRate.toFixed(3)}`);
  return `#EXT-X-STREAM-INF:${attrs.join(',')}`;
};

/** A media playlist. The first segment's DISCONTINUITY (if any) stays, and the sequence
 * header counts it, so players that increment on the tag agree with the header. */
export function mediaPlaylist(m: MediaPlaylistModel): string {
  // EXT-X-GAP is defined by protocol version 8: a playlist that carries it declares at least that.
  const declared = m.segments.some((s) => s.gap) ? Math.max(m.version, GAP_VERSION) : m.version;
  const lines = [extM3u(), version(declared), targetDuration(m.targetDurationSec)];
  if (m.lowLatency) lines.push(serverControl(m.lowLatency.partHoldBackSec), partInf(m.lowLatency.partTargetSec));
  if (m.playlistType) lines.push(playlistType(m.playlistType));
  lines.push(mediaSequence(m.mediaSequence));
  const first = m.segments[0];
  if (first) lines.push(discontinuitySequence(first.discontinuitySequence - (first.discontinuity ? 1 : 0)));
  let currentInit: string | undefined;
  for (const s of m.segments) {
    if (s.discontinuity) lines.push(discontinuity());
    if (s.initUri !== currentInit) {
      lines.push(map(s.initUri));
      currentInit = s.initUri;
    }
    lines.push(programDateTime(s.programDateTime));
    for (const d of s.dateRanges ?? []) lines.push(dateRange(d));
    for (const p of s.parts) lines.push(part(p));
    if (s.complete) {
      if (s.gap) lines.push(gap());
      lines.push(extinf(s.durationSec), s.uri);
    }
  }
  if (m.lowLatency && !m.ended) {
    if (m.lowLatency.preloadHintUri) lines.push(preloadHint(m.lowLatency.preloadHintUri));
    for (const r of m.lowLatency.renditionReports) lines.push(renditionReport(r));
  }
  if (m.ended) lines.push(endlist());
  return `${lines.join('\n')}\n`;
}

/** The multivariant playlist: one EXT-X-STREAM-INF per rendition, highest bandwidth first. */
export function multivariantPlaylist(variants: VariantModel[]): string {
  const lines = [extM3u(), version(6), independentSegments()];
  for (const v of [...variants].sort((a, b) => b.bandwidth - a.bandwidth)) lines.push(streamInf(v), v.uri);
  return `${lines.join('\n')}\n`;
}
