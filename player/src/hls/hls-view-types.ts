/**
 * States of an HlsView:
 *   idle     constructed, not started
 *   loading  broadcast found, hls.js loading; no frame played yet
 *   waiting  no broadcast yet (playlist 404); asking again every `waitRetryMs`
 *   playing  the playhead advances
 *   stalled  it should advance but has not for `stallAfterMs`
 *   ended    the broadcast ended (ENDLIST played out); waiting for the next one
 *   failed   gave up after a fatal error it could not recover (see `error`)
 *   stopped  stop() was called
 */
export type HlsViewState = 'idle' | 'loading' | 'waiting' | 'playing' | 'stalled' | 'ended' | 'failed' | 'stopped';

/** An hls.js error as the view records it: hls.js' `{ type, details, fatal }` plus context. */
export interface HlsErrorRecord {
  type: string;
  details: string;
  fatal: boolean;
  /** Human-readable, safe to show. */
  message: string;
  /** What the view did about a fatal error. */
  action?: string;
  /** Wall clock, ms. */
  at: number;
}

export type HlsViewEvents = {
  statechange: [state: HlsViewState];
  /** Every hls.js error. A fatal one is either recovered (`action`) or followed by state `failed`. */
  error: [error: HlsErrorRecord];
};

/** What `window.__watch.hls` shows: live values, read when accessed. */
export interface HlsViewSnapshot {
  state: HlsViewState;
  /** video.currentTime, s. */
  currentTime: number;
  /** now − PROGRAM-DATE-TIME of the playing position, s; null before the first dated frame. */
  latencySec: number | null;
  /** End of the buffered range the playhead is in (or the last one), s; 0 when nothing is buffered. */
  bufferedEnd: number;
  /** hls.js' current target latency, s. */
  targetLatencySec: number | null;
  /** Decoded video frames shown: totalVideoFrames − droppedVideoFrames. */
  framesDecoded: number;
  droppedFrames: number;
  /** Audio tracks in the buffered media (from hls.js BUFFER_CODECS), 0 if the stream has none. */
  audioTracks: number;
  /** Bytes of audio the element has decoded (Chromium's webkitAudioDecodedByteCount); -1 if unknown. */
  audioDecodedBytes: number;
  /** Picture size of the playing rendition. */
  videoWidth: number;
  videoHeight: number;
  /** Fatal hls.js errors, recovered or not. */
  fatalErrors: HlsErrorRecord[];
  /** The latest non-fatal hls.js errors. */
  errors: HlsErrorRecord[];
}
