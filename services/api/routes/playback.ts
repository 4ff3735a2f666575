import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { MAX_PLAYBACK_TTL_SECONDS } from '../../auth/playbackTokens.ts';
import { roomToken } from '../middleware/roomToken/index.ts';
import { validateJson } from '../middleware/validateJson/index.ts';
import type { ApiDeps, AppEnv, TokenEnv } from '../types.ts';

export const createPlaybackTokenBody = z
  .object({
    /** Lifetime, seconds. Default: config PLAYBACK_TOKEN_TTL_SECONDS. */
    ttlSeconds: z.number().int().min(1).max(MAX_PLAYBACK_TTL_SECONDS).optional(),
  })
  .strict();

type PlaybackDeps = Pick<ApiDeps, 'registry' | 'tokens' | 'privacy' | 'playbackTokens'>;

/**
 * Playback tokens (README, Private broadcasts), under `/api`, behind the API key: for a player
 * of the customer's own that watches a private room's HLS. Token issuing is rate-limited per IP
 * (`tokenLimit`), here and in the exchange below.
 */
export function playbackTokenRoutes(deps: PlaybackDeps, tokenLimit: MiddlewareHandler) {
  const { registry, privacy, playbackTokens } = deps;
  return new Hono<AppEnv>().post('/rooms/:id/playback-tokens', tokenLimit, validateJson(createPlaybackTokenBody), async (c) => {
    const room = registry.require(c.req.param('id'));
    const issued = await playbackTokens.issue(room.id, c.get('json').ttlSeconds);
    return c.json({ token: issued.token, expiresAt: issued.expiresAt, room: room.id, private: privacy.isPrivate(room.id) }, 201);
  });
}

/**
 * `POST /playback/:room` with `Authorization: Bearer <room token>` of any role: the watch page
 * exchanges the token it was opened with for a playback token of the room, and again before
 * that one expires. `private` says whether the room's HLS needs it (a public room's player
 * leaves it off, so its requests stay identical for every viewer and an edge caches them once).
 */
export function playbackExchangeRoutes(deps: PlaybackDeps, tokenLimit: MiddlewareHandler) {
  const { registry, tokens, privacy, playbackTokens } = deps;
  return new Hono<TokenEnv>().post('/:room', tokenLimit, roomToken(tokens), async (c) => {
    const room = registry.require(c.req.param('room'));
    const issued = await playbackTokens.issue(room.id);
    return c.json({ token: issued.token, expiresAt: issued.expiresAt, room: room.id, private: privacy.isPrivate(room.id) }, 201);
  });
}
