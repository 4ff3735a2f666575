import type { BlockEntry, HandEntry, ParticipantSummary, StageTrack, SubscriberOffer } from '../stage/StageTypes.ts';
import type { BlockInfo, BroadcastHealthInfo, HandInfo, ParticipantInfo, ServerMessage, TrackInfo } from './protocol.ts';

/** Stage objects → their wire shapes. */

export function toTrackInfo(track: StageTrack, muted = false): TrackInfo {
  return {
    trackId: track.trackId,
    kind: track.kind,
    participantId: track.peerId,
    streamId: track.streamId,
    muted,
    ...(track.source === 'screen' ? { source: track.source } : {}),
  };
}

export function toParticipantInfo(p: ParticipantSummary): ParticipantInfo {
  return {
    participantId: p.participantId,
    identity: p.identity,
    role: p.role,
    publishing: p.publishing,
    transport: p.transport,
    handRaised: p.handRaised,
    muted: p.muted,
  };
}

export function toHandInfo(h: HandEntry): HandInfo {
  return { participantId: h.participantId, identity: h.identity, raisedAt: h.raisedAt };
}

export function toBlockInfo(b: BlockEntry): BlockInfo {
  return { identity: b.identity, blockedAt: b.blockedAt, ...(b.by ? { by: b.by } : {}), ...(b.reason ? { reason: b.reason } : {}) };
}

export function toSubscriberOffer(offer: SubscriberOffer, re?: string): Extract<ServerMessage, { type: 'subscriberOffer' }> {
  const mids: Record<string, TrackInfo> = {};
  for (const [mid, track] of Object.entries(offer.mids)) mids[mid] = toTrackInfo(track);
  return { v: 1, type: 'subscriberOffer', ...(re ? { re } : {}), version: offer.version, sdp: offer.offer, mids };
}

/** A broadcast status → `broadcastHealth`'s wire shape (fields a status lacks read as zero). */
export function toBroadcastHealth(
  status: ({ state: 'live' | 'ended' } & Partial<Omit<BroadcastHealthInfo, 'state'>>) | undefined,
): BroadcastHealthInfo | null {
  if (!status) return null;
  return {
    state: status.state,
    ready: status.ready ?? false,
    startedAt: status.startedAt ?? '',
    tracks: status.tracks ?? 0,
    ffmpegRestarts: status.ffmpegRestarts ?? 0,
    ffmpegCrashes: status.ffmpegCrashes ?? 0,
    layout: status.layout ?? 'grid',
    renditions: (status.renditions ?? []).map((r) => ({ name: r.name, bitsPerSecond: r.bitsPerSecond })),
    lastPartAgeMs: status.lastPartAgeMs ?? null,
  };
}
