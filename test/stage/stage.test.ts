import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CloseReason, ParticipantSummary } from '../../services/stage/StageTypes.ts';
import { closeStage, createStage, errorCode as code, useStage } from '../support/stageFixture.ts';

/** Stage logic against the real embedded engine, without media: permissions, events, close cascade. */
describe('stage: RoomRegistry and Room', () => {
  const stage = useStage();

  it('creates, finds, lists and deletes rooms; duplicates conflict', async () => {
    const room = await stage.registry.create('alpha');
    assert.equal(stage.registry.get('alpha'), room);
    assert.ok(stage.registry.list().includes(room));
    await assert.rejects(stage.registry.create('alpha'), code('conflict'));
    await assert.rejects(stage.registry.create('bad id!'), code('bad_request'));
    const generated = await stage.registry.create();
    assert.match(generated.id, /^[A-Za-z0-9_-]{1,64}$/);
    await stage.registry.delete('alpha');
    await stage.registry.delete(generated.id);
    assert.equal(stage.registry.get('alpha'), undefined);
    assert.throws(() => stage.registry.require('alpha'), code('not_found'));
    await assert.rejects(stage.registry.delete('alpha'), code('not_found'));
  });

  it('concurrent creates of one id: exactly one wins', async () => {
    const results = await Promise.allSettled([stage.registry.create('race'), stage.registry.create('race')]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    await stage.registry.delete('race');
  });

  it('emits participantjoined/left and closes legs on leave', async () => {
    const room = await stage.registry.create('events');
    const joined: ParticipantSummary[] = [];
    const left: [string, CloseReason][] = [];
    room.on('participantjoined', (p) => joined.push(p));
    room.on('participantleft', (p, reason) => left.push([p.participantId, reason]));
    const a = room.join({ identity: 'alice', role: 'presenter', transport: 'signaling' });
    const w = room.join({ identity: 'obs', role: 'presenter', transport: 'whip' });
    assert.deepEqual(joined.map((p) => [p.identity, p.transport]), [['alice', 'signaling'], ['obs', 'whip']]);
    assert.notEqual(a.id, w.id);
    assert.equal(room.summary().participants, 2);
    let closedWith: CloseReason | undefined;
    a.on('close', (reason) => (closedWith = reason));
    await room.leave(a.id, 'signaling_closed');
    await room.leave(a.id, 'signaling_closed'); // idempotent
    assert.equal(closedWith, 'signaling_closed');
    assert.deepEqual(left, [[a.id, 'signaling_closed']]);
    assert.equal(room.summary().participants, 1);
    await stage.registry.delete('events');
  });

  it('refuses an identity past its sessions per room (5 by default) with too_many_sessions', async () => {
    const room = await stage.registry.create('sessions');
    const transports = ['signaling', 'whip', 'whep', 'signaling', 'whip'] as const;
    const held = transports.map((transport) => room.join({ identity: 'ann', role: 'presenter', transport }));
    assert.throws(() => room.join({ identity: 'ann', role: 'presenter', transport: 'whep' }), code('too_many_sessions'));
    // Counting connections not joined yet (signaling sockets before `join`).
    await room.leave(held[0]!.id, 'client_request');
    assert.throws(() => room.assertSessionAvailable('ann', 1), code('too_many_sessions'));
    room.assertSessionAvailable('ann');
    room.join({ identity: 'ann', role: 'presenter', transport: 'signaling' });
    // Other identities have their own count.
    room.join({ identity: 'bob', role: 'presenter', transport: 'whip' });
    await stage.registry.delete('sessions');
  });

  it('forbids viewers to publish or use WHEP, before the engine sees the offer', async () => {
    const room = await stage.registry.create('perms');
    const viewer = room.join({ identity: 'v', role: 'viewer', transport: 'signaling' });
    await assert.rejects(room.publish(viewer.id, 'v=0\r\n'), code('forbidden'));
    await assert.rejects(room.subscribeWithOffer(viewer.id, 'v=0\r\n'), code('forbidden'));
    const moderator = room.join({ identity: 'm', role: 'moderator', transport: 'signaling' });
    // Allowed to try: the engine then judges the SDP.
    await assert.rejects(room.publish(moderator.id, 'hello'), code('invalid_sdp'));
    await assert.rejects(room.publish('nobody', 'v=0'), code('not_found'));
    await stage.registry.delete('perms');
  });

  it('close() is idempotent, tells every participant why, and refuses new work', async () => {
    const room = await stage.registry.create('closing');
    const reasons: CloseReason[] = [];
    const a = room.join({ identity: 'a', role: 'presenter', transport: 'signaling' });
    const b = room.join({ identity: 'b', role: 'viewer', transport: 'whep' });
    a.on('close', (r) => reasons.push(r));
    b.on('close', (r) => reasons.push(r));
    let roomClosed = 0;
    room.on('close', () => roomClosed++);
    await Promise.all([stage.registry.delete('closing', 'room_closed'), room.close('kicked')]);
    await room.close('room_closed');
    assert.deepEqual(reasons, ['room_closed', 'room_closed']);
    assert.equal(roomClosed, 1);
    assert.ok(room.closed && a.closed && b.closed);
    assert.throws(() => room.join({ identity: 'c', role: 'presenter', transport: 'signaling' }), code('invalid_state'));
    // The engine room is gone too.
    await assert.rejects(stage.engine.listTracks('closing'), code('not_found'));
  });
});

describe('stage: engine death', () => {
  it('closes every room with engine_died and refuses new rooms', async () => {
    const stage = createStage();
    const { engine, registry } = stage;
    try {
      const room = await registry.create('doomed');
      const p = room.join({ identity: 'a', role: 'presenter', transport: 'signaling' });
      const closed = new Promise<CloseReason>((resolve) => p.on('close', resolve));
      // The engine's own event, as its worker host emits it when the thread crashes.
      engine.safeEmit('died', 'worker exited with code 1');
      assert.equal(await closed, 'engine_died');
      assert.equal(registry.engineDiedWith, 'worker exited with code 1');
      await assert.rejects(registry.create('after'), code('engine_error'));
    } finally {
      await closeStage(stage);
    }
  });
});
