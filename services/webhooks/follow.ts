import type { BroadcastManager } from '../broadcast/BroadcastManager.ts';
import { recordingPlaylistPath, type RecordingInfo } from '../packager/recording.ts';
import type { Room } from '../stage/Room.ts';
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

const participantData = (p: ParticipantSummary) => ({
  participantId: p.participantId,
  identity: p.identity,
  role: p.role,
  transport: p.transport,
});

const trackData = (t: StageTrack) => ({ trackId: t.trackId, kind: t.kind, participantId: t.peerId, codec: t.codec });

/**
 * Turns stage and broadcast events into webhook events. Follows every new room through the
 * registry's observer and each room's own observer, and the broadcast manager; `close()`
 * removes every listener it added.
 */
export function followForWebhooks(deps: {
  registry: Pick<RoomRegistry, 'observer'>;
  broadcasts?: Pick<BroadcastManager, 'on' | 'off'>;
  sink: WebhookSink;
}): WebhookFollower {
  const { registry, broadcasts, sink } = deps;
  const send = (type: WebhookEventType, room: string, data: Record<string, unknown> = {}) => sink.enqueue(type, room, data);
  const detach: (() => void)[] = [];

  // A closed room drops its observer's listeners itself.
  const onNewRoom = (room: Room) => {
    const roomId = room.id;
    send('room.started', roomId, { createdAt: room.summary().createdAt });
    const events = room.observer;
    events.on('participantjoined', (p) => send('participant.joined', roomId, participantData(p)));
    events.on('participantleft', (p, reason) => send('participant.left', roomId, { ...participantData(p), reason }));
    events.on('trackpublished', (t) => send('track.published', roomId, trackData(t)));
    events.on('trackunpublished', (t, reason) => send('track.unpublished', roomId, { ...trackData(t), reason }));
    events.on('rolechanged', (p, previous, by) => send('participant.role_changed', roomId, { ...participantData(p), from: previous, to: p.role, by: by ?? null }));
    events.on('handraised', (hand, queue) =>
      send('participant.hand_raised', roomId, {
        participantId: hand.participantId,
        identity: hand.identity,
        raisedAt: hand.raisedAt,
        position: queue.findIndex((h) => h.participantId === hand.participantId) + 1,
      }),
    );
    events.on('chatmessage', (m) => send('chat.message', roomId, { id: m.id, from: { ...m.from }, text: m.text, at: m.at }));
    events.on('close', (reason: CloseReason) => send('room.ended', roomId, { reason }));
  };
  registry.observer.on('newroom', onNewRoom);
  detach.push(() => registry.observer.off('newroom', onNewRoom));
  if (broadcasts) {
    const onStarted = (roomId: string) => send('broadcast.started', roomId, { playlist: `/hls/${roomId}/index.m3u8` });
    const onReady = (roomId: string) => send('broadcast.hls_ready', roomId, { playlist: `/hls/${roomId}/index.m3u8` });
    const onStopped = (roomId: string, reason: string) => send('broadcast.stopped', roomId, { reason });
    broadcasts.on('broadcaststarted', onStarted);
    broadcasts.on('broadcastready', onReady);
    broadcasts.on('broadcaststopped', onStopped);
    const onRecording = (roomId: string, info: RecordingInfo) =>
      send('recording.ready', roomId, {
        recordingId: info.id,
        startedAt: info.startedAt,
        endedAt: info.endedAt,
        durationSec: info.durationSec,
        playlist: recordingPlaylistPath(roomId, info.id),
      });
    broadcasts.on('recordingready', onRecording);
    detach.push(() => {
      broadcasts.off('recordingready', onRecording);
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
