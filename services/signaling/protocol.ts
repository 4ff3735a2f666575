import { z } from 'zod';

/**
 * Signaling protocol, version 1. JSON text frames over the WebSocket at `/ws?token=<JWT>`.
 * Every message carries `v: 1` and a `type`. A client request may carry `id` (string, ≤ 64
 * chars); the server's reply to it carries the same value as `re`. Documented in
 * docs/signaling.md; this file is the source of truth and the schemas validate every frame.
 * This module has no Node-only imports: the player bundles it too.
 */
export const PROTOCOL_VERSION = 1;

const base = {
  v: z.literal(PROTOCOL_VERSION),
  id: z.string().min(1).max(64).optional(),
};
const sdp = z.string().min(1).max(64 * 1024);

// ---- client → server -------------------------------------------------------------------

export const clientMessageSchemas = {
  /** Enter the room named by the token. Must come first. Reply: `joined`. */
  join: z.object({ ...base, type: z.literal('join') }).strict(),
  /** Leave the room; the server replies `bye` and closes the socket. */
  leave: z.object({ ...base, type: z.literal('leave') }).strict(),
  /** Publish: the client offers (sendonly audio/video), reply `published` with the answer. */
  publish: z.object({ ...base, type: z.literal('publish'), sdp }).strict(),
  /** Stop publishing. Reply `unpublished`. */
  unpublish: z.object({ ...base, type: z.literal('unpublish') }).strict(),
  /** Start receiving the stage. The server then sends `subscriberOffer` whenever the stage changes. */
  subscribe: z.object({ ...base, type: z.literal('subscribe') }).strict(),
  /** Answer to `subscriberOffer` with the same `version`. Reply `ok`. */
  subscriberAnswer: z.object({ ...base, type: z.literal('subscriberAnswer'), version: z.number().int().min(1), sdp }).strict(),
  /** Stop receiving the stage. Reply `ok`. */
  unsubscribe: z.object({ ...base, type: z.literal('unsubscribe') }).strict(),
  /** Application-level heartbeat (browsers cannot send WebSocket pings). Reply `pong`. */
  ping: z.object({ ...base, type: z.literal('ping') }).strict(),
} as const;

export type ClientMessageType = keyof typeof clientMessageSchemas;
export type ClientMessage = { [K in ClientMessageType]: z.infer<(typeof clientMessageSchemas)[K]> }[ClientMessageType];

/** The outer shape every frame must have before its type is looked at. */
export const envelopeSchema = z.object({ v: z.number(), type: z.string().min(1).max(64), id: z.unknown().optional() }).loose();

// ---- server → client -------------------------------------------------------------------

export type Role = 'presenter' | 'moderator' | 'viewer';

export interface ParticipantInfo {
  /** Unique per connection; stable for the life of the session. */
  participantId: string;
  identity: string;
  role: Role;
  publishing: boolean;
  /** How it is connected: `signaling` (this protocol), `whip` (publish-only) or `whep` (receive-only). */
  transport?: 'signaling' | 'whip' | 'whep';
}

export interface TrackInfo {
  trackId: string;
  kind: 'audio' | 'video';
  participantId: string;
  streamId: string;
}

export interface IceServerInfo {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export type ServerMessage =
  | { v: 1; type: 'joined'; re?: string; participantId: string; identity: string; role: Role; roomId: string;
      participants: ParticipantInfo[]; tracks: TrackInfo[]; iceServers: IceServerInfo[]; heartbeatMs: number }
  | { v: 1; type: 'published'; re?: string; sdp: string; tracks: TrackInfo[] }
  | { v: 1; type: 'unpublished'; re?: string }
  | { v: 1; type: 'subscriberOffer'; re?: string; version: number; sdp: string; mids: Record<string, TrackInfo> }
  | { v: 1; type: 'ok'; re?: string }
  | { v: 1; type: 'pong'; re?: string }
  | { v: 1; type: 'participantJoined'; participant: ParticipantInfo }
  | { v: 1; type: 'participantLeft'; participantId: string; reason: string }
  | { v: 1; type: 'trackPublished'; track: TrackInfo }
  | { v: 1; type: 'trackUnpublished'; track: TrackInfo }
  | { v: 1; type: 'error'; re?: string; code: string; message: string }
  | { v: 1; type: 'bye'; reason: string };

/** WebSocket close codes the server uses (4000–4999 are application codes). */
export const CloseCodes = {
  normal: 1000,
  goingAway: 1001,
  messageTooBig: 1009,
  internalError: 1011,
  unauthorized: 4001,
  forbidden: 4003,
  rateLimited: 4029,
  heartbeatTimeout: 4008,
  replaced: 4009,
  kicked: 4010,
  tokenExpired: 4011,
  roomClosed: 4012,
} as const;
