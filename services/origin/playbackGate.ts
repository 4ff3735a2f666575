import { createMiddleware } from 'hono/factory';

/**
 * Which rooms' HLS is private, and how a playback token is checked. The server wires it from
 * the rooms' settings and the playback token service; the origin knows nothing else of either.
 */
export interface PlaybackGate {
  isPrivate(room: string): boolean;
  /** Resolves when `token` may watch `room`; rejects with `unauthorized` (401) or `forbidden` (403). */
  verify(token: string | undefined, room: string): Promise<unknown>;
}

/** The query parameter a playback token travels in, on every playlist and media request. */
export const PLAYBACK_TOKEN_PARAM = 'token';

/**
 * Guards `/hls/:room/…` of private rooms: the request must carry a valid playback token for the
 * room, in `?token=` (what a browser player adds to every request, since a query on the
 * playlist's URL is not inherited by the relative URLs inside it) or `Authorization: Bearer`.
 * Public rooms pass without a look at either. Nothing is rewritten: playlists keep their
 * relative URLs and their cache headers, and an edge keys media without the token (README,
 * Private broadcasts).
 */
export function playbackGate(gate: PlaybackGate) {
  return createMiddleware(async (c, next) => {
    const room = c.req.param('room');
    if (room !== undefined && gate.isPrivate(room)) {
      const token = c.req.query(PLAYBACK_TOKEN_PARAM) ?? bearer(c.req.header('authorization'));
      await gate.verify(token, room);
    }
    await next();
  });
}

function bearer(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

