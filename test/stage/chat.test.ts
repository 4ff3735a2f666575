import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EmbeddedEngine } from '../../services/engine/embedded/EmbeddedEngine.ts';
import { AudienceTicker, countAudience } from '../../services/stage/Audience.ts';
import { SYSTEM_AUTHOR } from '../../services/stage/Chat.ts';
import { RoomRegistry } from '../../services/stage/RoomRegistry.ts';
import type { AudienceCounts, ChatMessage } from '../../services/stage/StageTypes.ts';
import { errorCode as code } from '../support/stageFixture.ts';
import { sleep, waitFor } from '../support/wait.ts';

/**
 * The chat model (services/stage/Chat.ts) and the audience count (Audience.ts), in real Rooms
 * over the embedded engine (no media): limits, rate, mutes per identity, history, deletion
 * rights, the events the room announces; and the audience coalescing.
 */
describe('stage: chat', () => {
  let engine: EmbeddedEngine;
  let registry: RoomRegistry;
  before(() => {
    engine = new EmbeddedEngine({ listenIp: '127.0.0.1', portRange: [47000, 47999], iceServers: [] });
    registry = new RoomRegistry(engine, { roleGraceMs: 60_000, chat: { maxLength: 20, historySize: 3, ratePerMinute: 60, burst: 2 }, audienceIntervalMs: 100 });
  });
  after(async () => {
    await registry.close();
    await engine.close();
  });

  it('delivers trimmed text with its author, keeps the newest messages, and refuses empty and over-long text', async () => {
    const room = await registry.create('chat-basic');
    const heard: ChatMessage[] = [];
    room.on('chatmessage', (m) => heard.push(m));
    const observed: string[] = [];
    room.observer.on('chatmessage', (m) => observed.push(m.id));
    const viewer = room.join({ identity: 'v', role: 'viewer', transport: 'signaling' });
    const presenter = room.join({ identity: 'p', role: 'presenter', transport: 'signaling' });
    const t0 = 1_000_000;
    const first = room.chat.send(viewer.id, '  hello  ', t0);
    assert.equal(first.text, 'hello');
    assert.deepEqual(first.from, { participantId: viewer.id, identity: 'v', role: 'viewer' });
    assert.match(first.id, /^m_[A-Za-z0-9_-]+$/);
    assert.equal(first.at, new Date(t0).toISOString());
    assert.throws(() => room.chat.send(viewer.id, ' \n\t ', t0), code('bad_request'));
    assert.throws(() => room.chat.send(presenter.id, 'x'.repeat(21), t0), code('chat_too_long'));
    // Characters, not UTF-16 units: 20 emoji fit in 20.
    room.chat.send(presenter.id, '😀'.repeat(20), t0);
    room.chat.send(presenter.id, 'three', t0);
    const system = room.chat.sendAsSystem('<b>from the API</b>', t0);
    assert.deepEqual(system.from, SYSTEM_AUTHOR);
    assert.deepEqual(heard.map((m) => m.text), ['hello', '😀'.repeat(20), 'three', '<b>from the API</b>']);
    assert.deepEqual(observed, heard.map((m) => m.id), 'the observer hears the same (webhooks)');
    assert.deepEqual(room.chat.history().map((m) => m.text), ['😀'.repeat(20), 'three', '<b>from the API</b>'], 'the newest 3');
    // A copy: changing it changes nothing.
    room.chat.history()[0]!.text = 'changed';
    assert.equal(room.chat.history()[0]!.text, '😀'.repeat(20));
    await registry.delete('chat-basic');
  });

  it('rate-limits per identity, across its connections, and refills', async () => {
    const room = await registry.create('chat-rate');
    const a1 = room.join({ identity: 'a', role: 'viewer', transport: 'signaling' });
    const a2 = room.join({ identity: 'a', role: 'viewer', transport: 'signaling' });
    const b = room.join({ identity: 'b', role: 'viewer', transport: 'signaling' });
    const t0 = 5_000_000;
    room.chat.send(a1.id, 'one', t0);
    room.chat.send(a2.id, 'two', t0);
    assert.throws(() => room.chat.send(a1.id, 'three', t0), code('rate_limited'), 'burst 2 for the identity, whichever connection');
    room.chat.send(b.id, 'other identity', t0);
    room.chat.sendAsSystem('the API has no limit', t0);
    room.chat.sendAsSystem('none at all', t0);
    room.chat.sendAsSystem('really', t0);
    room.chat.send(a1.id, 'a second later', t0 + 1000);
    await registry.delete('chat-rate');
  });

  it('moderators mute an identity (surviving a reconnect) and unmute it; others may not', async () => {
    const room = await registry.create('chat-mute');
    const changes: string[] = [];
    room.on('chatmutechanged', (identity, muted, by) => changes.push(`${identity}:${muted}:${by ?? 'api'}`));
    const mod = room.join({ identity: 'm', role: 'moderator', transport: 'signaling' });
    const viewer = room.join({ identity: 'v', role: 'viewer', transport: 'signaling' });
    const presenter = room.join({ identity: 'p', role: 'presenter', transport: 'signaling' });
    assert.throws(() => room.chat.setMuted('v', true, presenter.id), code('forbidden'));
    room.chat.setMuted('v', true, mod.id);
    room.chat.setMuted('v', true, mod.id);
    assert.throws(() => room.chat.send(viewer.id, 'hi', 1), code('chat_muted'));
    await room.leave(viewer.id, 'signaling_closed');
    const again = room.join({ identity: 'v', role: 'viewer', transport: 'signaling' });
    assert.throws(() => room.chat.send(again.id, 'hi', 2), code('chat_muted'), 'the mute is the identity’s');
    assert.deepEqual(room.chat.mutedIdentities(), ['v']);
    room.chat.setMuted('v', false, undefined);
    room.chat.send(again.id, 'back', 3);
    assert.deepEqual(changes, [`v:true:${mod.id}`, 'v:false:api'], 'announced once per change');
    await registry.delete('chat-mute');
  });

  it('an author deletes its own message, a moderator anyone’s; anyone else is forbidden; unknown ids are not_found', async () => {
    const room = await registry.create('chat-delete');
    const deleted: string[] = [];
    room.on('chatdeleted', (id, by) => deleted.push(`${id}:${by ?? 'api'}`));
    const mod = room.join({ identity: 'm', role: 'moderator', transport: 'signaling' });
    const v1 = room.join({ identity: 'v1', role: 'viewer', transport: 'signaling' });
    const v1b = room.join({ identity: 'v1', role: 'viewer', transport: 'signaling' });
    const v2 = room.join({ identity: 'v2', role: 'viewer', transport: 'signaling' });
    // Three: the history's size here.
    const a = room.chat.send(v1.id, 'a', 1);
    const c = room.chat.send(v2.id, 'c', 1);
    const sys = room.chat.sendAsSystem('s', 1);
    assert.throws(() => room.chat.delete(a.id, v2.id), code('forbidden'), "a viewer deleting someone else's");
    assert.throws(() => room.chat.delete(sys.id, v2.id), code('forbidden'), "nobody owns the system's messages");
    assert.throws(() => room.chat.delete('m_nope', v2.id), code('forbidden'), 'no rights, whatever the id');
    assert.throws(() => room.chat.delete('m_nope', mod.id), code('not_found'));
    room.chat.delete(a.id, v1b.id);
    room.chat.delete(c.id, mod.id);
    const b = room.chat.send(v1.id, 'b', 1);
    room.chat.delete(b.id, undefined);
    assert.throws(() => room.chat.delete(b.id, mod.id), code('not_found'), 'deleted once');
    assert.deepEqual(room.chat.history().map((m) => m.id), [sys.id]);
    assert.deepEqual(deleted, [`${a.id}:${v1b.id}`, `${c.id}:${mod.id}`, `${b.id}:api`]);
    await assert.rejects(async () => room.chat.send('p_gone', 'x', 1), code('not_found'), 'not in the room');
    await registry.delete('chat-delete');
    assert.throws(() => room.chat.send(v1.id, 'x', 1), code('invalid_state'), 'room closed');
  });

  it('takes over the history and mutes a room had on another node: the same history, the mute holds, nothing announced', async () => {
    const room = await registry.create('chat-moved');
    const heard: string[] = [];
    for (const event of ['chatmessage', 'chatdeleted', 'chatmutechanged'] as const) room.observer.on(event, () => heard.push(event));
    const carried = (id: string, text: string): ChatMessage => ({ id, from: { participantId: 'p_old', identity: 'v', role: 'viewer' }, text, at: '2026-12-04T10:00:00.000Z' });
    // Oldest first; one more than the history holds (3 here), one id twice.
    room.chat.restore([carried('m_1', 'one'), carried('m_2', 'two'), carried('m_3', 'three'), carried('m_3', 'again'), carried('m_4', 'four')], ['loud']);
    assert.deepEqual(heard, [], 'none of it is news');
    assert.deepEqual(room.chat.history(), [carried('m_2', 'two'), carried('m_3', 'three'), carried('m_4', 'four')], 'the newest three, as they were');
    assert.deepEqual(room.chat.mutedIdentities(), ['loud']);
    const mod = room.join({ identity: 'm', role: 'moderator', transport: 'signaling' });
    const loud = room.join({ identity: 'loud', role: 'viewer', transport: 'signaling' });
    const author = room.join({ identity: 'v', role: 'viewer', transport: 'signaling' });
    assert.throws(() => room.chat.send(loud.id, 'hi', 1), code('chat_muted'), 'muted on the old node, muted here');
    // What it carried is this room's history now: its author deletes one, a new message pushes the oldest out.
    room.chat.delete('m_3', author.id);
    room.chat.send(mod.id, 'new here', 1);
    room.chat.send(mod.id, 'and another', 1);
    assert.deepEqual(room.chat.history().map((m) => m.text), ['four', 'new here', 'and another']);
    room.chat.setMuted('loud', false, mod.id);
    room.chat.send(loud.id, 'heard at last', 2);
    assert.deepEqual(heard, ['chatdeleted', 'chatmessage', 'chatmessage', 'chatmutechanged', 'chatmessage']);
    await registry.delete('chat-moved');
  });
});

describe('stage: audience', () => {
  let engine: EmbeddedEngine;
  let registry: RoomRegistry;
  const INTERVAL_MS = 150;
  before(() => {
    engine = new EmbeddedEngine({ listenIp: '127.0.0.1', portRange: [47000, 47999], iceServers: [] });
    registry = new RoomRegistry(engine, { roleGraceMs: 60_000, audienceIntervalMs: INTERVAL_MS });
  });
  after(async () => {
    await registry.close();
    await engine.close();
  });

  it('counts by current role', () => {
    assert.deepEqual(countAudience(['viewer', 'viewer', 'guest', 'presenter', 'moderator']), { presenter: 1, guest: 1, moderator: 1, viewer: 2, total: 5 });
    assert.deepEqual(countAudience([]), { presenter: 0, guest: 0, moderator: 0, viewer: 0, total: 0 });
  });

  it('announces joins, leaves and role changes, coalesced, at most once per interval, only on a change', async () => {
    const room = await registry.create('audience');
    const heard: { at: number; counts: AudienceCounts }[] = [];
    room.on('audiencechanged', (counts) => heard.push({ at: Date.now(), counts }));
    const mod = room.join({ identity: 'm', role: 'moderator', transport: 'signaling' });
    const viewers = ['a', 'b', 'c'].map((identity) => room.join({ identity, role: 'viewer', transport: 'signaling' }));
    await waitFor('first count', 5000, () => heard.length >= 1);
    await sleep(3 * INTERVAL_MS);
    assert.equal(heard.length, 1, 'four joins at once: one announcement');
    assert.deepEqual(heard[0]!.counts, { presenter: 0, guest: 0, moderator: 1, viewer: 3, total: 4 });
    assert.deepEqual(room.audience(), heard[0]!.counts);

    room.promote(viewers[0]!.id, mod.id);
    await room.leave(viewers[1]!.id, 'signaling_closed');
    await waitFor('after promote and leave', 5000, () => heard.length >= 2);
    assert.deepEqual(heard[1]!.counts, { presenter: 0, guest: 1, moderator: 1, viewer: 1, total: 3 });

    // A join and its leave inside one interval: nothing changed, nothing said.
    const passer = room.join({ identity: 'x', role: 'presenter', transport: 'whep' });
    await room.leave(passer.id, 'client_request');
    await sleep(3 * INTERVAL_MS);
    assert.equal(heard.length, 2);
    for (let i = 1; i < heard.length; i++) assert.ok(heard[i]!.at - heard[i - 1]!.at >= INTERVAL_MS - 5, 'at most one per interval');
    await registry.delete('audience');
  });

  it('the ticker stops on close', async () => {
    let counts: AudienceCounts = countAudience([]);
    const said: AudienceCounts[] = [];
    const ticker = new AudienceTicker(() => counts, (c) => said.push(c), 20);
    counts = countAudience(['viewer']);
    ticker.poke();
    ticker.close();
    ticker.close();
    await sleep(100);
    assert.deepEqual(said, []);
  });
});
