import type Hls from 'hls.js';
import { EventEmitter } from '../core/event-emitter.ts';

/** EXT-X-DATERANGE CLASS of stagecast's timed metadata (services/broadcast/timedMetadata.ts). */
export const METADATA_CLASS = 'com.stagecast.metadata';

/** One timed-metadata item, fired when the frame it belongs to is presented. */
export interface MetadataCue {
  id: string;
  /** The posted JSON, decoded from X-PAYLOAD; undefined if it did not decode. */
  payload: unknown;
  /** Media time of the frame it belongs to (hls.js maps START-DATE through the segment's PROGRAM-DATE-TIME). */
  startTime: number;
  /** Media time of the presented frame that fired it. */
  mediaTime: number;
  /** Wall clock when it fired, ms. */
  firedAt: number;
}

export type MetadataCueEvents = { cue: [cue: MetadataCue] };

export interface MetadataCueOptions {
  /**
   * Items already further than this behind the first presented frame when first seen are not
   * fired (a viewer who joins late does not get a burst of old questions). Default 2 s.
   */
  staleAfterSec?: number;
}

/** The playing hls.js and its element; both change when the view re-attaches. */
export type PlayerSource = () => { hls: Hls | undefined; video: HTMLVideoElement | undefined };

/**
 * Fires timed metadata (EXT-X-DATERANGE of class METADATA_CLASS) at the frame it belongs to.
 * On every presented frame (requestVideoFrameCallback) it compares the frame's media time with
 * the start time of each date range in the levels' playlists (hls.js `LevelDetails.dateRanges`),
 * and fires each once, on the first frame at or after it. TextTrack cues would fire on
 * `timeupdate` granularity (up to 250 ms late); a frame callback is as exact as the frames.
 * `destroy()` cancels the frame callback and drops listeners. Idempotent.
 */
export class MetadataCueController extends EventEmitter<MetadataCueEvents> {
  readonly fired: MetadataCue[] = [];
  private readonly source: PlayerSource;
  private readonly staleAfterSec: number;
  /** Ids taken from a playlist once (fired, pending or skipped). */
  private readonly seen = new Set<string>();
  private readonly pending = new Map<string, { startTime: number; payload: unknown }>();
  private video: HTMLVideoElement | undefined;
  private handle = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private destroyed = false;

  constructor(source: PlayerSource, options: MetadataCueOptions = {}) {
    super();
    this.source = source;
    this.staleAfterSec = options.staleAfterSec ?? 2;
    // The element may be replaced (view restarted): look for the current one now and then.
    this.timer = setInterval(() => this.follow(), 250);
    this.follow();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    clearInterval(this.timer);
    if (this.video) this.video.cancelVideoFrameCallback(this.handle);
    this.video = undefined;
    this.removeAllListeners();
  }

  private follow(): void {
    const { video } = this.source();
    if (video === this.video) return;
    if (this.video) this.video.cancelVideoFrameCallback(this.handle);
    this.video = video;
    if (video) this.handle = video.requestVideoFrameCallback(this.onFrame);
  }

  private readonly onFrame = (_now: DOMHighResTimeStamp, metadata: VideoFrameCallbackMetadata): void => {
    const video = this.video;
    if (this.destroyed || !video) return;
    this.handle = video.requestVideoFrameCallback(this.onFrame);
    const mediaTime = metadata.mediaTime;
    this.collect(mediaTime);
    // Half a frame of slack: START-DATE is rounded to the millisecond, frame times are not.
    const slack = 0.5 / 60;
    for (const [id, item] of this.pending) {
      if (item.startTime < mediaTime - this.staleAfterSec) {
        this.pending.delete(id); // the playhead jumped past it (a seek to the live edge)
        continue;
      }
      if (mediaTime + slack < item.startTime) continue;
      this.pending.delete(id);
      const cue: MetadataCue = { id, payload: item.payload, startTime: item.startTime, mediaTime, firedAt: performance.timeOrigin + performance.now() };
      this.fired.push(cue);
      this.emit('cue', cue);
    }
  };

  /**
   * Takes the date ranges of our class into `pending`. They are kept there until fired: a viewer
   * further behind the live edge than the playlist's window would otherwise lose an item whose
   * segment left the playlist before the playhead reached it.
   *
   * The playing level's first: its times are those of the frames on screen. Then every other
   * level's: after an ABR switch hls.js reloads only the level it loads next, so the playing
   * level's playlist stops changing, and an item posted meanwhile is only in the next level's
   * until its segments play (every rendition carries every item, under the same id).
   */
  private collect(mediaTime: number): void {
    const { hls } = this.source();
    if (!hls) return;
    const playing = hls.currentLevel;
    const levels = hls.levels.filter((_, i) => i !== playing);
    if (playing >= 0 && hls.levels[playing]) levels.unshift(hls.levels[playing]);
    const taken = new Set<string>();
    for (const level of levels) {
      const ranges = level.details?.dateRanges;
      if (!ranges) continue;
      for (const id of Object.keys(ranges)) {
        const range = ranges[id]!;
        if (range.class !== METADATA_CLASS || taken.has(id)) continue;
        const startTime = range.startTime;
        if (!Number.isFinite(startTime)) continue;
        taken.add(id);
        const known = this.pending.get(id);
        if (known) {
          known.startTime = startTime; // hls.js refines fragment starts as it parses them
          continue;
        }
        if (this.seen.has(id)) continue;
        this.seen.add(id);
        if (startTime < mediaTime - this.staleAfterSec) continue;
        this.pending.set(id, { startTime, payload: decodePayload(range.attr['X-PAYLOAD']) });
      }
    }
  }
}

/** X-PAYLOAD: base64 of UTF-8 JSON. */
export function decodePayload(value: string | undefined): unknown {
  if (!value) return undefined;
  try {
    const bytes = Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}
