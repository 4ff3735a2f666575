import { Hono } from 'hono';
import { z } from 'zod';
import { identitySchema } from '../../auth/tokens.ts';
import { ServiceError } from '../../core/errors.ts';
import type { Room } from '../../stage/Room.ts';
import type { MediaKind } from '../../stage/StageTypes.ts';
import { validateJson } from '../middleware/validateJson/index.ts';
import type { ApiDeps, AppEnv } from '../types.ts';

export const muteBody = z.object({ kind: z.enum(['audio', 'video']).optional() }).strict();
export const kickBody = z.object({ reason: z.string().min(1).max(200).optional() }).strict();
export const blockBody = z.object({ identity: identitySchema, reason: z.string().min(1).max(200).optional() }).strict();

const kindsOf = (kind: MediaKind | undefined): MediaKind[] => (kind ? [kind] : ['audio', 'video']);

/**
 * Moderation under `/api/rooms/:id`, behind the API key (app.ts; the API acts as a moderator; events
 * it causes carry no `by`). The same actions exist over the WebSocket for moderator tokens.
 *
 *   GET    /hands                                → 200 { queue: [{ participantId, identity, raisedAt }] } (oldest first)
 *   DELETE /hands/:pid                           → 200 { queue } lowers that hand (idempotent)
 *   POST   /participants/:pid/promote            → 200 { participant } viewer → guest (409 otherwise)
 *   POST   /participants/:pid/demote             → 200 { participant } guest → viewer, publisher closed (409 otherwise)
 *   POST   /participants/:pid/mute   { kind? }   → 200 { participant } (both kinds without `kind`)
 *   POST   /participants/:pid/unmute { kind? }   → 200 { participant }
 *   POST   /participants/:pid/kick   { reason? } → 200 { participant, blocked: true } closes it (4010), blocks its identity
 *   GET    /blocks                               → 200 { blocks: [{ identity, blockedAt, by?, reason? }] }
 *   POST   /blocks { identity, reason? }         → 201 { block } blocks and removes every connection of it
 *   DELETE /blocks/:identity                     → 200 { identity, blocked: false } (404 if not blocked)
 *
 * Ending the broadcast is `DELETE /api/rooms/:id/broadcast` (routes/broadcast.ts); signaling
 * tells the room `broadcastEnded`. Unknown rooms and participants are 404 `not_found`.
 */
export function moderationRoutes(deps: Pick<ApiDeps, 'registry'>) {
  const { registry } = deps;
  const room = (id: string): Room => registry.require(id);
  return new Hono<AppEnv>()
    .get('/rooms/:id/hands', (c) => c.json({ queue: room(c.req.param('id')).handQueue() }))
    .delete('/rooms/:id/hands/:pid', (c) => c.json({ queue: room(c.req.param('id')).lowerHand(c.req.param('pid'), undefined) }))
    .post('/rooms/:id/participants/:pid/promote', (c) =>
      c.json({ participant: room(c.req.param('id')).promote(c.req.param('pid'), undefined) }))
    .post('/rooms/:id/participants/:pid/demote', async (c) =>
      c.json({ participant: await room(c.req.param('id')).demote(c.req.param('pid'), undefined) }))
    .post('/rooms/:id/participants/:pid/mute', validateJson(muteBody), async (c) => {
      const participant = await room(c.req.param('id')).setMuted(c.req.param('pid'), kindsOf(c.get('json').kind), true, undefined);
      return c.json({ participant });
    })
    .post('/rooms/:id/participants/:pid/unmute', validateJson(muteBody), async (c) => {
      const participant = await room(c.req.param('id')).setMuted(c.req.param('pid'), kindsOf(c.get('json').kind), false, undefined);
      return c.json({ participant });
    })
    .post('/rooms/:id/participants/:pid/kick', validateJson(kickBody), async (c) => {
      const participant = await room(c.req.param('id')).kick(c.req.param('pid'), undefined, c.get('json').reason);
      return c.json({ participant, blocked: true });
    })
    .get('/rooms/:id/blocks', (c) => c.json({ blocks: room(c.req.param('id')).blocks() }))
    .post('/rooms/:id/blocks', validateJson(blockBody), async (c) => {
      const { identity, reason } = c.get('json');
      return c.json({ block: await room(c.req.param('id')).block(identity, undefined, reason) }, 201);
    })
    .delete('/rooms/:id/blocks/:identity', (c) => {
      const identity = c.req.param('identity');
      if (identity.length > 128) throw new ServiceError('bad_request', 'identity too long');
      room(c.req.param('id')).unblock(identity, undefined);
      return c.json({ identity, blocked: false });
    });
}
