import { Hono } from 'hono';
import { ServiceError } from '../../core/errors.ts';
import type { ApiDeps, AppEnv } from '../types.ts';

/**
 * A room's HLS broadcast, under `/api/rooms/:id/broadcast`, behind the API key (app.ts):
 *   GET    → 200 status `{ roomId, state: 'live'|'ended', ready, startedAt, tracks, ffmpegRestarts, ffmpegCrashes,
 *            layout: 'grid'|'presentation', renditions: [{ name, bitsPerSecond }], lastPartAgeMs, playlist }`, 404 if none
 *   POST   → 201 starts it (409 `invalid_state` if already live)
 *   DELETE → 200 ends it: playlists get ENDLIST (409 if not live)
 */
export function broadcastRoutes(deps: Pick<ApiDeps, 'registry' | 'broadcasts'>) {
  const { registry, broadcasts } = deps;
  const playlist = (roomId: string) => `/hls/${roomId}/index.m3u8`;
  return new Hono<AppEnv>()
    .get('/rooms/:id/broadcast', (c) => {
      const room = registry.require(c.req.param('id'));
      const status = broadcasts.status(room.id);
      if (!status) throw new ServiceError('not_found', `room ${room.id} has no broadcast`);
      return c.json({ ...status, playlist: playlist(room.id) });
    })
    .post('/rooms/:id/broadcast', async (c) => {
      const room = registry.require(c.req.param('id'));
      const status = await broadcasts.start(room.id);
      return c.json({ ...status, playlist: playlist(room.id) }, 201);
    })
    .delete('/rooms/:id/broadcast', async (c) => {
      const room = registry.require(c.req.param('id'));
      await broadcasts.stop(room.id, 'api');
      return c.json({ ...broadcasts.status(room.id), playlist: playlist(room.id) });
    });
}
