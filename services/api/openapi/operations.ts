import { z } from 'zod';
import { chatBody, chatMuteBody } from '../routes/chat.ts';
import { metadataBody } from '../routes/metadata.ts';
import { roomSettingsBody } from '../routes/recordings.ts';
import { createWebhookBody, listDeliveriesQuery } from '../routes/webhooks.ts';
import { createPlaybackTokenBody } from '../routes/playback.ts';
import { updateRoomBody } from '../routes/rooms.ts';

/**
 * The request schemas that live in route files the API document does not own. The wiring
 * (app.ts) passes the very objects the routes validate with, so the document can never drift
 * from validation.
 */
export interface RequestSchemas {
  createRoomBody: z.ZodType;
  createTokenBody: z.ZodType;
  muteBody: z.ZodType;
  kickBody: z.ZodType;
  blockBody: z.ZodType;
}

type Auth = 'apiKey' | 'roomToken' | 'none';

export interface ApiOperation {
  method: 'get' | 'post' | 'delete' | 'patch';
  /** Hono-style path (`/api/rooms/:id`, `/assets/*`). */
  path: string;
  summary: string;
  tag: string;
  auth: Auth;
  body?: { json: z.ZodType } | { sdp: true };
  query?: z.ZodObject;
  /** status → description; `json` for a documented JSON body, `type` for another media type. */
  responses: Record<number, { description: string; json?: z.ZodType; type?: string }>;
}

/** The error body every failure carries. */
export const errorBody = z.object({
  error: z.object({
    code: z.string().describe('Stable machine-readable code: bad_request, unauthorized, forbidden, not_found, conflict, invalid_state, …'),
    message: z.string(),
  }),
});

const webhookEndpoint = z.object({
  id: z.string(),
  url: z.string(),
  events: z.union([z.literal('all'), z.array(z.string())]),
  source: z.enum(['env', 'api']),
  createdAt: z.string(),
  secret: z.string().optional().describe('Echoed once, at creation, when given.'),
});

const webhookDelivery = z.object({
  id: z.string(),
  eventId: z.string(),
  type: z.string(),
  room: z.string(),
  endpointId: z.string(),
  url: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  nextAttemptAt: z.string().nullable(),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  deliveredAt: z.string().nullable(),
});

const recording = z.object({
  id: z.string(),
  state: z.enum(['recording', 'ready']).describe('`recording` while the broadcast runs; `ready` once its playlists are VOD with ENDLIST'),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  durationSec: z.number(),
  playlist: z.string().describe('Multivariant playlist on the origin: /hls/{room}/recordings/{id}/index.m3u8'),
});

const timedMetadata = z.object({
  id: z.string().describe('Also the EXT-X-DATERANGE ID'),
  payload: z.unknown(),
  at: z.string().describe('START-DATE: the PROGRAM-DATE-TIME of the frame it is attached to'),
});

/** Query of a blocking playlist reload (LL-HLS). */
const blockingReloadQuery = z.object({
  _HLS_msn: z.coerce.number().int().min(0).optional().describe('Wait until this media sequence number exists.'),
  _HLS_part: z.coerce.number().int().min(0).optional().describe('…and this part of it (needs _HLS_msn).'),
});

const chatMessage = z.object({
  id: z.string(),
  from: z.object({
    participantId: z.string().describe('`system` for messages sent through the API'),
    identity: z.string(),
    role: z.enum(['presenter', 'guest', 'moderator', 'viewer', 'system']),
  }),
  text: z.string().describe('Plain text: render it as text, never as HTML'),
  at: z.string(),
});

const ok = (description: string, json?: z.ZodType) => ({ description, ...(json ? { json } : {}) });

/** Every HTTP route the service serves. The API document test checks this against the hono app's routes. */
export function apiOperations(s: RequestSchemas): ApiOperation[] {
  const ingest = (kind: 'whip' | 'whep'): ApiOperation[] => {
    const name = kind === 'whip' ? 'WHIP ingest (RFC 9725)' : 'WHEP playback';
    return [
      {
        method: 'post',
        path: `/${kind}/:room`,
        summary: `${name}: ${kind === 'whip' ? 'a presenter token and a sendonly' : 'a stage-member token and a recvonly'} SDP offer; the answer comes back with a Location`,
        tag: 'ingest',
        auth: 'roomToken',
        body: { sdp: true },
        responses: { 201: { description: 'SDP answer; Location names the session', type: 'application/sdp' }, 400: ok('invalid SDP'), 415: ok('not application/sdp'), 429: ok('rate_limited (Retry-After) or too_many_sessions') },
      },
      {
        method: 'delete',
        path: `/${kind}/:room/:session`,
        summary: `Ends a ${kind.toUpperCase()} session (its own identity, or a moderator)`,
        tag: 'ingest',
        auth: 'roomToken',
        responses: { 200: ok('ended'), 404: ok('no such session') },
      },
      {
        method: 'patch',
        path: `/${kind}/:room/:session`,
        summary: 'Trickle ICE and ICE restarts are not supported (405): send a complete offer',
        tag: 'ingest',
        auth: 'none',
        responses: { 405: ok('unsupported') },
      },
    ];
  };
  const participantAction = (action: string, summary: string, body?: z.ZodType): ApiOperation => ({
    method: 'post',
    path: `/api/rooms/:id/participants/:pid/${action}`,
    summary,
    tag: 'moderation',
    auth: 'apiKey',
    ...(body ? { body: { json: body } } : {}),
    responses: { 200: ok('{ participant }'), 404: ok('no such room or participant'), 409: ok('not allowed in its current role') },
  });
  return [
    { method: 'get', path: '/healthz', summary: 'Health: 200 while the node can serve, 503 once the media engine died', tag: 'ops', auth: 'none', responses: { 200: ok('ok'), 503: ok('engine died') } },
    { method: 'get', path: '/metrics', summary: 'Prometheus metrics (text format)', tag: 'ops', auth: 'apiKey', responses: { 200: { description: 'metrics', type: 'text/plain' } } },
    { method: 'get', path: '/api/openapi.json', summary: 'This document', tag: 'ops', auth: 'none', responses: { 200: ok('OpenAPI 3.1 document') } },
    { method: 'get', path: '/api/stats', summary: "The media engine's counters", tag: 'ops', auth: 'apiKey', responses: { 200: ok('engine stats') } },

    { method: 'get', path: '/api/rooms', summary: 'Lists rooms', tag: 'rooms', auth: 'apiKey', responses: { 200: ok('{ rooms }') } },
    { method: 'post', path: '/api/rooms', summary: 'Creates a room (random id when none is given)', tag: 'rooms', auth: 'apiKey', body: { json: s.createRoomBody }, responses: { 201: ok('room summary'), 409: ok('exists') } },
    { method: 'get', path: '/api/rooms/:id', summary: 'A room with its members', tag: 'rooms', auth: 'apiKey', responses: { 200: ok('room'), 404: ok('no such room') } },
    { method: 'patch', path: '/api/rooms/:id', summary: "Changes a room's settings (`private`: its HLS needs a playback token)", tag: 'rooms', auth: 'apiKey', body: { json: updateRoomBody }, responses: { 200: ok('room'), 404: ok('no such room') } },
    { method: 'delete', path: '/api/rooms/:id', summary: 'Closes a room and every session in it', tag: 'rooms', auth: 'apiKey', responses: { 200: ok('closed'), 404: ok('no such room') } },
    { method: 'post', path: '/api/rooms/:id/tokens', summary: 'Issues a room token (JWT)', tag: 'rooms', auth: 'apiKey', body: { json: s.createTokenBody }, responses: { 201: ok('{ token, expiresAt, room, identity, role }'), 404: ok('no such room'), 429: ok('rate_limited (Retry-After)') } },

    { method: 'post', path: '/api/rooms/:id/playback-tokens', summary: "Issues a playback token (JWT) for the room's HLS", tag: 'rooms', auth: 'apiKey', body: { json: createPlaybackTokenBody }, responses: { 201: ok('{ token, expiresAt, room, private }'), 404: ok('no such room'), 429: ok('rate_limited (Retry-After)') } },
    { method: 'post', path: '/playback/:room', summary: 'Exchanges a room token (any role) for a playback token of the room', tag: 'hls', auth: 'roomToken', responses: { 201: ok('{ token, expiresAt, room, private }'), 401: ok('no valid room token'), 403: ok('token for another room'), 404: ok('no such room'), 429: ok('rate_limited (Retry-After)') } },

    { method: 'get', path: '/api/rooms/:id/broadcast', summary: "The room's HLS broadcast status", tag: 'broadcast', auth: 'apiKey', responses: { 200: ok('status'), 404: ok('none') } },
    { method: 'post', path: '/api/rooms/:id/broadcast', summary: 'Starts the HLS broadcast', tag: 'broadcast', auth: 'apiKey', responses: { 201: ok('status'), 409: ok('already live') } },
    { method: 'delete', path: '/api/rooms/:id/broadcast', summary: 'Ends the HLS broadcast (playlists get ENDLIST)', tag: 'broadcast', auth: 'apiKey', responses: { 200: ok('status'), 409: ok('not live') } },

    { method: 'get', path: '/api/rooms/:id/settings', summary: "The room's settings: `record` (its own, else the RECORD default)", tag: 'recordings', auth: 'apiKey', responses: { 200: ok('settings', roomSettingsBody), 404: ok('no such room') } },
    { method: 'patch', path: '/api/rooms/:id/settings', summary: 'Sets the room to record its broadcasts (from the next start)', tag: 'recordings', auth: 'apiKey', body: { json: roomSettingsBody }, responses: { 200: ok('settings', roomSettingsBody), 400: ok('bad_request'), 404: ok('no such room') } },
    { method: 'get', path: '/api/rooms/:id/recordings', summary: "The room's recordings, newest first (they outlive the room)", tag: 'recordings', auth: 'apiKey', responses: { 200: ok('recordings', z.object({ recordings: z.array(recording) })), 400: ok('invalid room id') } },
    { method: 'delete', path: '/api/rooms/:id/recordings/:rid', summary: 'Erases every object of one recording (GDPR erasure)', tag: 'recordings', auth: 'apiKey', responses: { 200: ok('deleted', z.object({ id: z.string(), deleted: z.literal(true) })), 400: ok('bad_request: not a recording id (path tricks included)'), 404: ok('no such recording'), 409: ok('invalid_state: still being written') } },
    { method: 'post', path: '/api/rooms/:id/metadata', summary: 'Inserts timed metadata at the current media time of the live broadcast (EXT-X-DATERANGE; `metadata` to stage members)', tag: 'broadcast', auth: 'apiKey', body: { json: metadataBody }, responses: { 201: ok('inserted', timedMetadata), 400: ok('bad_request: not JSON, no payload'), 404: ok('no such room'), 409: ok('invalid_state: no live broadcast'), 413: ok('payload_too_large: payload over 1 KiB of JSON') } },

    { method: 'get', path: '/api/rooms/:id/hands', summary: 'The raised-hand queue, oldest first', tag: 'moderation', auth: 'apiKey', responses: { 200: ok('{ queue }') } },
    { method: 'delete', path: '/api/rooms/:id/hands/:pid', summary: "Lowers a participant's hand", tag: 'moderation', auth: 'apiKey', responses: { 200: ok('{ queue }') } },
    participantAction('promote', 'Viewer → guest (may publish)'),
    participantAction('demote', 'Guest → viewer (its publisher closes)'),
    participantAction('mute', 'Server-side mute (both kinds without `kind`)', s.muteBody),
    participantAction('unmute', 'Server-side unmute', s.muteBody),
    participantAction('kick', 'Removes the participant and blocks its identity', s.kickBody),
    { method: 'get', path: '/api/rooms/:id/blocks', summary: 'Blocked identities', tag: 'moderation', auth: 'apiKey', responses: { 200: ok('{ blocks }') } },
    { method: 'post', path: '/api/rooms/:id/blocks', summary: 'Blocks an identity and removes its connections', tag: 'moderation', auth: 'apiKey', body: { json: s.blockBody }, responses: { 201: ok('{ block }') } },
    { method: 'delete', path: '/api/rooms/:id/blocks/:identity', summary: 'Unblocks an identity', tag: 'moderation', auth: 'apiKey', responses: { 200: ok('unblocked'), 404: ok('not blocked') } },

    { method: 'get', path: '/api/rooms/:id/chat', summary: 'The chat history, oldest first (the last CHAT_HISTORY messages)', tag: 'chat', auth: 'apiKey', responses: { 200: ok('{ messages }', z.object({ messages: z.array(chatMessage) })), 404: ok('no such room') } },
    { method: 'post', path: '/api/rooms/:id/chat', summary: 'Sends a chat message as `system` (no rate limit)', tag: 'chat', auth: 'apiKey', body: { json: chatBody }, responses: { 201: ok('{ message }', z.object({ message: chatMessage })), 400: ok('empty text, or chat_too_long (over CHAT_MAX_LENGTH characters)'), 404: ok('no such room') } },
    { method: 'delete', path: '/api/rooms/:id/chat/messages/:mid', summary: 'Deletes a chat message (chatDeleted to the room)', tag: 'chat', auth: 'apiKey', responses: { 200: ok('{ id, deleted: true }'), 404: ok('no such room, or message not in the history') } },
    { method: 'get', path: '/api/rooms/:id/chat/mutes', summary: 'Identities whose chat is muted', tag: 'chat', auth: 'apiKey', responses: { 200: ok('{ muted }', z.object({ muted: z.array(z.string()) })), 404: ok('no such room') } },
    { method: 'post', path: '/api/rooms/:id/chat/mutes', summary: "Mutes an identity's chat (its messages get chat_muted, across reconnects)", tag: 'chat', auth: 'apiKey', body: { json: chatMuteBody }, responses: { 201: ok('{ identity, muted: true }'), 404: ok('no such room') } },
    { method: 'delete', path: '/api/rooms/:id/chat/mutes/:identity', summary: "Unmutes an identity's chat", tag: 'chat', auth: 'apiKey', responses: { 200: ok('{ identity, muted: false }'), 404: ok('no such room') } },

    { method: 'get', path: '/api/webhooks', summary: 'Webhook endpoints and delivery stats', tag: 'webhooks', auth: 'apiKey', responses: { 200: ok('endpoints', z.object({ endpoints: z.array(webhookEndpoint), stats: z.record(z.string(), z.number()) })) } },
    { method: 'post', path: '/api/webhooks', summary: 'Adds a webhook endpoint', tag: 'webhooks', auth: 'apiKey', body: { json: createWebhookBody }, responses: { 201: ok('endpoint', webhookEndpoint) } },
    { method: 'delete', path: '/api/webhooks/:id', summary: 'Removes an API-created endpoint; its pending deliveries fail', tag: 'webhooks', auth: 'apiKey', responses: { 200: ok('removed'), 404: ok('no such endpoint'), 409: ok('configured by WEBHOOK_URLS') } },
    { method: 'get', path: '/api/webhooks/deliveries', summary: 'Deliveries, newest first', tag: 'webhooks', auth: 'apiKey', query: listDeliveriesQuery, responses: { 200: ok('deliveries', z.object({ deliveries: z.array(webhookDelivery) })) } },
    { method: 'get', path: '/api/webhooks/deliveries/:id', summary: 'One delivery', tag: 'webhooks', auth: 'apiKey', responses: { 200: ok('delivery', webhookDelivery), 404: ok('no such delivery') } },
    { method: 'post', path: '/api/webhooks/deliveries/:id/retry', summary: "Sends a delivery again now (after its room's earlier pending events)", tag: 'webhooks', auth: 'apiKey', responses: { 202: ok('delivery', webhookDelivery), 404: ok('no such delivery'), 409: ok('endpoint removed') } },

    ...ingest('whip'),
    ...ingest('whep'),

    ...['studio', 'watch', 'console'].map((page): ApiOperation => ({
      method: 'get',
      path: `/${page}`,
      summary: `The ${page} page (room and token in the query)`,
      tag: 'pages',
      auth: 'none',
      responses: { 200: { description: 'HTML', type: 'text/html' } },
    })),
    { method: 'get', path: '/assets/*', summary: "The player's bundles", tag: 'pages', auth: 'none', responses: { 200: { description: 'asset', type: 'application/octet-stream' }, 404: ok('no such file') } },

    { method: 'get', path: '/hls/:room/access', summary: 'For an edge that checks playback tokens itself: 204 when this request (its `?token=`) may watch the room', tag: 'hls', auth: 'none', responses: { 204: ok('allowed'), 401: ok('private room: no valid playback token'), 403: ok('playback token for another room') } },
    { method: 'get', path: '/hls/:room/index.m3u8', summary: 'Multivariant playlist (a private room: `?token=<playback token>`)', tag: 'hls', auth: 'none', responses: { 200: { description: 'playlist', type: 'application/vnd.apple.mpegurl' }, 401: ok('private room: no valid playback token'), 403: ok('playback token for another room'), 404: ok('no broadcast') } },
    { method: 'get', path: '/hls/:room/:rendition/index.m3u8', summary: 'LL-HLS media playlist, with blocking reload (a private room: `?token=`)', tag: 'hls', auth: 'none', query: blockingReloadQuery, responses: { 200: { description: 'playlist', type: 'application/vnd.apple.mpegurl' }, 400: ok('_HLS_msn/_HLS_part out of range'), 401: ok('private room: no valid playback token'), 403: ok('playback token for another room'), 503: ok('the requested part did not come in time') } },
    { method: 'get', path: '/hls/:room/recordings/latest', summary: 'The newest ready recording of the room (for the watch page)', tag: 'hls', auth: 'none', responses: { 200: ok('{ id, startedAt, durationSec, playlist }'), 404: ok('no recording') } },
    { method: 'get', path: '/hls/:room/recordings/:id/index.m3u8', summary: "A recording's multivariant playlist (VOD)", tag: 'hls', auth: 'none', responses: { 200: { description: 'playlist', type: 'application/vnd.apple.mpegurl' }, 400: ok('not a recording id'), 404: ok('no such recording') } },
    { method: 'get', path: '/hls/:room/recordings/:id/:rendition/:file', summary: "A recording's media playlist (VOD, ENDLIST), init segment or segment", tag: 'hls', auth: 'none', responses: { 200: { description: 'playlist or fMP4', type: 'application/octet-stream' }, 404: ok('no such object') } },
    { method: 'get', path: '/hls/:room/:rendition/:file', summary: 'Init segment, segment or part (a private room: `?token=`)', tag: 'hls', auth: 'none', responses: { 200: { description: 'fMP4', type: 'video/mp4' }, 401: ok('private room: no valid playback token'), 403: ok('playback token for another room'), 404: ok('no such object') } },
  ];
}
