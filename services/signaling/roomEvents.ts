import type { Room } from '../stage/Room.ts';
import type { ActorId, BlockEntry, CloseReason, HandEntry, HandLowerReason, MediaKind, ParticipantSummary, RoomEvents, StageRole, StageTrack } from '../stage/StageTypes.ts';
import { chatEventMessages } from './chatEvents.ts';
import { toBlockInfo, toHandInfo, toParticipantInfo, toTrackInfo } from './convert.ts';
import type { Outgoing } from './outgoing.ts';

/** Who a session speaks for, as the room's events need to know it. */
export interface Audience {
  /** The session's participant id, once joined. */
  readonly selfId: string | undefined;
  /** Joined, and a moderator now (hand queues and blocks go to moderators only). */
  readonly isModerator: boolean;
}

/** Every room event a session words for its client; `grantchanged` is bookkeeping (clients learn roles from `rolechanged`). */
export type RoomListeners = { [K in Exclude<keyof RoomEvents, 'close' | 'grantchanged'>]: (...args: RoomEvents[K]) => void };

/**
 * The room's events as protocol messages for one session: what each event becomes on the wire,
 * and who gets it (a hand's owner or the moderators; not the participant's own join or leave).
 */
export function roomEventMessages(room: Room, audience: Audience, send: (msg: Outgoing) => void): RoomListeners {
  return {
    participantjoined: (p: ParticipantSummary) => {
      if (p.participantId !== audience.selfId) send({ type: 'participantJoined', participant: toParticipantInfo(p) });
    },
    participantleft: (p: ParticipantSummary, reason: CloseReason) => {
      if (p.participantId !== audience.selfId) send({ type: 'participantLeft', participantId: p.participantId, reason });
    },
    trackpublished: (track: StageTrack) => send({ type: 'trackPublished', track: toTrackInfo(track, room.isTrackMuted(track)) }),
    trackunpublished: (track: StageTrack, reason: CloseReason) => send({ type: 'trackUnpublished', track: toTrackInfo(track), reason }),
    rolechanged: (p: ParticipantSummary, previous: StageRole, by: ActorId) =>
      send({ type: 'roleChanged', participantId: p.participantId, role: p.role, previousRole: previous, ...byOf(by) }),
    handraised: (hand: HandEntry, queue: HandEntry[]) => {
      if (audience.isModerator) send({ type: 'handRaised', ...toHandInfo(hand), queue: queue.map(toHandInfo) });
      else if (hand.participantId === audience.selfId) send({ type: 'handRaised', ...toHandInfo(hand) });
    },
    handlowered: (participantId: string, reason: HandLowerReason, queue: HandEntry[], by: ActorId) => {
      if (audience.isModerator) send({ type: 'handLowered', participantId, reason, queue: queue.map(toHandInfo), ...byOf(by) });
      else if (participantId === audience.selfId) send({ type: 'handLowered', participantId, reason, ...byOf(by) });
    },
    mutechanged: (participantId: string, kind: MediaKind, muted: boolean, track: StageTrack | undefined, by: ActorId) =>
      send({ type: muted ? 'trackMuted' : 'trackUnmuted', participantId, kind, ...(track ? { track: toTrackInfo(track, muted) } : {}), ...byOf(by) }),
    participantkicked: (p: ParticipantSummary, reason: string | undefined, by: ActorId) =>
      send({ type: 'participantKicked', participantId: p.participantId, identity: p.identity, ...(reason ? { reason } : {}), ...byOf(by) }),
    identityblocked: (block: BlockEntry) => {
      if (audience.isModerator) send({ type: 'identityBlocked', block: toBlockInfo(block) });
    },
    identityunblocked: (identity: string, by: ActorId) => {
      if (audience.isModerator) send({ type: 'identityUnblocked', identity, ...byOf(by) });
    },
    activespeaker: (participantId: string) => send({ type: 'activeSpeaker', participantId }),
    ...chatEventMessages(send),
  };
}

export function byOf(actor: ActorId): { by?: string } {
  return actor ? { by: actor } : {};
}
