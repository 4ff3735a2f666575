import { z } from 'zod';

/**
 * Signaling protocol, version 1. JSON text frames over the WebSocket at `/ws?token=<JWT>`.
 * Every message carries `v: 1` and a `type`. A client request may carry `id` (string, ≤ 64
 * chars); the server's reply to it carries the same value as `re`. Documented in
 * docs/signaling.md; this file is the source of truth and the schemas validate every frame.
 * This module has no Node-only imports: the player bundles it too.
 *
 * Revisions: `v` only changes for a breaking change. Additive changes (new message types, new
 * optional fields) raise PROTOCOL_REVISION, announced in `joined.revision`; clients must
 * ignore message types and fields they do not know.
 * - revision 1: join, publish, subscribe, events.
 * - revision 2: roles and moderation (role `guest`, hands, promote/demote, mute, kick, blocks,
 *   broadcast end).
 * - revision 3: engine features and recovery: `joined.capabilities` and `joined.activeSpeaker`,
 *   `setLayers` (simulcast layer choice), `activeSpeaker`, `subscriberClosed` (replaces the
 *   `invalid_state` error event for a subscriber connection the server closed).
 * - revision 4: `leaveStage` (a guest declines its promotion, or steps down later); roles are
 *   kept per identity, so a guest that reconnects joins as `guest`.
 * - revision 5: chat (`chat`, `deleteChat`, `muteChat`, `unmuteChat`; `chatMessage`,
 *   `chatDeleted`, `chatMuted`, `chatUnmuted`; `joined.chat`) and the audience count
 *   (`joined.audience`, `audience`); timed metadata (`metadata`, to stage members at once);
 *   screen share: `publish.sources` labels m-sections as `screen`, and
 *   `TrackInfo.source` carries it; `broadcastHealth` (moderators) reports the broadcast's health;
 *   `broadcastReady` and `joined.broadcastReady` say when the HLS program is playable.
 * - revision 6: `trackUnpublished.reason`, so a stage view keeps the tile of a publisher whose
 *   connection failed while it publishes again.
 */
export const PROTOCOL_VERSION = 1;
export const PROTOCOL_REVISION = 6;

const base = {
  v: z.literal(PROTOCOL_VERSION),
  id: z.string().min(1).max(64).optional(),
};
const sdp = z.string().min(1).max(64 * 1024);
const participantId = z.string().min(1).max(64);
const mediaKind = z.enum(['audio', 'video']);
const trackSource = z.enum(['camera', 'screen']);
const layer = z.number().int().min(0).max(9);

// ---- client → server -------------------------------------------------------------------

export const clientMessageSchemas = {
  /** Enter the room named by the token. Must come first. Reply: `joined`. */
  join: z.object({ ...base, type: z.literal('join') }).strict(),
  /** Leave the room; the server replies `bye` and closes the socket. */
  leave: z.object({ ...base, type: z.literal('leave') }).strict(),
  /**
   * Publish: the client offers (sendonly audio/video), reply `published` with the answer.
   * Revision 5: `sources` maps an offered mid to what it shows (`screen`; unnamed m-sections
   * are `camera`). A screen share starts or ends by publishing again with or without it.
   */
  publish: z.object({ ...base, type: z.literal('publish'), sdp, sources: z.record(z.string().min(1).max(32), trackSource).optional() }).strict(),
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

  // Revision 2: roles and moderation. Every one replies `ok`.
  /** A viewer asks to come on stage; its hand joins the end of the queue. */
  raiseHand: z.object({ ...base, type: z.literal('raiseHand') }).strict(),
  /** Lowers your own hand, or (moderator) anyone's: `participantId`. */
  lowerHand: z.object({ ...base, type: z.literal('lowerHand'), participantId: participantId.optional() }).strict(),
  /** Moderator: a viewer becomes a stage `guest` (may publish). */
  promote: z.object({ ...base, type: z.literal('promote'), participantId }).strict(),
  /** Moderator: a guest goes back to `viewer`; its publisher connection is closed. */
  demote: z.object({ ...base, type: z.literal('demote'), participantId }).strict(),
  /** Moderator: pause a participant's audio and/or video on the server (both when `kind` is absent). */
  mute: z.object({ ...base, type: z.literal('mute'), participantId, kind: mediaKind.optional() }).strict(),
  /** Moderator: undo `mute`. */
  unmute: z.object({ ...base, type: z.literal('unmute'), participantId, kind: mediaKind.optional() }).strict(),
  /** Moderator: remove a participant (close 4010) and block its identity in this room. */
  kick: z.object({ ...base, type: z.literal('kick'), participantId, reason: z.string().min(1).max(200).optional() }).strict(),
  /** Moderator: let a blocked identity join again. */
  unblock: z.object({ ...base, type: z.literal('unblock'), identity: z.string().min(1).max(128) }).strict(),
  /** Moderator: end the room's HLS broadcast (its playlists get ENDLIST). */
  endBroadcast: z.object({ ...base, type: z.literal('endBroadcast') }).strict(),

  // Revision 3.
  /**
   * Which simulcast layer of a stage track this subscriber receives (0 is the lowest). Reply
   * `ok`; `unsupported` when the engine has no simulcast (`joined.capabilities.simulcast`).
   */
  setLayers: z.object({ ...base, type: z.literal('setLayers'), trackId: z.string().min(1).max(128), spatialLayer: layer, temporalLayer: layer.optional() }).strict(),

  // Revision 4.
  /**
   * A guest goes back to the audience on its own: it declined the promotion's prompt, or
   * leaves the stage it accepted. Like a demote (its publisher connection is closed), with
   * `roleChanged.by` its own id. Reply `ok`; `invalid_state` unless it is a guest.
   */
  leaveStage: z.object({ ...base, type: z.literal('leaveStage') }).strict(),

  // Revision 5: chat. Every one replies `ok`.
  /**
   * Any participant, viewers included: a chat message to the room, which everyone (the sender
   * too) receives as `chatMessage`. The text is trimmed; empty is `bad_request`, past the
   * room's limit (CHAT_MAX_LENGTH) `chat_too_long`, a muted identity gets `chat_muted`, past
   * the identity's rate `rate_limited`. The schema only bounds the frame.
   */
  chat: z.object({ ...base, type: z.literal('chat'), text: z.string().max(16 * 1024) }).strict(),
  /** Its author or a moderator: removes a message (`chatDeleted` to everyone); `forbidden`, `not_found`. */
  deleteChat: z.object({ ...base, type: z.literal('deleteChat'), messageId: z.string().min(1).max(64) }).strict(),
  /** Moderator: the identity's chat messages are refused (`chat_muted`) until unmuted, across reconnects. */
  muteChat: z.object({ ...base, type: z.literal('muteChat'), identity: z.string().min(1).max(128) }).strict(),
  /** Moderator: undo `muteChat`. */
  unmuteChat: z.object({ ...base, type: z.literal('unmuteChat'), identity: z.string().min(1).max(128) }).strict(),
  // Revision 5.
  /** Moderator: the room's broadcast health now. Reply `broadcastHealth` (`health` null when there is no broadcast). */
  broadcastHealth: z.object({ ...base, type: z.literal('broadcastHealth') }).strict(),
} as const;

export type ClientMessageType = keyof typeof clientMessageSchemas;
export type ClientMessage = { [K in ClientMessageType]: z.infer<(typeof clientMessageSchemas)[K]> }[ClientMessageType];

/** The outer shape every frame must have before its type is looked at. */
export const envelopeSchema = z.object({ v: z.number(), type: z.string().min(1).max(64), id: z.unknown().optional() }).loose();

// ---- server → client -------------------------------------------------------------------

/**
 * A participant's current role. Tokens carry `presenter`, `moderator` or `viewer`; `guest` is a
 * viewer a moderator promoted onto the stage.
 */
export type Role = 'presenter' | 'moderator' | 'viewer' | 'guest';
export type MediaKind = 'audio' | 'video';

export interface ParticipantInfo {
  /** Unique per connection; stable for the life of the session. */
  participantId: string;
  identity: string;
  /** Current role. */
  role: Role;
  publishing: boolean;
  /** How it is connected: `signaling` (this protocol), `whip` (publish-only) or `whep` (receive-only). */
  transport?: 'signaling' | 'whip' | 'whep';
  /** Revision 2: its hand is in the queue. */
  handRaised?: boolean;
  /** Revision 2: kinds a moderator muted. */
  muted?: MediaKind[];
}

export interface TrackInfo {
  trackId: string;
  kind: MediaKind;
  participantId: string;
  streamId: string;
  /** Revision 2: paused on the server by a moderator. */
  muted?: boolean;
  /** Revision 5: what it shows; absent means `camera` (a camera or microphone). */
  source?: 'camera' | 'screen';
}

/** A raised hand; `queue` arrays are oldest first. */
export interface HandInfo {
  participantId: string;
  identity: string;
  /** ISO-8601. */
  raisedAt: string;
}

export interface BlockInfo {
  identity: string;
  /** ISO-8601. */
  blockedAt: string;
  /** The moderator's participant id; absent when blocked through the HTTP API. */
  by?: string;
  reason?: string;
}

export type HandLowerReason = 'self' | 'moderator' | 'promoted' | 'left';

/** What the room's media engine can do beyond the common protocol (revision 3). */
export interface CapabilitiesInfo {
  /** Publishers may send simulcast, and `setLayers` picks a subscriber's layer. */
  simulcast: boolean;
  /** The server sends `activeSpeaker`. */
  activeSpeaker: boolean;
}
/** Revision 5: the author of a chat message; `system` (participantId and identity `system` too) for the HTTP API. */
export interface ChatAuthorInfo {
  participantId: string;
  identity: string;
  role: Role | 'system';
}

/** Revision 5: one chat message. `text` is plain text: render it as text, never as HTML. */
export interface ChatMessageInfo {
  id: string;
  from: ChatAuthorInfo;
  text: string;
  /** ISO-8601 time the server accepted it. */
  at: string;
}

/** Revision 5: participants (connections: signaling, WHIP, WHEP) by current role. */
export interface AudienceInfo {
  presenter: number;
  guest: number;
  moderator: number;
  viewer: number;
  total: number;
}

export type BroadcastEndReason = 'api' | 'room_closed' | 'shutdown' | 'failed';

/** Revision 5: a broadcast's health, as `GET /api/rooms/:id/broadcast` reports it. */
export interface BroadcastHealthInfo {
  state: 'live' | 'ended';
  /** The HLS program is (or was) playable. */
  ready: boolean;
  /** ISO-8601. */
  startedAt: string;
  /** Stage tracks it mirrors. */
  tracks: number;
  /** ffmpeg processes started to replace one (a crash, a stall, or a stage change). */
  ffmpegRestarts: number;
  /** Of those, the exits nobody asked for. */
  ffmpegCrashes: number;
  /** `presentation` while a screen is shared, else `grid`. */
  layout: 'grid' | 'presentation';
  /** Output bitrate per rendition over the last 5 s, bits/s. */
  renditions: { name: string; bitsPerSecond: number }[];
  /** Since the packager's last part, ms; null when not live or before the first part. */
  lastPartAgeMs: number | null;
}

export interface IceServerInfo {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export type ServerMessage =
  | { v: 1; type: 'joined'; re?: string; participantId: string; identity: string; role: Role; roomId: string;
      participants: ParticipantInfo[]; tracks: TrackInfo[]; iceServers: IceServerInfo[]; heartbeatMs: number;
      /** Revision 2+. */
      revision?: number;
      /** The room's HLS broadcast when the participant joined: live, ended, or none yet. */
      broadcast?: 'live' | 'ended' | 'none';
      /** Moderators only: raised hands, oldest first. */
      handQueue?: HandInfo[];
      /** Moderators only: blocked identities. */
      blocks?: BlockInfo[];
      /** Revision 3: what the media engine can do. */
      capabilities?: CapabilitiesInfo;
      /** Revision 3: the current dominant speaker, when the engine detects speakers and has named one. */
      activeSpeaker?: string;
      /**
       * Revision 5: the room's chat history (oldest first), whether your identity's chat is muted,
       * and (moderators only) every muted identity.
       */
      chat?: { messages: ChatMessageInfo[]; muted: boolean; mutedIdentities?: string[] };
      /** Revision 5: the audience now, you included. */
      audience?: AudienceInfo;
      /** Revision 5: the HLS program is playable (its playlists have a segment); see `broadcastReady`. */
      broadcastReady?: boolean }
  | { v: 1; type: 'published'; re?: string; sdp: string; tracks: TrackInfo[] }
  | { v: 1; type: 'unpublished'; re?: string; /** Server-initiated only: `demoted`, or the leg's close reason. */ reason?: string }
  | { v: 1; type: 'subscriberOffer'; re?: string; version: number; sdp: string; mids: Record<string, TrackInfo> }
  /**
   * Revision 3: the server closed your subscriber connection (a close reason). `engine_died`
   * and `transport_failed` are worth a new `subscribe`.
   */
  | { v: 1; type: 'subscriberClosed'; reason: string }
  /** Revision 3: the room's dominant speaker changed (engines with `capabilities.activeSpeaker`). */
  | { v: 1; type: 'activeSpeaker'; participantId: string }
  | { v: 1; type: 'ok'; re?: string }
  | { v: 1; type: 'pong'; re?: string }
  | { v: 1; type: 'participantJoined'; participant: ParticipantInfo }
  | { v: 1; type: 'participantLeft'; participantId: string; reason: string }
  | { v: 1; type: 'trackPublished'; track: TrackInfo }
  /**
   * Revision 6: `reason` is why the track went: its publisher connection's close reason. A fault
   * (`transport_failed`, `ice_timeout`, `engine_died`) means its publisher is likely back soon.
   */
  | { v: 1; type: 'trackUnpublished'; track: TrackInfo; reason?: string }
  // Revision 2. `by` is the acting moderator's participant id; absent when done through the HTTP API.
  | { v: 1; type: 'roleChanged'; participantId: string; role: Role; previousRole: Role; by?: string }
  /** To moderators (with `queue`) and to the hand's owner (without). */
  | { v: 1; type: 'handRaised'; participantId: string; identity: string; raisedAt: string; queue?: HandInfo[] }
  | { v: 1; type: 'handLowered'; participantId: string; reason: HandLowerReason; queue?: HandInfo[]; by?: string }
  /** `track` is the participant's live track of that kind, if it has one. */
  | { v: 1; type: 'trackMuted'; participantId: string; kind: MediaKind; track?: TrackInfo; by?: string }
  | { v: 1; type: 'trackUnmuted'; participantId: string; kind: MediaKind; track?: TrackInfo; by?: string }
  | { v: 1; type: 'participantKicked'; participantId: string; identity: string; reason?: string; by?: string }
  /** Moderators only. */
  | { v: 1; type: 'identityBlocked'; block: BlockInfo }
  | { v: 1; type: 'identityUnblocked'; identity: string; by?: string }
  | { v: 1; type: 'broadcastStarted' }
  /** Revision 5: the broadcast's HLS program became playable (every rendition has a segment). */
  | { v: 1; type: 'broadcastReady' }
  | { v: 1; type: 'broadcastEnded'; reason: BroadcastEndReason }
  // Revision 5. To everyone in the room; `by` as above.
  | { v: 1; type: 'chatMessage'; id: string; from: ChatAuthorInfo; text: string; at: string }
  | { v: 1; type: 'chatDeleted'; id: string; by?: string }
  | { v: 1; type: 'chatMuted'; identity: string; by?: string }
  | { v: 1; type: 'chatUnmuted'; identity: string; by?: string }
  /** The audience changed: at most one per second per room, only when the counts differ. */
  | { v: 1; type: 'audience'; audience: AudienceInfo }
  /**
   * Revision 5: timed metadata was inserted into the broadcast (`POST /api/rooms/:id/metadata`).
   * Stage members (roles that publish) get it at once; the audience gets it in the HLS playlists
   * (EXT-X-DATERANGE), at the frame it belongs to. `at` is that frame's PROGRAM-DATE-TIME.
   */
  | { v: 1; type: 'metadata'; id: string; payload: unknown; at: string }
  /** Revision 5: reply to `broadcastHealth`. */
  | { v: 1; type: 'broadcastHealth'; re?: string; health: BroadcastHealthInfo | null }
  | { v: 1; type: 'error'; re?: string; code: string; message: string }
  | { v: 1; type: 'bye'; reason: string }
  /**
   * Cluster only: the room lives on another node. The answer to `join` on a socket that reached
   * the wrong node, which then closes it (4302); the client opens `url` (a WebSocket URL,
   * without the token: the client adds its own) and joins there.
   */
  | { v: 1; type: 'redirect'; re?: string; url: string };

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
  /** Cluster: the room lives on another node, see the `redirect` message. */
  redirect: 4302,
} as const;
