import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CloseReason } from '../../services/stage/StageTypes.ts';
import { errorCode as code, useStage } from '../support/stageFixture.ts';

/** Roles and moderation in the stage layer, against the real embedded engine (no media). */
describe('stage: roles and moderation', () => {
  const stage = useStage();

  it('keeps raised hands in order; raising again keeps the place; leaving lowers', async () => {
    const room = await stage.registry.create('hands');
    const lowered: [string, string][] = [];
    room.on('handlowered', (pid, reason) => lowered.push([pid, reason]));
    const [a, b, c] = ['a', 'b', 'c'].map((identity) => room.join({ identity, role: 'viewer', transport: 'signaling' }));
    const mod = room.join({ identity: 'm', role: 'moderator', transport: 'signaling' });
    room.raiseHand(b!.id);
    room.raiseHand(a!.id);
    room.raiseHand(c!.id);
    room.raiseHand(b!.id);
    assert.deepEqual(room.handQueue().map((h) => h.identity), ['b', 'a', 'c']);
    assert.equal(b!.summary().handRaised, true);
    // Only viewers raise hands; only the owner or a moderator lowers one.
    assert.throws(() => room.raiseHand(mod.id), code('forbidden'));
    assert.throws(() => room.lowerHand(b!.id, a!.id), code('forbidden'));
    room.lowerHand(a!.id, a!.id);
    room.lowerHand(c!.id, mod.id);
    await room.leave(b!.id, 'signaling_closed');
    assert.deepEqual(room.handQueue(), []);
    assert.deepEqual(lowered, [[a!.id, 'self'], [c!.id, 'moderator'], [b!.id, 'left']]);
    await stage.registry.delete('hands');
  });

  it('promote and demote change the current role live; only moderators may', async () => {
    const room = await stage.registry.create('roles');
    const viewer = room.join({ identity: 'v', role: 'viewer', transport: 'signaling' });
    const presenter = room.join({ identity: 'p', role: 'presenter', transport: 'signaling' });
    const mod = room.join({ identity: 'm', role: 'moderator', transport: 'signaling' });
    const changes: string[] = [];
    room.on('rolechanged', (p, previous, by) => changes.push(`${p.identity}:${previous}->${p.role}:${by ?? 'api'}`));
    room.raiseHand(viewer.id);
    // Not a moderator: refused, whatever the target (also itself).
    assert.throws(() => room.promote(viewer.id, viewer.id), code('forbidden'));
    assert.throws(() => room.promote(viewer.id, presenter.id), code('forbidden'));
    await assert.rejects(room.publish(viewer.id, 'v=0\r\n'), code('forbidden'));
    room.promote(viewer.id, mod.id);
    assert.equal(viewer.role, 'guest');
    assert.equal(viewer.tokenRole, 'viewer');
    assert.deepEqual(room.handQueue(), [], 'promotion lowers the hand');
    // Allowed now: the engine judges the SDP.
    await assert.rejects(room.publish(viewer.id, 'hello'), code('invalid_sdp'));
    assert.throws(() => room.promote(viewer.id, mod.id), code('invalid_state'));
    assert.throws(() => room.promote(presenter.id, undefined), code('invalid_state'));
    await assert.rejects(room.demote(presenter.id, mod.id), code('invalid_state'));
    await room.demote(viewer.id, undefined);
    assert.equal(viewer.role, 'viewer');
    await assert.rejects(room.publish(viewer.id, 'v=0\r\n'), code('forbidden'));
    assert.deepEqual(changes, ['v:viewer->guest:' + mod.id, 'v:guest->viewer:api']);
    await stage.registry.delete('roles');
  });

  it('mute is remembered per kind; kick blocks the identity (all its connections) until unblocked', async () => {
    const room = await stage.registry.create('kick');
    const mod = room.join({ identity: 'm', role: 'moderator', transport: 'signaling' });
    const target = room.join({ identity: 't', role: 'presenter', transport: 'signaling' });
    const targetWhip = room.join({ identity: 't', role: 'presenter', transport: 'whip' });
    await assert.rejects(room.setMuted(mod.id, ['audio'], true, target.id), code('forbidden'));
    await room.setMuted(target.id, ['audio'], true, mod.id);
    assert.deepEqual(target.summary().muted, ['audio']);
    await room.setMuted(target.id, ['audio', 'video'], false, mod.id);
    assert.deepEqual(target.summary().muted, []);

    const reasons: CloseReason[] = [];
    target.on('close', (r) => reasons.push(r));
    targetWhip.on('close', (r) => reasons.push(r));
    await assert.rejects(room.kick(mod.id, mod.id), code('bad_request'));
    await assert.rejects(room.kick(mod.id, target.id), code('forbidden'));
    await room.kick(target.id, mod.id, 'spam');
    assert.deepEqual(reasons, ['kicked', 'kicked']);
    assert.equal(room.isBlocked('t'), true);
    assert.deepEqual(room.blocks().map((b) => [b.identity, b.by, b.reason]), [['t', mod.id, 'spam']]);
    assert.throws(() => room.join({ identity: 't', role: 'presenter', transport: 'signaling' }), code('forbidden'));
    assert.throws(() => room.unblock('nobody', undefined), code('not_found'));
    room.unblock('t', mod.id);
    room.join({ identity: 't', role: 'presenter', transport: 'signaling' });
    await stage.registry.delete('kick');
  });

  it('takes over the blocks a room had on another node: they refuse joins at once, announce nothing, and can be lifted', async () => {
    const room = await stage.registry.create('moved');
    const events: string[] = [];
    room.observer.on('identityblocked', (entry) => events.push(`blocked:${entry.identity}`));
    const entry = { identity: 'mallory', blockedAt: '2026-12-04T10:00:00.000Z', reason: 'spam' };
    room.restoreBlocks([entry, { ...entry, reason: 'a second record of the same identity is ignored' }]);
    assert.deepEqual(room.blocks(), [entry]);
    assert.throws(() => room.join({ identity: 'mallory', role: 'viewer', transport: 'signaling' }), code('forbidden'));
    assert.deepEqual(events, [], 'a block carried over is not news');
    room.unblock('mallory', undefined);
    assert.equal(room.join({ identity: 'mallory', role: 'viewer', transport: 'signaling' }).identity, 'mallory');
    await stage.registry.delete('moved');
  });
});
