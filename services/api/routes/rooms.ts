import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { identitySchema, ROLES } from '../../auth/tokens.ts';
import { ROOM_ID_PATTERN } from '../../stage/RoomRegistry.ts';
import type { PrivateBroadcasts } from '../../stage/PrivateBroadcasts.ts';
import type { Room } from '../../stage/Room.ts';
import { validateJson } from '../middleware/validateJson/index.ts';
import type { ApiDeps, AppEnv } from '../types.ts';

export const createRoomBody = z
  .object({
    id: z.string().regex(ROOM_ID_PATTERN, 'must match ^[A-Za-z0-9_-]{1,64}$').optional(),
    /** HLS needs a playback token (README, Private broadcasts). Default: config HLS_PRIVATE_DEFAULT. */
    private: z.boolean().optional(),
  })
  .strict();
/** A room's settings that can change while it lives. */
export const updateRoomBody = z.object({ private: z.boolean() }).strict();
export const createTokenBody = z.object({ identity: identitySchema, role: z.enum(ROLES) }).strict();

/** A room as `GET /api/rooms` lists it and `POST /api/rooms` answers: its summary and private setting. */
export function listedRoom(room: Room, privacy: Pick<PrivateBroadcasts, 'isPrivate'>) {
  return { ...room.summary(), private: privacy.isPrivate(room.id) };
}

function roomDetails(room: Room, privacy: PrivateBroadcasts) {
  return {
    ...room.summary(),
    private: privacy.isPrivate(room.id),
    members: room.listParticipants().map((p) => p.summary()),
    hands: room.handQueue(),
    blocks: room.blocks(),
  };
}

/** The management API under `/api`, behind the API key (app.ts). `tokenLimit` guards token issuing (a per-IP rate limit). */
export function roomRoutes(deps: Pick<ApiDeps, 'registry' | 'tokens' | 'privacy'>, tokenLimit: MiddlewareHandler) {
  const { registry, tokens, privacy } = deps;
  const summary = (room: Room) => listedRoom(room, privacy);
  return new Hono<AppEnv>()
    .get('/rooms', (c) => c.json({ rooms: registry.list().map(summary) }))
    .post('/rooms', validateJson(createRoomBody), async (c) => {
      const body = c.get('json');
      const room = await registry.create(body.id);
      privacy.set(room.id, body.private);
      return c.json(summary(room), 201);
    })
    .get('/rooms/:id', (c) => c.json(roomDetails(registry.require(c.req.param('id')), privacy)))
    .patch('/rooms/:id', validateJson(updateRoomBody), (c) => {
      const room = registry.require(c.req.param('id'));
      privacy.set(room.id, c.get('json').private);
      return c.json(roomDetails(room, privacy));
    })
    .delete('/rooms/:id', async (c) => {
      const id = c.req.param('id');
      await registry.delete(id, 'room_closed');
      return c.json({ id, closed: true });
    })
    .post('/rooms/:id/tokens', tokenLimit, validateJson(createTokenBody), async (c) => {
      const room = registry.require(c.req.param('id'));
      const { identity, role } = c.get('json');
      const issued = await tokens.issue(room.id, identity, role);
      return c.json({ token: issued.token, expiresAt: issued.expiresAt, room: room.id, identity, role }, 201);
    });
}
