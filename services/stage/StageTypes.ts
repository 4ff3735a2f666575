import type { Role } from '../auth/tokens.ts';
import type { CloseReason, StageTrack, SubscriberOffer } from '../engine/EngineTypes.ts';

export type { Role, CloseReason, StageTrack, SubscriberOffer };

/**
 * How a participant reached the room. `signaling` participants live as long as their
 * WebSocket; `whip` and `whep` participants are one HTTP-created engine leg each and leave the
 * room when that leg closes.
 */
export type ParticipantTransport = 'signaling' | 'whip' | 'whep';

export interface ParticipantOptions {
  identity: string;
  role: Role;
  transport: ParticipantTransport;
}

/** Plain summary of a participant, safe to send to clients. */
export interface ParticipantSummary {
  participantId: string;
  identity: string;
  role: Role;
  transport: ParticipantTransport;
  publishing: boolean;
}

export interface RoomSummary {
  id: string;
  /** ISO-8601 creation time. */
  createdAt: string;
  /** Participants currently in the room (signaling, WHIP and WHEP). */
  participants: number;
  /** Stage tracks currently live. */
  tracks: number;
}

export type ParticipantEvents = {
  /** The engine renegotiates this participant's subscriber leg; deliver the offer to its client. */
  subscriberoffer: [offer: SubscriberOffer];
  /** One of its engine legs closed on the engine's side. */
  legclosed: [leg: 'publisher' | 'subscriber', reason: CloseReason];
  /** It left the room, for this reason. Emitted once. */
  close: [reason: CloseReason];
};

export type RoomEvents = {
  participantjoined: [participant: ParticipantSummary];
  participantleft: [participant: ParticipantSummary, reason: CloseReason];
  trackpublished: [track: StageTrack];
  trackunpublished: [track: StageTrack];
  /** The room closed, for this reason. Emitted once, after every participant got its `close`. */
  close: [reason: CloseReason];
};

export type RoomRegistryEvents = {
  roomcreated: [roomId: string];
  roomclosed: [roomId: string, reason: CloseReason];
};
