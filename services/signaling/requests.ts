import { InvalidStateError, ServiceError } from '../core/errors.ts';
import type { Participant } from '../stage/Participant.ts';
import type { Room } from '../stage/Room.ts';
import { toSubscriberOffer, toTrackInfo } from './convert.ts';
import { reOf, type Outgoing } from './outgoing.ts';
import type { BroadcastHealthInfo, ClientMessage, IceServerInfo } from './protocol.ts';

/** What a session may ask of the rest of the service, beyond its Room. */
export interface SessionServices {
  /** Ends the room's HLS broadcast (moderators' `endBroadcast`). Absent: `unsupported`. */
  endBroadcast?: (roomId: string) => Promise<void>;
  /** ICE servers with fresh TURN credentials for `joined`. Absent: none. */
  iceServers?: (identity: string) => IceServerInfo[];
  /** The room's HLS broadcast state for `joined`. Absent: not reported. */
  broadcastState?: (roomId: string) => 'live' | 'ended' | 'none';
  /** The room's broadcast health for moderators' `broadcastHealth`; null when it has none. Absent: `unsupported`. */
  broadcastHealth?: (roomId: string) => BroadcastHealthInfo | null;
  /** Whether the room's HLS program is playable, for `joined.broadcastReady`. Absent: not reported. */
  broadcastReady?: (roomId: string) => boolean;
}

/** A request of a joined participant: every type but the session's own (join, leave, ping). */
export type StageRequest = Exclude<ClientMessage, { type: 'join' | 'leave' | 'ping' }>;

/**
 * Carries out one request of a joined participant on its Room, which checks the participant's
 * current role for each, and returns the reply.
 */
export async function answerRequest(room: Room, participant: Participant, msg: StageRequest, services: SessionServices): Promise<Outgoing> {
  const re = reOf(msg.id);
  const self = participant.id;
  switch (msg.type) {
    case 'publish': {
      const result = await room.publish(self, msg.sdp, msg.sources ? { sources: msg.sources } : undefined);
      return { type: 'published', ...re, sdp: result.answer, tracks: result.tracks.map((t) => toTrackInfo(t, room.isTrackMuted(t))) };
    }
    case 'unpublish':
      await room.unpublish(self);
      return { type: 'unpublished', ...re };
    case 'subscribe':
      return toSubscriberOffer(await room.subscribe(self), msg.id);
    case 'subscriberAnswer':
      await room.answerSubscriber(self, msg.version, msg.sdp);
      break;
    case 'unsubscribe':
      await room.unsubscribe(self);
      break;
    case 'setLayers':
      await room.setSubscriberLayers(self, msg.trackId, {
        spatialLayer: msg.spatialLayer,
        ...(msg.temporalLayer !== undefined ? { temporalLayer: msg.temporalLayer } : {}),
      });
      break;
    case 'leaveStage':
      await room.leaveStage(self);
      break;
    case 'raiseHand':
      room.raiseHand(self);
      break;
    case 'lowerHand':
      room.lowerHand(msg.participantId ?? self, self);
      break;
    case 'promote':
      room.promote(msg.participantId, self);
      break;
    case 'demote':
      await room.demote(msg.participantId, self);
      break;
    case 'mute':
    case 'unmute':
      await room.setMuted(msg.participantId, msg.kind ? [msg.kind] : ['audio', 'video'], msg.type === 'mute', self);
      break;
    case 'kick':
      await room.kick(msg.participantId, self, msg.reason);
      break;
    case 'unblock':
      room.unblock(msg.identity, self);
      break;
    case 'chat':
      room.chat.send(self, msg.text);
      break;
    case 'deleteChat':
      room.chat.delete(msg.messageId, self);
      break;
    case 'muteChat':
    case 'unmuteChat':
      room.chat.setMuted(msg.identity, msg.type === 'muteChat', self);
      break;
    case 'broadcastHealth':
      room.assertMayModerate(self);
      if (!services.broadcastHealth) throw new ServiceError('unsupported', 'this server has no broadcast', 501);
      return { type: 'broadcastHealth', ...re, health: services.broadcastHealth(room.id) };
    case 'endBroadcast':
      room.assertMayModerate(self);
      if (!services.endBroadcast) throw new ServiceError('unsupported', 'this server has no broadcast', 501);
      await services.endBroadcast(room.id);
      break;
    default:
      throw new InvalidStateError(`${(msg as { type: string }).type} is not handled here`);
  }
  return { type: 'ok', ...re };
}
