/**
 * Browser side of the HLS latency bench (bench/hls-latency.ts). Exposes `window.hlsBench`,
 * driven from Node through playwright. Two kinds of player, each under a string id:
 *   - `ours`: the watch page's own HlsView (player/src/hls), i.e. hls.js in low-latency mode
 *     with the player's config, exactly what an audience member runs;
 *   - `baseline`: plain hls.js with its defaults (lowLatencyMode false), for a plain HLS stream.
 * Each presented frame's latency pattern (test/support/latency-pattern.ts) is read back with
 * requestVideoFrameCallback. The broadcast letterboxes the 4:3 pattern into a 16:9 stage, so
 * the reader crops the pattern's rectangle before decoding it.
 */
import Hls from 'hls.js';
import { HlsView } from '../../player/src/hls/hls-view.ts';
import { startPatternReader, type LatencyStats, type PatternReader } from '../../test/support/latency-pattern.ts';

interface Player {
  video: HTMLVideoElement;
  reader: PatternReader;
  /** PROGRAM-DATE-TIME of the playing position. */
  playingDate(): Date | null;
  level(): string;
  fatalErrors(): string[];
  close(): void;
}

const players = new Map<string, Player>();

function container(id: string): HTMLElement {
  const div = document.createElement('div');
  div.id = `player-${id}`;
  div.style.width = '640px';
  document.body.append(div);
  return div;
}

const api = {
  /** The watch page's HlsView on `src`. */
  async playOurs(id: string, src: string): Promise<void> {
    api.close(id);
    const root = container(id);
    const view = new HlsView(root, { src });
    await view.start();
    const video = view.videoElement!;
    video.style.width = '640px';
    const hls = () => view.hlsInstance;
    players.set(id, {
      video,
      reader: startPatternReader(video, { letterboxed: true }),
      playingDate: () => hls()?.playingDate ?? null,
      level: () => {
        const h = hls();
        const l = h && h.currentLevel >= 0 ? h.levels[h.currentLevel] : undefined;
        return l ? `${l.width}x${l.height}` : '?';
      },
      fatalErrors: () => view.snapshot().fatalErrors.map((e) => `${e.details} (${e.action})`),
      close() {
        view.destroy();
        root.remove();
      },
    });
  },

  /** Plain hls.js with its defaults (no low-latency mode) on `src`. */
  async playBaseline(id: string, src: string): Promise<void> {
    api.close(id);
    const root = container(id);
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.style.width = '640px';
    root.append(video);
    const hls = new Hls({ lowLatencyMode: false });
    const fatal: string[] = [];
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal) return;
      fatal.push(data.details);
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR) hls.startLoad();
      else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => void video.play().catch(() => {}));
    hls.attachMedia(video);
    hls.loadSource(src);
    players.set(id, {
      video,
      reader: startPatternReader(video, { letterboxed: true }),
      playingDate: () => hls.playingDate,
      // A media playlist alone has no RESOLUTION: report the decoded picture.
      level: () => `${video.videoWidth}x${video.videoHeight}`,
      fatalErrors: () => [...fatal],
      close() {
        hls.destroy();
        root.remove();
      },
    });
  },

  readerStats(id: string, withSamples = true): LatencyStats & { currentTime: number } {
    const p = players.get(id);
    if (!p) throw new Error(`no player ${id}`);
    const s = p.reader.stats;
    return { ...s, samples: withSamples ? s.samples : [], currentTime: p.video.currentTime };
  },

  resetReader(id: string): void {
    players.get(id)?.reader.reset();
  },

  /** now − PROGRAM-DATE-TIME of the playing position (s), the rendition playing, fatal errors. */
  info(id: string): { pdtLatencySec: number | null; level: string; fatalErrors: string[]; framesDropped: number } {
    const p = players.get(id);
    if (!p) throw new Error(`no player ${id}`);
    const date = p.playingDate();
    return {
      pdtLatencySec: date ? (Date.now() - date.getTime()) / 1000 : null,
      level: p.level(),
      fatalErrors: p.fatalErrors(),
      framesDropped: p.video.getVideoPlaybackQuality().droppedVideoFrames,
    };
  },

  close(id: string): void {
    const p = players.get(id);
    if (!p) return;
    p.reader.stop();
    p.close();
    players.delete(id);
  },
};

export type HlsBenchApi = typeof api;

declare global {
  interface Window {
    hlsBench: HlsBenchApi;
  }
}

window.hlsBench = api;
document.title = 'hls-bench ready';
