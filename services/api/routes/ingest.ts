import { Hono, type MiddlewareHandler } from 'hono';
import type { TokenClaims } from '../../auth/tokens.ts';
import { ServiceError } from '../../core/errors.ts';
import type { RoomRegistry } from '../../stage/RoomRegistry.ts';
import { assertCan } from '../../stage/permissions.ts';
import type { Room } from '../../stage/Room.ts';
import { whipCors } from '../middleware/cors/index.ts';
import { roomToken } from '../middleware/roomToken/index.ts';
import { sdpBody } from '../middleware/sdpBody/index.ts';
import type { IceServer } from '../../turn/index.ts';
import type { ApiDeps, TokenEnv } from '../types.ts';

/**
 * WHIP (RFC 9725) and WHEP: one HTTP-created engine leg per session, which joins the room as a
 * participant (identity from the token) so that it shows up in room events.
 *
 * - `POST /whip/:room` (presenter or moderator token, `application/sdp` offer) → 201, answer,
 *   `Location: /whip/:room/:session`.
 * - `POST /whep/:room` (presenter or moderator token, recvonly offer) → 201, answer, Location.
 * - `DELETE <Location>` (a token for the room: the session's own identity, or a moderator) → 200.
 * - `PATCH <Location>` → 405 `unsupported`: no trickle ICE and no ICE restart; the offer must
 *   carry every candidate (gather fully before POSTing), and the answer carries ours.
 * - `OPTIONS` → 204 CORS preflight with `Accept-Post: application/sdp`.
 *
 * `offerLimit` (a per-IP rate limit) runs first on every POST, before the token is checked.
 * Past the room's sessions per identity, `room.join` refuses with 429 `too_many_sessions`.
 */
export function ingestRoutes(kind: 'whip' | 'whep', deps: Pick<ApiDeps, 'registry' | 'tokens' | 'iceServers'>, offerLimit: MiddlewareHandler) {
  const { registry, tokens } = deps;
  const action = kind === 'whip' ? 'publish' : 'whep';
  return new Hono<TokenEnv>()
    .use('*', whipCors())
    .post('/:room', offerLimit, roomToken(tokens), async (c, next) => {
      assertCan(c.get('claims').role, action);
      // Refuse a blocked identity before looking at its offer: 403 whatever it sends.
      if (registry.require(c.req.param('room')).isBlocked(c.get('claims').identity)) {
        throw new ServiceError('forbidden', 'identity is blocked in this room');
      }
      await next();
    }, sdpBody(), async (c) => {
      const room = registry.require(c.req.param('room'));
      const claims = c.get('claims');
      // Before join: an offer that breaks the SDP rules leaves no participant (and no events) behind.
      room.checkClientSdp(c.get('sdp'), 'offer');
      const participant = room.join({ identity: claims.identity, role: claims.role, transport: kind });
      let answer: string;
      try {
        answer = kind === 'whip'
          ? (await room.publish(participant.id, c.get('sdp'))).answer
          : (await room.subscribeWithOffer(participant.id, c.get('sdp'))).answer;
      } catch (err) {
        await room.leave(participant.id, 'transport_failed');
        throw err;
      }
      c.get('log').info({ room: room.id, session: participant.id, identity: claims.identity }, `${kind} session started`);
      c.header('location', `/${kind}/${encodeURIComponent(room.id)}/${participant.id}`);
      c.header('etag', `"${participant.id}"`);
      // RFC 9725 §4.6: ICE servers (with time-limited TURN credentials) as Link headers.
      for (const link of iceServerLinks(deps.iceServers?.(claims.identity) ?? [])) c.header('link', link, { append: true });
      c.header('content-type', 'application/sdp');
      return c.body(answer, 201);
    })
    .delete('/:room/:session', roomToken(tokens), async (c) => {
      const { room, session } = findSession(registry, kind, c.req.param('room'), c.req.param('session'));
      assertMayEnd(c.get('claims'), session.identity);
      await room.leave(session.id, 'client_request');
      c.get('log').info({ room: room.id, session: session.id }, `${kind} session ended`);
      return c.body(null, 200);
    })
    .patch('/:room/:session', () => {
      throw new ServiceError('unsupported', 'trickle ICE and ICE restarts are not supported: send a complete offer', 405);
    });
}

function findSession(registry: RoomRegistry, kind: 'whip' | 'whep', roomId: string, sessionId: string) {
  const room: Room | undefined = registry.get(roomId);
  const session = room?.getParticipant(sessionId);
  if (!room || !session || session.transport !== kind) throw new ServiceError('not_found', `no such ${kind.toUpperCase()} session`);
  return { room, session };
}

function assertMayEnd(claims: TokenClaims, identity: string): void {
  if (claims.identity !== identity && claims.role !== 'moderator') {
    throw new ServiceError('forbidden', 'only the session owner or a moderator may end it');
  }
}

/** `Link: <turn:…>; rel="ice-server"; username=…; credential=…` values for each ICE server URL. */
export function iceServerLinks(servers: IceServer[]): string[] {
  const quote = (v: string) => `"${v.replace(/["\\]/g, '\\$&')}"`;
  return servers.flatMap((server) =>
    (Array.isArray(server.urls) ? server.urls : [server.urls]).map((url) => {
      const auth = server.username !== undefined && server.credential !== undefined
        ? `; username=${quote(server.username)}; credential=${quote(server.credential)}; credential-type="password"`
        : '';
      return `<${url}>; rel="ice-server"${auth}`;
    }),
  );
}
