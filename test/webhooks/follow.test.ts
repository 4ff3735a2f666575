/**
 * followForWebhooks over the real embedded engine and RoomRegistry, into a real dispatcher
 * and receiver: room, participant, role, hand, track and chat events become signed webhooks with the
 * documented data, in order; close() stops following.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { EmbeddedEngine } from '../../services/engine/embedded/EmbeddedEngine.ts';
import { RoomRegistry } from '../../services/stage/RoomRegistry.ts';
import { followForWebhooks } from '../../services/webhooks/follow.ts';
import { WebhookDispatcher } from '../../services/webhooks/WebhookDispatcher.ts';
import { startReceiver, type TestReceiver } from '../support/webhookReceiver.ts';

const SECRET = 'whsec_follow_0123456789';
let dir: string;
let engine: EmbeddedEngine;
let registry: RoomRegistry;
let dispatcher: WebhookDispatcher;
let rx: TestReceiver;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stagecast-follow-'));
  engine = new EmbeddedEngine({ listenIp: '127.0.0.1', portRange: [44000, 44999], iceServers: [] });
  registry = new RoomRegistry(engine, { roleGraceMs: 60_000 });
  rx = await startReceiver(SECRET);
  dispatcher = new WebhookDispatcher({ dbPath: join(dir, 'outbox.db'), secret: SECRET, endpoints: [rx.url] });
  dispatcher.start();
});
after(async () => {
  dispatcher.close();
  await rx.close();
  await registry.close();
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

it('room, participant, hand, role, track and chat events become webhooks, in order; close() stops following', async () => {
  const follower = followForWebhooks({ registry, sink: dispatcher });
  const room = await registry.create('follow-room');
  const viewer = room.join({ identity: 'vera', role: 'viewer', transport: 'signaling' });
  room.raiseHand(viewer.id);
  room.promote(viewer.id, undefined);
  // The engine's word that the guest's camera went live, and then that its connection failed.
  const track = { trackId: 't1', peerId: viewer.id, kind: 'video' as const, codec: 'video/VP8', streamId: 's1' };
  room.handleTrackPublished(track);
  room.handleTrackUnpublished(track, 'transport_failed');
  const chat = room.chat.send(viewer.id, '<i>hi</i>');
  await room.leave(viewer.id, 'client_request');
  await registry.delete('follow-room', 'room_closed');
  assert.equal(await dispatcher.flush(5000), 0);
  const events = rx.received.map((r) => r.event);
  assert.deepEqual(events.map((e) => e.type), [
    'room.started',
    'participant.joined',
    'participant.hand_raised',
    'participant.role_changed',
    'track.published',
    'track.unpublished',
    'chat.message',
    'participant.left',
    'room.ended',
  ]);
  assert.ok(rx.received.every((r) => r.verified));
  assert.ok(events.every((e) => e.room === 'follow-room' && /^evt_/.test(e.id) && !Number.isNaN(Date.parse(e.timestamp))));
  const [, joined, hand, role, published, unpublished, chatEvent, left, ended] = events;
  assert.deepEqual(joined!.data, { participantId: viewer.id, identity: 'vera', role: 'viewer', transport: 'signaling' });
  assert.equal(hand!.data.position, 1);
  assert.equal(role!.data.from, 'viewer');
  assert.equal(role!.data.to, 'guest');
  assert.equal(published!.data.reason, undefined);
  assert.equal(unpublished!.data.reason, 'transport_failed', 'track.unpublished says why');
  assert.equal(unpublished!.data.trackId, 't1');
  assert.deepEqual(chatEvent!.data, { id: chat.id, from: { participantId: viewer.id, identity: 'vera', role: 'guest' }, text: '<i>hi</i>', at: chat.at });
  assert.equal(left!.data.reason, 'client_request');
  assert.equal(ended!.data.reason, 'room_closed');

  follower.close();
  follower.close();
  await registry.create('unfollowed');
  assert.equal(await dispatcher.flush(1000), 0);
  assert.equal(rx.received.length, 9, 'nothing after close()');
});
