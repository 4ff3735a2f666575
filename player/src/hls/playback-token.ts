import type { HlsConfig } from 'hls.js';

/**
 * Playback tokens for private broadcasts. A private room's origin wants `?token=<playback token>`
 * on every playlist and media request. A query on the playlist's own URL does not carry over to
 * the relative URLs inside it, so the player adds it to each request: hls.js through
 * `xhrSetup` (its default loader is XHR, for playlists and media alike), the broadcast probe
 * through `withPlaybackToken`. Playlists stay byte-identical for every viewer, and an edge keys
 * its cache on the URL without the token (README, Private broadcasts).
 */

/** The query parameter the origin reads (services/origin/playbackGate.ts). */
export const PLAYBACK_TOKEN_PARAM = 'token';

/** `url` with the token set in its query (replacing one already there); unchanged without a token. */
export function withPlaybackToken(url: string, token: string | undefined): string {
  if (!token) return url;
  const parsed = new URL(url, location.href);
  parsed.searchParams.set(PLAYBACK_TOKEN_PARAM, token);
  return parsed.toString();
}

/**
 * hls.js options that put the current token on every request. `token` is read per request, so
 * a renewed token is used from the next request on.
 */
export function playbackTokenHlsConfig(token: () => string | undefined): Partial<HlsConfig> {
  return {
    xhrSetup(xhr, url) {
      const current = token();
      // Opening here makes hls.js send this URL instead of its own (it opens only an unopened xhr).
      if (current) xhr.open('GET', withPlaybackToken(url, current), true);
    },
  };
}

export interface PlaybackTokenGrant {
  token: string;
  expiresAt: string;
  /** Whether the room's HLS needs the token at all. */
  private: boolean;
}

/**
 * The watch page's playback token: exchanged for its room token (`POST /playback/:room`), and
 * exchanged again at `renewAt` of its lifetime. `token` is undefined for a public room, whose
 * requests then stay identical for every viewer (one edge cache entry each).
 */
export class PlaybackTokenSource {
  private readonly room: string;
  private readonly roomToken: string;
  private readonly renewAt: number;
  private grant: PlaybackTokenGrant | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private destroyed = false;

  /** @param renewAt fraction of the token's lifetime after which it is renewed. Default 0.8. */
  constructor(room: string, roomToken: string, renewAt = 0.8) {
    this.room = room;
    this.roomToken = roomToken;
    this.renewAt = renewAt;
  }

  get token(): string | undefined {
    return this.grant?.private ? this.grant.token : undefined;
  }

  /** Fetches the first token; rejects when the exchange fails (a bad room token, no such room). */
  async start(): Promise<void> {
    await this.exchange();
  }

  destroy(): void {
    this.destroyed = true;
    clearTimeout(this.timer);
  }

  private async exchange(): Promise<void> {
    const res = await fetch(`/playback/${encodeURIComponent(this.room)}`, { method: 'POST', headers: { authorization: `Bearer ${this.roomToken}` } });
    if (!res.ok) throw new Error(`playback token: HTTP ${res.status}`);
    const grant = (await res.json()) as PlaybackTokenGrant;
    if (this.destroyed) return;
    this.grant = grant;
    if (!grant.private) return; // nothing to renew: the token is not used
    const lifetimeMs = Date.parse(grant.expiresAt) - Date.now();
    this.timer = setTimeout(() => this.renew(), Math.max(1000, lifetimeMs * this.renewAt));
  }

  /** A failed renewal is tried again in 5 s while the old token still holds. */
  private renew(): void {
    if (this.destroyed) return;
    this.exchange().catch(() => {
      if (!this.destroyed) this.timer = setTimeout(() => this.renew(), 5000);
    });
  }
}
