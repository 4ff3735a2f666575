import { randomBytes } from 'node:crypto';

/**
 * A recording: one broadcast, from its start to its stop, kept in storage as VOD HLS beside
 * the live objects of its room:
 *
 *   <room>/recordings/<id>/recording.json           this manifest (RecordingInfo)
 *   <room>/recordings/<id>/index.m3u8               multivariant playlist
 *   <room>/recordings/<id>/<rendition>/index.m3u8   media playlist: EVENT while recording, VOD with ENDLIST at the end
 *   <room>/recordings/<id>/<rendition>/<init|seg>   the same media objects as the live broadcast
 *
 * The live window's expiry only deletes names it uploaded under `<room>/<rendition>/`, so it
 * never touches a recording. The origin serves the same paths under `/hls/`.
 */

/** Recording ids: what `newRecordingId` makes (base-36 time and random hex). */
export const RECORDING_ID_PATTERN = /^[0-9a-z]{8,32}$/;
export const RECORDINGS_FOLDER = 'recordings';
export const RECORDING_MANIFEST = 'recording.json';

export interface RecordingInfo {
  id: string;
  roomId: string;
  /** `recording` while the broadcast runs, `ready` once every object is stored and the playlists are VOD. */
  state: 'recording' | 'ready';
  startedAt: string;
  /** Once ready. */
  endedAt?: string;
  /** Seconds of media stored (the longest rendition); 0 while recording. */
  durationSec: number;
}

export function newRecordingId(now = Date.now()): string {
  return `${now.toString(36)}${randomBytes(4).toString('hex')}`;
}

export function isRecordingId(id: string): boolean {
  return RECORDING_ID_PATTERN.test(id);
}

/** Key prefix (no trailing slash) of every object of one recording. */
export function recordingPrefix(roomId: string, id: string): string {
  return `${roomId}/${RECORDINGS_FOLDER}/${id}`;
}

/** Path of a recording's multivariant playlist on the origin. */
export function recordingPlaylistPath(roomId: string, id: string): string {
  return `/hls/${recordingPrefix(roomId, id)}/index.m3u8`;
}

/** Reads a stored manifest; undefined for anything that is not one of ours. */
export function parseRecordingInfo(body: Buffer): RecordingInfo | undefined {
  try {
    const v = JSON.parse(body.toString('utf8')) as Partial<RecordingInfo>;
    if (typeof v.id !== 'string' || !isRecordingId(v.id) || typeof v.roomId !== 'string' || typeof v.startedAt !== 'string') return undefined;
    if (v.state !== 'recording' && v.state !== 'ready') return undefined;
    return {
      id: v.id,
      roomId: v.roomId,
      state: v.state,
      startedAt: v.startedAt,
      ...(typeof v.endedAt === 'string' ? { endedAt: v.endedAt } : {}),
      durationSec: typeof v.durationSec === 'number' ? v.durationSec : 0,
    };
  } catch {
    return undefined;
  }
}
