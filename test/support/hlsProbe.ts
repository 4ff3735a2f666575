import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

const HLS_JS = fileURLToPath(new URL('../../node_modules/hls.js/dist/hls.min.js', import.meta.url));

/** What an hls.js page has played so far (seconds of playhead movement) and how. */
export type HlsProbe = { currentTime: number; progressed: number; maxGapMs: number; loads: number; fatals: string[]; errors: string[]; bufferAhead: number; endlists: number; resyncs: number };

/**
 * Plays `src` with hls.js (low-latency mode, muted) on `page`, which must already be on an http
 * origin, and reloads the same URL a second after any fatal error, as a resilient player does.
 * Like the watch page's HlsView (player/src/hls/live-resync.ts), it jumps to hls.js'
 * `liveSyncPosition` after 3 s stalled with nothing buffered at the playhead while the live
 * position is ahead: hls.js does not leave that state by itself (a part lost with a node).
 * The page keeps a probe: playhead progress, the longest stall, reloads, errors, and how many
 * media playlists it loaded with EXT-X-ENDLIST (a live player stops reloading after one).
 */
export async function startHlsProbe(page: Page, src: string): Promise<void> {
  await page.addScriptTag({ path: HLS_JS });
  await page.evaluate((url) => {
    type HlsCtor = { new (config: object): HlsInstance; Events: Record<string, string> };
    type HlsInstance = {
      loadSource(u: string): void;
      attachMedia(v: HTMLVideoElement): void;
      destroy(): void;
      liveSyncPosition: number | null;
      on(e: string, f: (ev: string, d: { fatal: boolean; details: string }) => void): void;
      on(e: string, f: (ev: string, d: { details: { live: boolean } }) => void): void;
    };
    const Hls = (window as unknown as { Hls: HlsCtor }).Hls;
    const video = document.createElement('video');
    video.muted = true;
    document.body.append(video);
    const probe = { currentTime: 0, progressed: 0, maxGapMs: 0, loads: 0, fatals: [] as string[], errors: [] as string[], bufferAhead: 0, endlists: 0, resyncs: 0, lastMoveAt: Date.now(), last: 0 };
    (window as unknown as { __probe: typeof probe }).__probe = probe;
    let current: HlsInstance | undefined;
    setInterval(() => {
      const sync = current?.liveSyncPosition;
      if (Date.now() - probe.lastMoveAt < 3000 || typeof sync !== 'number' || video.paused) return;
      const t = video.currentTime;
      for (let i = 0; i < video.buffered.length; i++) if (video.buffered.end(i) > t + 0.1 && video.buffered.start(i) <= t + 1) return;
      if (sync <= t + 0.5) return;
      probe.resyncs++;
      probe.lastMoveAt = Date.now();
      video.currentTime = sync;
    }, 1000);
    const load = () => {
      probe.loads++;
      const hls = new Hls({ lowLatencyMode: true });
      current = hls;
      hls.on(Hls.Events.ERROR!, (_e, data) => {
        if (!data.fatal) {
          if (probe.errors.length < 40) probe.errors.push(data.details);
          return;
        }
        probe.fatals.push(data.details);
        hls.destroy();
        setTimeout(load, 1000);
      });
      hls.on(Hls.Events.LEVEL_LOADED!, (_e, data: { details: { live: boolean } }) => {
        if (!data.details.live) probe.endlists++;
      });
      hls.loadSource(url);
      hls.attachMedia(video);
      void video.play().catch(() => {});
    };
    video.addEventListener('timeupdate', () => {
      const now = Date.now();
      const delta = video.currentTime - probe.last;
      probe.last = video.currentTime;
      probe.currentTime = video.currentTime;
      if (delta > 0 && delta < 5) {
        probe.progressed += delta;
        probe.maxGapMs = Math.max(probe.maxGapMs, now - probe.lastMoveAt);
        probe.lastMoveAt = now;
      }
      const b = video.buffered;
      probe.bufferAhead = b.length ? b.end(b.length - 1) - video.currentTime : 0;
    });
    load();
  }, src);
}

export function probeOf(page: Page): Promise<HlsProbe> {
  return page.evaluate(() => {
    const p = (window as unknown as { __probe: HlsProbe }).__probe;
    return { currentTime: p.currentTime, progressed: p.progressed, maxGapMs: p.maxGapMs, loads: p.loads, fatals: [...p.fatals], errors: [...p.errors], bufferAhead: p.bufferAhead, endlists: p.endlists, resyncs: p.resyncs };
  });
}

/** The longest stall counts from now on, not a stall that began before. */
export async function resetStall(page: Page): Promise<void> {
  await page.evaluate(() => {
    const probe = (window as unknown as { __probe: HlsProbe & { lastMoveAt: number } }).__probe;
    probe.maxGapMs = 0;
    probe.lastMoveAt = Date.now();
  });
}
