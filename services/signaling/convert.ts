import type { ParticipantSummary, StageTrack, SubscriberOffer } from '../stage/StageTypes.ts';
import type { ParticipantInfo, ServerMessage, TrackInfo } from './protocol.ts';

/** Stage objects → their wire shapes. */

export function toTrackInfo(track: StageTrack): TrackInfo {
  return { trackId: track.trackId, kind: track.kind, participantId: track.peerId, streamId: track.streamId };
}

export function toParticipantInfo(p: ParticipantSummary): ParticipantInfo {
  return { participantId: p.participantId, identity: p.identity, role: p.role, publishing: p.publishing, transport: p.transport };
}

export function toSubscriberOffer(offer: SubscriberOffer, re?: string): Extract<ServerMessage, { type: 'subscriberOffer' }> {
  const mids: Record<string, TrackInfo> = {};
  for (const [mid, track] of Object.entries(offer.mids)) mids[mid] = toTrackInfo(track);
  return { v: 1, type: 'subscriberOffer', ...(re ? { re } : {}), version: offer.version, sdp: offer.offer, mids };
}
