import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CloseReason } from '../../services/stage/StageTypes.ts';
import type { Room } from '../../services/stage/Room.ts';
import { RoomRegistry } from '../../services/stage/RoomRegistry.ts';
import { errorCode as code, useStage } from '../support/stageFixture.ts';
import { sleep, waitFor } from '../support/wait.ts';

/** A short grace, for the tests of promotions that lapse. */
const GRACE_MS = 400;

/** Each `grantchanged` as `identity:held|lapsing|none`. */
function grantLog(room: Room): string[] {
  const heard: string[] = [];
  room.observer.on('grantchanged', (identity, grant) => heard.push(`${identity}:${grant ? (grant.lapsesAt ? 'lapsing' : 'held') : 'none'}`));
  return heard;
}

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

  it('announces each change of a promotion (grantchanged): given, lapsing, held again, gone on demote, block and lapse', async () => {
    const registry = new RoomRegistry(stage.engine, { roleGraceMs: GRACE_MS });
    try {
      const room = await registry.create('grants');
      const heard = grantLog(room);
      const mod = room.join({ identity: 'm', role: 'moderator', transport: 'signaling' });
      const vic = room.join({ identity: 'vic', role: 'viewer', transport: 'signaling' });
      room.promote(vic.id, mod.id);
      await room.leave(vic.id, 'signaling_closed');
      const back = room.join({ identity: 'vic', role: 'viewer', transport: 'signaling' });
      assert.equal(back.role, 'guest', 'back within the grace: still a guest');
      await room.demote(back.id, mod.id);
      room.promote(back.id, mod.id);
      await room.block('vic', mod.id);
      const gone = room.join({ identity: 'gone', role: 'viewer', transport: 'signaling' });
      room.promote(gone.id, undefined);
      await room.leave(gone.id, 'signaling_closed');
      await waitFor('the grant to lapse', 5000, () => heard.at(-1) === 'gone:none');
      assert.deepEqual(heard, ['vic:held', 'vic:lapsing', 'vic:held', 'vic:none', 'vic:held', 'vic:none', 'gone:held', 'gone:lapsing', 'gone:none']);
      assert.deepEqual(room.roleGrants(), []);
      assert.equal(room.join({ identity: 'gone', role: 'viewer', transport: 'signaling' }).role, 'viewer', 'back after the grace: a viewer');
    } finally {
      await registry.close();
    }
  });

  it('takes over the promotions a room had on another node: a guest that comes back within the grace is a guest, the rest lapse', async () => {
    const registry = new RoomRegistry(stage.engine, { roleGraceMs: GRACE_MS });
    try {
      const room = await registry.create('moved-grants');
      const heard = grantLog(room);
      const now = Date.now();
      const soon = new Date(now + GRACE_MS / 2).toISOString();
      room.restoreGrants([
        // Connected when its node went: its grace starts now, and that deadline is announced.
        { identity: 'vic', role: 'guest' },
        { identity: 'ann', role: 'guest' },
        // Left before its node went: lapses when it was due to.
        { identity: 'leaving', role: 'guest', lapsesAt: soon },
        { identity: 'lapsed', role: 'guest', lapsesAt: new Date(now - 1).toISOString() },
        // A deadline past one grace from now is cut to it.
        { identity: 'far', role: 'guest', lapsesAt: '2099-01-01T00:00:00.000Z' },
      ]);
      assert.deepEqual(heard, ['vic:lapsing', 'ann:lapsing', 'far:lapsing'], 'new deadlines only');
      const grants = new Map(room.roleGrants().map((g) => [g.identity, Date.parse(g.lapsesAt!)]));
      assert.deepEqual([...grants.keys()].sort(), ['ann', 'far', 'leaving', 'vic']);
      assert.equal(grants.get('leaving'), Date.parse(soon));
      for (const identity of ['vic', 'far']) assert.ok(grants.get(identity)! > now && grants.get(identity)! <= Date.now() + GRACE_MS, `${identity} lapses within one grace`);
      const vic = room.join({ identity: 'vic', role: 'viewer', transport: 'signaling' });
      const ann = room.join({ identity: 'ann', role: 'viewer', transport: 'signaling' });
      assert.equal(vic.role, 'guest', 'a carried promotion');
      await assert.rejects(room.publish(vic.id, 'hello'), code('invalid_sdp'), 'it may publish: the engine judges the SDP');
      assert.equal(room.join({ identity: 'lapsed', role: 'viewer', transport: 'signaling' }).role, 'viewer');
      assert.equal(room.join({ identity: 'presenter', role: 'presenter', transport: 'signaling' }).role, 'presenter');
      await room.leaveStage(ann.id);
      assert.equal(ann.role, 'viewer', 'leaving the stage ends a carried promotion too');
      await sleep(GRACE_MS + 100);
      assert.equal(vic.role, 'guest', 'held while its identity is here');
      assert.equal(room.join({ identity: 'leaving', role: 'viewer', transport: 'signaling' }).role, 'viewer', 'lapsed at its recorded time');
      assert.equal(room.join({ identity: 'far', role: 'viewer', transport: 'signaling' }).role, 'viewer');
      assert.deepEqual(room.roleGrants(), [{ identity: 'vic', role: 'guest' }]);
      assert.deepEqual(heard.slice(3), ['vic:held', 'ann:held', 'ann:none', 'leaving:none', 'far:none']);
    } finally {
      await registry.close();
    }
  });
});
