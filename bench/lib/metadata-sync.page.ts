/**
 * Browser side of the timed-metadata sync bench (bench/metadata-sync.ts), `window.metadataBench`.
 * Plays the broadcast with the watch page's own HlsView and MetadataCueController (what an
 * audience member runs) and, on every presented frame, reads the latency pattern
 * (test/support/latency-pattern.ts) painted into it by the sender: the sender's clock at capture
 * identifies the frame. The bench then compares the frame a cue fired on with the frame the
 * server attached it to.
 */
import Hls from 'hls.js';
import { HlsView } from '../../player/src/hls/hls-view.ts';
import { MetadataCueController, type MetadataCue } from '../../player/src/hls/metadata-cues.ts';
import { decodePattern, drawLetterboxedPattern, restoreTimestamp, wallClock } from '../../test/support/latency-pattern.ts';

interface FrameRecord {
  mediaTime: number;
  /** Sender clock painted into the frame, ms; null when it did not decode. */
  sentAt: number | null;
}

const W = 128;
const H = 96;
const frames: FrameRecord[] = [];
const cues: (MetadataCue & { levelUrl: string })[] = [];
/** When each date range first showed up in a playlist hls.js loaded, and where the playhead was then. */
const firstSeen = new Map<string, { at: number; currentTime: number; startTime: number }>();
let view: HlsView | undefined;
let controller: MetadataCueController | undefined;

function readFrames(video: HTMLVideoElement): void {
  const canvas = document.createElement('canvas');
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const onFrame = (_now: number, metadata: VideoFrameCallbackMetadata) => {
    video.requestVideoFrameCallback(onFrame);
    // The program letterboxes the 4:3 pattern into 16:9.
    drawLetterboxedPattern(ctx, video, metadata.width || video.videoWidth, metadata.height || video.videoHeight, W, H);
    const decoded = decodePattern(ctx.getImageData(0, 0, W, H).data, W, H);
    frames.push({ mediaTime: metadata.mediaTime, sentAt: decoded ? restoreTimestamp(decoded.timestampLow32, wallClock()) : null });
    if (frames.length > 5000) frames.splice(0, 1000);
  };
  video.requestVideoFrameCallback(onFrame);
}

const api = {
  async play(src: string): Promise<void> {
    const root = document.createElement('div');
    root.style.width = '640px';
    document.body.append(root);
    const v = new HlsView(root, { src, muted: true });
    view = v;
    await v.start();
    readFrames(v.videoElement!);
    const watchLevels = () => {
      const hls = v.hlsInstance;
      if (!hls) return void setTimeout(watchLevels, 100);
      hls.on(Hls.Events.LEVEL_UPDATED, (_e, data) => {
        for (const [id, range] of Object.entries(data.details.dateRanges)) {
          if (range && !firstSeen.has(id)) firstSeen.set(id, { at: wallClock(), currentTime: v.videoElement?.currentTime ?? NaN, startTime: range.startTime });
        }
      });
    };
    watchLevels();
    controller = new MetadataCueController(() => ({ hls: v.hlsInstance, video: v.videoElement }));
    controller.on('cue', (cue) => {
      const hls = v.hlsInstance;
      const level = hls && hls.currentLevel >= 0 ? hls.levels[hls.currentLevel] : undefined;
      cues.push({ ...cue, levelUrl: level?.url[0] ?? '' });
    });
  },
  /** URL of the media playlist the player is playing now. */
  levelUrl(): string {
    const hls = view?.hlsInstance;
    const level = hls && hls.currentLevel >= 0 ? hls.levels[hls.currentLevel] : undefined;
    return level?.url[0] ?? '';
  },
  state(): { state: string; decoded: number } {
    return { state: view?.state ?? 'none', decoded: frames.filter((f) => f.sentAt !== null).length };
  },
  cues(): (MetadataCue & { levelUrl: string })[] {
    return cues.map((c) => ({ ...c }));
  },
  seen(id: string): { at: number; currentTime: number; startTime: number } | null {
    return firstSeen.get(id) ?? null;
  },
  /** Diagnostics: the playing level's date ranges and the playhead. */
  debug(): { currentTime: number; level: number; ranges: { id: string; startTime: number; cls: string | undefined }[]; state: string } {
    const hls = view?.hlsInstance;
    const level = hls && hls.currentLevel >= 0 ? hls.levels[hls.currentLevel] : undefined;
    const ranges = level?.details?.dateRanges ?? {};
    return {
      currentTime: view?.videoElement?.currentTime ?? -1,
      level: hls?.currentLevel ?? -1,
      ranges: Object.keys(ranges).map((id) => ({ id, startTime: ranges[id]!.startTime, cls: ranges[id]!.class })),
      state: view?.state ?? 'none',
    };
  },
  /** The pattern of the presented frame with this media time (the nearest within half a frame). */
  frameAt(mediaTime: number): FrameRecord | null {
    let best: FrameRecord | null = null;
    for (const f of frames) if (!best || Math.abs(f.mediaTime - mediaTime) < Math.abs(best.mediaTime - mediaTime)) best = f;
    return best && Math.abs(best.mediaTime - mediaTime) < 0.017 ? best : null;
  },
};

export type MetadataBenchApi = typeof api;

declare global {
  interface Window {
    metadataBench: MetadataBenchApi;
  }
}

window.metadataBench = api;
document.title = 'metadata-bench ready';
