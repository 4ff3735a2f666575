import type { HlsConfig } from 'hls.js';
import { playbackTokenHlsConfig } from './playback-token.ts';

/**
 * Config of an HlsView: one object, every default documented here and applied by
 * `resolveHlsViewConfig`, which also rejects contradictory options with a clear message.
 */
export interface HlsViewConfig {
  /** Multivariant playlist URL (`/hls/<room>/index.m3u8`). Required. */
  src: string;
  /** How often a playlist that is missing (404: no broadcast yet) or ended is asked for again. Default 1000 ms. */
  waitRetryMs: number;
  /** Playback that should advance but has not for this long is reported `stalled`. Default 1000 ms. */
  stallAfterMs: number;
  /**
   * A live stall this long with nothing buffered to play, while the live playlist has moved on,
   * makes the view jump to the live sync position (live-resync.ts). Default 3000 ms.
   */
  resyncAfterMs: number;
  /** How often the latency readout is refreshed. Default 250 ms. */
  latencyIntervalMs: number;
  /** Fatal hls.js errors recovered within `recoveryWindowMs` before the view gives up. Default 6. */
  maxRecoveries: number;
  /** Window for `maxRecoveries`. Default 30000 ms. */
  recoveryWindowMs: number;
  /** Most recent non-fatal errors kept for diagnosis. Default 100. */
  maxErrorsKept: number;
  /**
   * Start with the sound off (another view is audible while this one gets ready; `setMuted(false)`
   * at the swap). Default false: sound on where autoplay allows it.
   */
  muted: boolean;
  /**
   * hls.js options, applied over `lowLatencyHlsConfig()`. Default: none. `lowLatencyMode`
   * must stay true (the broadcast is LL-HLS; a player that ignores parts is 3 s behind).
   */
  hls: Partial<HlsConfig>;
  /**
   * The current playback token of a private broadcast, read before every request, which then
   * carries it as `?token=` (playback-token.ts). Default: none (a public room: no token). Sets
   * hls.js' `xhrSetup`, so `hls.xhrSetup` cannot be given with it.
   */
  playbackToken: (() => string | undefined) | undefined;
}

/**
 * hls.js config for our LL-HLS broadcast (0.2 s parts, 1 s segments, PART-HOLD-BACK 0.6 s).
 *
 * - lowLatencyMode: load parts and use blocking playlist reload.
 * - Target latency: left to the playlist's PART-HOLD-BACK (3 parts), which hls.js uses in
 *   low-latency mode when no liveSync* option is set; so the origin, not the player, owns it.
 * - maxLiveSyncPlaybackRate 1.25: after a stall, catch up by playing slightly faster rather than
 *   staying behind for the rest of the session (or seeking, which shows a jump).
 * - liveSyncOnStallIncrease 0.2: each stall adds one part to the target, not hls.js' default
 *   1 s; a single glitch (an ffmpeg restart) must not cost a second of latency for good.
 * - backBufferLength 10: a live viewer never seeks back far; keep memory flat in long sessions.
 */
export function lowLatencyHlsConfig(): Partial<HlsConfig> {
  return {
    lowLatencyMode: true,
    maxLiveSyncPlaybackRate: 1.25,
    liveSyncOnStallIncrease: 0.2,
    backBufferLength: 10,
    enableWorker: true,
  };
}

export const defaultHlsViewConfig = (): Omit<HlsViewConfig, 'src'> => ({
  waitRetryMs: 1000,
  stallAfterMs: 1000,
  resyncAfterMs: 3000,
  latencyIntervalMs: 250,
  maxRecoveries: 6,
  recoveryWindowMs: 30000,
  maxErrorsKept: 100,
  muted: false,
  hls: {},
  playbackToken: undefined,
});

export interface ResolvedHlsViewConfig extends HlsViewConfig {
  /** The hls.js config actually used: `lowLatencyHlsConfig()` then `hls`. */
  hlsConfig: Partial<HlsConfig>;
}

export function resolveHlsViewConfig(config: Partial<HlsViewConfig> & { src: string }): ResolvedHlsViewConfig {
  if (typeof config.src !== 'string' || config.src.length === 0) throw new TypeError('HlsView: config.src is required');
  const merged = { ...defaultHlsViewConfig(), ...config };
  for (const key of ['waitRetryMs', 'stallAfterMs', 'resyncAfterMs', 'latencyIntervalMs', 'maxRecoveries', 'recoveryWindowMs', 'maxErrorsKept'] as const) {
    if (!(Number.isFinite(merged[key]) && merged[key] > 0)) throw new TypeError(`HlsView: ${key} must be a number > 0 (got ${merged[key]})`);
  }
  if (merged.playbackToken !== undefined && typeof merged.playbackToken !== 'function') throw new TypeError('HlsView: playbackToken must be a function');
  if (merged.playbackToken && merged.hls.xhrSetup) throw new TypeError('HlsView: playbackToken sets hls.xhrSetup; give one or the other');
  const tokenConfig = merged.playbackToken ? playbackTokenHlsConfig(merged.playbackToken) : {};
  const hlsConfig = { ...lowLatencyHlsConfig(), ...tokenConfig, ...merged.hls };
  if (hlsConfig.lowLatencyMode === false) {
    throw new TypeError('HlsView: hls.lowLatencyMode: false contradicts the LL-HLS broadcast; use plain hls.js for a non-LL player');
  }
  if (hlsConfig.liveSyncDuration !== undefined && hlsConfig.liveSyncDurationCount !== undefined) {
    throw new TypeError('HlsView: set hls.liveSyncDuration or hls.liveSyncDurationCount, not both');
  }
  if (
    hlsConfig.liveSyncDuration !== undefined &&
    hlsConfig.liveMaxLatencyDuration !== undefined &&
    hlsConfig.liveMaxLatencyDuration <= hlsConfig.liveSyncDuration
  ) {
    throw new TypeError('HlsView: hls.liveMaxLatencyDuration must be greater than hls.liveSyncDuration');
  }
  return { ...merged, hlsConfig };
}
