import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { identitySchema, ROLES } from '../../auth/tokens.ts';
import { ROOM_ID_PATTERN } from '../../stage/RoomRegistry.ts';
import type { Room } from '../../stage/Room.ts';
import { validateJson } from '../middleware/validateJson/index.ts';
import type { ApiDeps, AppEnv } from '../types.ts';

export const createRoomBody = z.object({ id: z.string().regex(ROOM_ID_PATTERN, 'must match ^[A-Za-z0-9_-]{1,64}$').optional() }).strict();
export const createTokenBody = z.object({ identity: identitySchema, role: z.enum(ROLES) }).strict();

function roomDetails(room: Room) {
  return {
    ...room.summary(),
    members: room.listParticipants().map((p) => p.summary()),
    hands: room.handQueue(),
    blocks: room.blocks(),
  };
}

/** The management API under `/api`, behind the API key (app.ts). `tokenLimit` guards token issuing (a per-IP rate limit). */
export function roomRoutes(deps: Pick<ApiDeps, 'registry' | 'tokens'>, tokenLimit: MiddlewareHandler) {
  const { registry, tokens } = deps;
  return new Hono<AppEnv>()
    .get('/rooms', (c) => c.json({ rooms: registry.list().map((r) => r.summary()) }))
    .post('/rooms', validateJson(createRoomBody), async (c) => {
      const room = await registry.create(c.get('json').id);
      return c.json(room.summary(), 201);
    })
    .get('/rooms/:id', (c) => c.json(roomDetails(registry.require(c.req.param('id')))))
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
