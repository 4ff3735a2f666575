import type { Role } from '../auth/tokens.ts';
import type { ChatOptions } from './Chat.ts';
import type { Room } from './Room.ts';
import type { CloseReason, MediaKind, StageTrack, SubscriberOffer } from '../engine/EngineTypes.ts';

export type { Role, CloseReason, MediaKind, StageTrack, SubscriberOffer };

/**
 * The role a participant holds now. It starts as its token's role (`presenter`, `moderator`,
 * `viewer`); a moderator can promote a `viewer` to `guest` (on the stage: may publish) and
 * demote a `guest` back to `viewer`. Every stage action is checked against this, never
 * against the token.
 */
export type StageRole = Role | 'guest';

/**
 * How a participant reached the room. `signaling` participants live as long as their
 * WebSocket; `whip` and `whep` participants are one HTTP-created engine leg each and leave the
 * room when that leg closes.
 */
export type ParticipantTransport = 'signaling' | 'whip' | 'whep';

export interface ParticipantOptions {
  identity: string;
  /** The token's role: the role it starts with. */
  role: Role;
  transport: ParticipantTransport;
}

/** Plain summary of a participant, safe to send to clients. */
export interface ParticipantSummary {
  participantId: string;
  identity: string;
  /** Current role. */
  role: StageRole;
  transport: ParticipantTransport;
  publishing: boolean;
  /** Its hand is in the room's queue. */
  handRaised: boolean;
  /** Kinds a moderator muted (paused on the server), also for tracks it publishes later. */
  muted: MediaKind[];
}

/** One raised hand, in queue order. */
export interface HandEntry {
  participantId: string;
  identity: string;
  /** ISO-8601 time the hand went up. */
  raisedAt: string;
}

/** Why a hand left the queue. */
export type HandLowerReason = 'self' | 'moderator' | 'promoted' | 'left';

/** An identity refused in a room (after a kick, or blocked directly) until unblocked. */
export interface BlockEntry {
  identity: string;
  /** ISO-8601. */
  blockedAt: string;
  /** Participant id of the moderator who blocked it; absent when done through the HTTP API. */
  by?: string;
  reason?: string;
}

/**
 * A role an identity holds beyond its token's: today a viewer promoted to `guest`. While the
 * identity has a connection in the room the grant holds; once its last one left, it lapses at
 * `lapsesAt` (one STAGE_ROLE_GRACE_MS later) unless the identity comes back by then.
 */
export interface RoleGrant {
  identity: string;
  role: 'guest';
  /** ISO-8601 time it goes if the identity has no connection by then; absent while it has one. */
  lapsesAt?: string;
}

/**
 * Who did a moderation action: a moderator's participant id, or `undefined` for the HTTP API
 * (trusted by its API key).
 */
export type ActorId = string | undefined;

export interface RoomSummary {
  id: string;
  /** ISO-8601 creation time. */
  createdAt: string;
  /** Participants currently in the room (signaling, WHIP and WHEP). */
  participants: number;
  /** Stage tracks currently live. */
  tracks: number;
}

/** Who wrote a chat message: a participant as it was when it sent, or the HTTP API (`system`). */
export interface ChatAuthor {
  participantId: string;
  identity: string;
  /** Its role when it sent; `system` for messages sent through the HTTP API. */
  role: StageRole | 'system';
}

/** One chat message. */
export interface ChatMessage {
  /** `m_…`, unique in the room. */
  id: string;
  from: ChatAuthor;
  /** Trimmed; at most the room's chat length limit. Plain text: clients must render it as text. */
  text: string;
  /** ISO-8601 time the server accepted it. */
  at: string;
}

/** Participants (connections) by current role. */
export interface AudienceCounts {
  presenter: number;
  guest: number;
  moderator: number;
  viewer: number;
  total: number;
}

export type ParticipantEvents = {
  /** The engine renegotiates this participant's subscriber leg; deliver the offer to its client. */
  subscriberoffer: [offer: SubscriberOffer];
  /**
   * One of its engine legs closed without its client asking: on the engine's side, or the
   * publisher leg of a guest who was demoted.
   */
  legclosed: [leg: 'publisher' | 'subscriber', reason: CloseReason];
  /** It left the room, for this reason. Emitted once. */
  close: [reason: CloseReason];
};

export type RoomEvents = {
  participantjoined: [participant: ParticipantSummary];
  participantleft: [participant: ParticipantSummary, reason: CloseReason];
  trackpublished: [track: StageTrack];
  /** `reason`: its publisher leg's close reason (EngineEvents.trackunpublished). */
  trackunpublished: [track: StageTrack, reason: CloseReason];
  /** The dominant speaker changed (engines that detect speakers). */
  activespeaker: [participantId: string];
  /** A participant's role changed (promote, demote). Takes effect at once. */
  rolechanged: [participant: ParticipantSummary, previous: StageRole, by: ActorId];
  handraised: [hand: HandEntry, queue: HandEntry[]];
  handlowered: [participantId: string, reason: HandLowerReason, queue: HandEntry[], by: ActorId];
  /** A kind of a participant's media was muted or unmuted; `track` is its live track of that kind, if any. */
  mutechanged: [participantId: string, kind: MediaKind, muted: boolean, track: StageTrack | undefined, by: ActorId];
  /** Sent before the kicked participant's `participantleft` (reason `kicked`). */
  participantkicked: [participant: ParticipantSummary, reason: string | undefined, by: ActorId];
  identityblocked: [block: BlockEntry];
  identityunblocked: [identity: string, by: ActorId];
  /**
   * An identity's role grant changed: given (promote), held again (a connection came back),
   * lapsing (its last connection left), or gone (`undefined`: demote, leaving the stage, block,
   * or lapsed). Bookkeeping for what the room carries to another node; clients learn of roles
   * from `rolechanged`.
   */
  grantchanged: [identity: string, grant: RoleGrant | undefined];
  /** A chat message was accepted (from a participant or the HTTP API). */
  chatmessage: [message: ChatMessage];
  /** A chat message was deleted by its author or a moderator. */
  chatdeleted: [messageId: string, by: ActorId];
  /** A moderator muted or unmuted an identity's chat. */
  chatmutechanged: [identity: string, muted: boolean, by: ActorId];
  /** The audience counts changed; at most once per `audienceIntervalMs`, coalesced. */
  audiencechanged: [counts: AudienceCounts];
  /** The room closed, for this reason. Emitted once, after every participant got its `close`. */
  close: [reason: CloseReason];
};

export interface RoomOptions {
  /**
   * How long a role granted to an identity (a promotion to guest) outlives its last
   * connection, ms, so that a reconnect keeps it. The service's value is STAGE_ROLE_GRACE_MS.
   */
  roleGraceMs: number;
  /**
   * Most m-sections a client's offer may have (publish, WHEP). The service's value is
   * SDP_MAX_MEDIA_SECTIONS; default its default, DEFAULT_SDP_MAX_MEDIA_SECTIONS.
   */
  maxSdpMediaSections?: number;

  /**
   * Concurrent connections (signaling, WHIP and WHEP together) one identity may hold in the room;
   * `join` past it throws `too_many_sessions`. Default CONFIG_DEFAULTS.STAGE_MAX_SESSIONS_PER_IDENTITY (5).
   */
  maxSessionsPerIdentity?: number;

  /** The room's chat limits (CHAT_* config); each defaults to its config default. */
  chat?: ChatOptions;

  /** Shortest time between two `audiencechanged` events, ms. Default AUDIENCE_INTERVAL_MS (1000). */
  audienceIntervalMs?: number;
}

/**
 * The registry's observer: every new room. A room's own `observer` then tells its events, and
 * `close` last; monitoring code follows the stage this way and keeps no copy of it.
 */
export type RoomRegistryObserverEvents = {
  newroom: [room: Room];
};
