import { Hono } from 'hono';
import { z } from 'zod';
import { identitySchema } from '../../auth/tokens.ts';
import { ServiceError } from '../../core/errors.ts';
import type { Room } from '../../stage/Room.ts';
import { validateJson } from '../middleware/validateJson/index.ts';
import type { ApiDeps, AppEnv } from '../types.ts';

/** The schema only bounds the body; the room's limit (CHAT_MAX_LENGTH) answers `chat_too_long`. */
export const chatBody = z.object({ text: z.string().max(16 * 1024) }).strict();
export const chatMuteBody = z.object({ identity: identitySchema }).strict();

/**
 * A room's chat under `/api/rooms/:id`, behind the API key (app.ts). The API is trusted as a
 * moderator; what it sends comes from `system` (`from: { participantId: 'system', identity:
 * 'system', role: 'system' }`) with no rate limit. Every participant hears of each change over
 * signaling (`chatMessage`, `chatDeleted`, `chatMuted`, `chatUnmuted`), with no `by`.
 *
 *   GET    /chat                          → 200 { messages: [{ id, from, text, at }] } (oldest first, the last CHAT_HISTORY)
 *   POST   /chat { text }                 → 201 { message } sent as system (400 empty, 400 chat_too_long)
 *   DELETE /chat/messages/:mid            → 200 { id, deleted: true } (404 not in the history)
 *   GET    /chat/mutes                    → 200 { muted: [identity] }
 *   POST   /chat/mutes { identity }       → 201 { identity, muted: true } (idempotent)
 *   DELETE /chat/mutes/:identity          → 200 { identity, muted: false } (idempotent)
 */
export function chatRoutes(deps: Pick<ApiDeps, 'registry'>) {
  const { registry } = deps;
  const room = (id: string): Room => registry.require(id);
  return new Hono<AppEnv>()
    .get('/rooms/:id/chat', (c) => c.json({ messages: room(c.req.param('id')).chat.history() }))
    .post('/rooms/:id/chat', validateJson(chatBody), (c) => c.json({ message: room(c.req.param('id')).chat.sendAsSystem(c.get('json').text) }, 201))
    .delete('/rooms/:id/chat/messages/:mid', (c) => {
      const deleted = room(c.req.param('id')).chat.delete(c.req.param('mid'), undefined);
      return c.json({ id: deleted.id, deleted: true });
    })
    .get('/rooms/:id/chat/mutes', (c) => c.json({ muted: room(c.req.param('id')).chat.mutedIdentities() }))
    .post('/rooms/:id/chat/mutes', validateJson(chatMuteBody), (c) => {
      const { identity } = c.get('json');
      room(c.req.param('id')).chat.setMuted(identity, true, undefined);
      return c.json({ identity, muted: true }, 201);
    })
    .delete('/rooms/:id/chat/mutes/:identity', (c) => {
      const identity = c.req.param('identity');
      if (identity.length > 128) throw new ServiceError('bad_request', 'identity too long');
      room(c.req.param('id')).chat.setMuted(identity, false, undefined);
      return c.json({ identity, muted: false });
    });
}
