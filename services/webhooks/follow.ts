import type { BroadcastManager } from '../broadcast/BroadcastManager.ts';
import type { RoomRegistry } from '../stage/RoomRegistry.ts';
import type { CloseReason, ParticipantSummary, StageTrack } from '../stage/StageTypes.ts';
import type { WebhookEventType } from './WebhookTypes.ts';

/** What `followForWebhooks` needs of the dispatcher. */
export interface WebhookSink {
  enqueue(type: WebhookEventType, room: string, data?: Record<string, unknown>): unknown;
}

export interface WebhookFollower {
  /** Stops following (the dispatcher stays open). Idempotent. */
  close(): void;
}

/**
 * The roles feature's room events (issue 4: `rolechanged`, `handraised`), read loosely so
 * that this module does not break while their exact payloads settle.
 */
type LooseEmitter = { on(event: string, listener: (...args: never[]) => void): unknown };

const participantData = (p: ParticipantSummary) => ({
  participantId: p.participantId,
  identity: p.identity,
  role: p.role,
  transport: p.transport,
});

const trackData = (t: StageTrack) => ({ trackId: t.trackId, kind: t.kind, participantId: t.peerId, codec: t.codec });

/**
 * Turns stage and broadcast events into webhook events. Subscribes to the registry (and to
 * each room it creates) and to the broadcast manager; `close()` removes every listener it added.
 */
export function followForWebhooks(deps: {
  registry: RoomRegistry;
  broadcasts?: Pick<BroadcastManager, 'on' | 'off'>;
  sink: WebhookSink;
}): WebhookFollower {
  const { registry, broadcasts, sink } = deps;
  const send = (type: WebhookEventType, room: string, data: Record<string, unknown> = {}) => sink.enqueue(type, room, data);
  const detach: (() => void)[] = [];

  const onRoomCreated = (roomId: string) => {
    const room = registry.get(roomId);
    send('room.started', roomId, { createdAt: room?.summary().createdAt });
    if (!room) return;
    room.on('participantjoined', (p) => send('participant.joined', roomId, participantData(p)));
    room.on('participantleft', (p, reason) => send('participant.left', roomId, { ...participantData(p), reason }));
    room.on('trackpublished', (t) => send('track.published', roomId, trackData(t)));
    room.on('trackunpublished', (t) => send('track.unpublished', roomId, trackData(t)));
    const loose = room as unknown as LooseEmitter;
    loose.on('rolechanged', (p: ParticipantSummary, previous: string, by?: string) =>
      send('participant.role_changed', roomId, { ...participantData(p), from: previous, to: p.role, by: by ?? null }),
    );
    loose.on('handraised', (hand: { participantId: string; identity: string; raisedAt: string }, queue?: { participantId: string }[]) =>
      send('participant.hand_raised', roomId, {
        participantId: hand.participantId,
        identity: hand.identity,
        raisedAt: hand.raisedAt,
        position: queue ? queue.findIndex((h) => h.participantId === hand.participantId) + 1 : null,
      }),
    );
    // The room's own listeners go with it: a closed room emits nothing more.
  };
  const onRoomClosed = (roomId: string, reason: CloseReason) => send('room.ended', roomId, { reason });
  registry.on('roomcreated', onRoomCreated);
  registry.on('roomclosed', onRoomClosed);
  detach.push(() => {
    registry.off('roomcreated', onRoomCreated);
    registry.off('roomclosed', onRoomClosed);
  });

  if (broadcasts) {
    const onStarted = (roomId: string) => send('broadcast.started', roomId, { playlist: `/hls/${roomId}/index.m3u8` });
    const onReady = (roomId: string) => send('broadcast.hls_ready', roomId, { playlist: `/hls/${roomId}/index.m3u8` });
    const onStopped = (roomId: string, reason: string) => send('broadcast.stopped', roomId, { reason });
    broadcasts.on('broadcaststarted', onStarted);
    broadcasts.on('broadcastready', onReady);
    broadcasts.on('broadcaststopped', onStopped);
    detach.push(() => {
      broadcasts.off('broadcaststarted', onStarted);
      broadcasts.off('broadcastready', onReady);
      broadcasts.off('broadcaststopped', onStopped);
    });
  }

  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      for (const d of detach) d();
    },
  };
}
