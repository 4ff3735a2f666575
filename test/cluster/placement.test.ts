import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { LocalPlacement } from '../../services/cluster/LocalPlacement.ts';
import type { NodeLoad, RoomPlacement } from '../../services/cluster/PlacementTypes.ts';
import { RedisPlacement } from '../../services/cluster/RedisPlacement.ts';
import type { CarriedRoomState } from '../../services/cluster/RoomState.ts';
import type { ChatMessage } from '../../services/stage/StageTypes.ts';
import { redisUnavailable, startRedis, type RunningRedis } from '../support/redis.ts';
import { sleep, waitFor } from '../support/wait.ts';

const idle = (): NodeLoad => ({ rooms: 0, publishers: 0, subscribers: 0, broadcasts: 0 });
/** What a room with nothing carried loads. */
const NOTHING: CarriedRoomState = Object.freeze({ blocks: [], grants: [], chat: [], chatMuted: [] });
let prefixes = 0;

/** What every placement promises, whatever keeps it. */
function placementContract(name: string, make: () => Promise<{ placement: RoomPlacement; created(id: string): void; close(): Promise<void> }>) {
  describe(`placement contract: ${name}`, () => {
    it('places a new room on a live node, finds it there, and forgets it once released', async () => {
      const { placement, created, close } = await make();
      try {
        assert.equal(await placement.locate('nowhere'), undefined, 'a room never created is unknown');
        const node = await placement.place('r1');
        assert.equal(node.id, placement.self.id, 'alone, the room is placed here');
        created('r1');
        await placement.claim('r1');
        assert.equal((await placement.locate('r1'))?.id, placement.self.id);
        assert.deepEqual((await placement.nodes()).map((n) => n.id), [placement.self.id]);
      } finally {
        await close();
      }
    });
  });
}

placementContract('local', async () => {
  const rooms = new Set<string>();
  const placement = new LocalPlacement({ id: 'local', url: 'http://127.0.0.1:1', mediaIp: '127.0.0.1' }, (id) => rooms.has(id));
  await placement.start('http://127.0.0.1:1');
  return { placement, created: (id) => rooms.add(id), close: () => placement.close() };
});

const skip = redisUnavailable();

describe('RedisPlacement, with a real redis-server', { skip }, () => {
  let redis: RunningRedis;
  const open: RedisPlacement[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const p of open) await p.close();
    await redis?.close();
  });

  const node = async (id: string, prefix: string, load: () => NodeLoad = idle, ttlMs = 3000) => {
    const p = new RedisPlacement({ redisUrl: redis.url, nodeId: id, mediaIp: '127.0.0.1', load, heartbeatMs: 100, nodeTtlMs: ttlMs, prefix });
    open.push(p);
    await p.start(`http://127.0.0.1:${1000 + open.length}`);
    return p;
  };

  placementContract('redis', async () => {
    const p = await node('solo', `c${prefixes++}:`);
    return { placement: p, created: () => {}, close: () => p.close() };
  });

  it('puts a new room on the least loaded live node, and every node agrees on it', async () => {
    const prefix = `t${prefixes++}:`;
    const a = await node('a', prefix, () => ({ rooms: 3, publishers: 2, subscribers: 10, broadcasts: 1 }));
    const b = await node('b', prefix, idle);
    const c = await node('c', prefix, () => ({ rooms: 1, publishers: 0, subscribers: 0, broadcasts: 0 }));
    assert.deepEqual((await a.nodes()).map((n) => n.id), ['b', 'c', 'a'], 'least loaded first');
    // Three nodes place the same new room at once: one placement wins, all see it.
    const placed = await Promise.all([a.place('shared'), b.place('shared'), c.place('shared')]);
    assert.deepEqual(placed.map((n) => n.id), ['b', 'b', 'b']);
    assert.equal((await c.locate('shared'))?.url, b.self.url, 'the owner comes with its URL');
    assert.equal(await a.locate('unknown-room'), undefined, 'locate never creates a room');
  });

  it('places a room again once its node stops renewing its heartbeat, and only then', async () => {
    const prefix = `k${prefixes++}:`;
    const raw = createClient({ url: redis.url });
    await raw.connect();
    try {
      const survivor = await node('survivor', prefix);
      // What a SIGKILLed node leaves behind: its record, which nothing renews, and its rooms.
      await raw.set(`${prefix}node:dead`, JSON.stringify({ id: 'dead', url: 'http://127.0.0.1:9', mediaIp: '127.0.0.1', load: idle(), draining: false, seenAt: Date.now() }), { PX: 600 });
      await raw.sAdd(`${prefix}nodes`, 'dead');
      await raw.set(`${prefix}room:orphan`, 'dead');
      assert.equal((await survivor.locate('orphan'))?.id, 'dead', 'while its heartbeat lasts, the room stays where it is');
      await sleep(1200); // past the record's TTL and the located owner's cache
      assert.equal((await survivor.locate('orphan'))?.id, 'survivor', 'placed again on the live node');
      assert.equal(await raw.get(`${prefix}room:orphan`), 'survivor');
      assert.ok(!(await survivor.nodes()).some((n) => n.id === 'dead'), 'the dead node is no longer listed');
    } finally {
      await raw.close();
    }
  });

  it('release deletes only the owner\'s placement; claim never takes a live node\'s room; a draining node takes no new rooms', async () => {
    const prefix = `r${prefixes++}:`;
    const a = await node('a', prefix);
    const b = await node('b', prefix, () => ({ rooms: 5, publishers: 0, subscribers: 0, broadcasts: 0 }));
    assert.equal((await a.place('x')).id, 'a');
    await b.claim('x');
    assert.equal((await b.locate('x'))?.id, 'a', 'a live owner keeps its room');
    await b.release('x');
    assert.equal((await b.locate('x'))?.id, 'a', 'a non-owner cannot release it');
    await a.release('x');
    assert.equal(await a.locate('x'), undefined, 'released by its owner: gone');
    await a.drain();
    await waitFor('a listed as draining', 3000, async () => (await b.nodes()).find((n) => n.id === 'a')?.draining);
    assert.equal((await b.place('y')).id, 'b', 'the busier node gets it: the idle one is draining');
  });

  it('a draining node hands its rooms over: the next request places them on a live node; with nowhere to go they stay', async () => {
    const prefix = `d${prefixes++}:`;
    const a = await node('a', prefix);
    const b = await node('b', prefix, () => ({ rooms: 4, publishers: 0, subscribers: 0, broadcasts: 0 }));
    assert.equal((await b.place('handed')).id, 'a');
    assert.equal((await b.place('kept')).id, 'a');
    await b.drain();
    await a.drain();
    await sleep(1100); // b's cached owner expires
    assert.equal((await b.locate('kept'))?.id, 'a', 'every node drains: the live owner keeps its room');
    const c = await node('c', prefix, () => ({ rooms: 9, publishers: 0, subscribers: 0, broadcasts: 0 }));
    assert.equal((await a.locate('handed'))?.id, 'c', 'placed again on the one live node that does not drain, by the draining owner too');
    assert.equal((await b.locate('handed'))?.id, 'c', 'every node agrees');
    assert.equal((await c.place('fresh')).id, 'c', 'a new room never lands on a draining node, however idle');
    assert.ok((await c.nodes()).some((n) => n.id === 'a' && n.draining), 'the draining node is still listed, as draining');
  });

  it('a closed node leaves at once: its rooms are placed again on the next request', async () => {
    const prefix = `q${prefixes++}:`;
    const a = await node('a', prefix);
    const b = await node('b', prefix, () => ({ rooms: 2, publishers: 0, subscribers: 0, broadcasts: 0 }));
    assert.equal((await b.place('moving')).id, 'a');
    await a.close();
    await sleep(1100); // b's cached owner expires
    assert.equal((await b.locate('moving'))?.id, 'b');
  });

  it('keeps what each room carries to its next node: HLS numbering, private setting, blocks; forgets it with the room; ignores damaged records', async () => {
    const prefix = `h${prefixes++}:`;
    const owner = (await node('owner', prefix)).roomState();
    const next = (await node('next', prefix)).roomState();
    assert.equal(await next.loadNumbering('fresh'), undefined, 'a room never broadcast has no numbering');
    assert.deepEqual(await next.load('fresh'), NOTHING, 'nor any state');
    owner.saveNumbering('moving', { nextMsn: 41, discontinuitySequence: 2 });
    owner.saveNumbering('moving', { nextMsn: 42, discontinuitySequence: 2 });
    owner.savePrivate('moving', true);
    owner.saveBlock('moving', { identity: 'mallory', blockedAt: '2026-12-04T10:00:00.000Z', reason: 'spam' });
    owner.saveBlock('moving', { identity: 'eve', blockedAt: '2026-12-04T10:01:00.000Z', by: 'p_mod' });
    owner.removeBlock('moving', 'eve');
    await waitFor('the newest numbering in Redis', 3000, async () => (await next.loadNumbering('moving'))?.nextMsn === 42);
    assert.deepEqual(await next.loadNumbering('moving'), { nextMsn: 42, discontinuitySequence: 2 });
    assert.deepEqual(await next.load('moving'), { ...NOTHING, private: true, blocks: [{ identity: 'mallory', blockedAt: '2026-12-04T10:00:00.000Z', reason: 'spam' }] });
    const raw = createClient({ url: redis.url });
    await raw.connect();
    try {
      const ttl = await raw.pTTL(`${prefix}hls:moving`);
      assert.ok(ttl > 0 && ttl <= 3600_000, `the numbering expires (${ttl} ms)`);
      for (const bad of ['not json', '{"nextMsn":-1,"discontinuitySequence":0}', '{"nextMsn":"5","discontinuitySequence":0}', '[]']) {
        await raw.set(`${prefix}hls:damaged`, bad);
        assert.equal(await next.loadNumbering('damaged'), undefined, bad);
      }
      await raw.set(`${prefix}private:damaged`, 'maybe');
      await raw.hSet(`${prefix}blocks:damaged`, { a: 'not json', b: '{"identity":5}', c: JSON.stringify({ identity: 'ok', blockedAt: 'x' }) });
      assert.deepEqual(await next.load('damaged'), { ...NOTHING, blocks: [{ identity: 'ok', blockedAt: 'x' }] });
      owner.forget('moving');
      await waitFor('the room state forgotten', 3000, async () => (await next.load('moving')).private === undefined);
      assert.deepEqual(await next.load('moving'), NOTHING);
      assert.equal(await next.loadNumbering('moving'), undefined);
    } finally {
      await raw.close();
    }
  });

  it('carries promotions, the chat history (deletions applied, capped) and chat mutes; forgets them with the room; ignores damaged records', async () => {
    const prefix = `g${prefixes++}:`;
    const owner = (await node('owner', prefix)).roomState();
    const next = (await node('next', prefix)).roomState();
    const message = (id: string, text: string, identity = 'vic'): ChatMessage => ({ id, from: { participantId: `p_${identity}`, identity, role: 'viewer' }, text, at: '2026-12-04T10:00:00.000Z' });
    // Promotions: given, lapsing once the identity's last connection left, gone on demote.
    owner.saveGrant('moving', { identity: 'vic', role: 'guest' });
    owner.saveGrant('moving', { identity: 'gone-soon', role: 'guest' });
    owner.saveGrant('moving', { identity: 'gone-soon', role: 'guest', lapsesAt: '2026-12-04T10:01:00.000Z' });
    owner.saveGrant('moving', { identity: 'demoted', role: 'guest' });
    owner.removeGrant('moving', 'demoted');
    // Mutes: per identity, lifted by an unmute.
    owner.saveChatMute('moving', 'loud', true);
    owner.saveChatMute('moving', 'forgiven', true);
    owner.saveChatMute('moving', 'forgiven', false);
    // A history of three: five sent (the first two trimmed away), then m_4 deleted (m_1's
    // deletion finds nothing), then one more. Every text names m_4 as its entry would begin.
    const keep = 3;
    owner.saveChatMessage('unkept', message('m_1', 'a room with CHAT_HISTORY=0 keeps nothing'), 0);
    for (let i = 1; i <= 5; i++) owner.saveChatMessage('moving', message(`m_${i}`, `{"id":"m_4", ${i}`), keep);
    owner.removeChatMessage('moving', 'm_1');
    owner.removeChatMessage('moving', 'm_4');
    owner.saveChatMessage('moving', message('m_6', 'six', 'sys'), keep);
    // One connection writes them in order: once the last is in, all are.
    await waitFor('the last write in Redis', 3000, async () => (await next.load('moving')).chat.at(-1)?.id === 'm_6');
    const carried = await next.load('moving');
    assert.deepEqual(
      carried.grants.sort((a, b) => a.identity.localeCompare(b.identity)),
      [{ identity: 'gone-soon', role: 'guest', lapsesAt: '2026-12-04T10:01:00.000Z' }, { identity: 'vic', role: 'guest' }],
    );
    assert.deepEqual(carried.chat.map((m) => m.id), ['m_3', 'm_5', 'm_6'], 'the newest three, the deleted one left out');
    assert.deepEqual(carried.chat[0], message('m_3', '{"id":"m_4", 3'), 'each message as it was sent');
    assert.deepEqual(carried.chatMuted, ['loud']);
    assert.deepEqual(await next.load('unkept'), NOTHING);
    const raw = createClient({ url: redis.url });
    await raw.connect();
    try {
      assert.equal(await raw.lLen(`${prefix}chat:moving`), 3, 'the list itself is capped');
      assert.equal(await raw.exists([`${prefix}grants:moving`, `${prefix}chat:moving`, `${prefix}chatmutes:moving`]), 3);
      await raw.hSet(`${prefix}grants:damaged`, {
        a: 'not json',
        b: JSON.stringify({ identity: 'b', role: 'moderator' }),
        c: JSON.stringify({ identity: 'c', role: 'guest', lapsesAt: 'soon' }),
        d: JSON.stringify({ identity: '', role: 'guest' }),
        e: 'null',
        ok: JSON.stringify({ identity: 'ok', role: 'guest', lapsesAt: '2026-12-04T10:02:00.000Z' }),
      });
      await raw.rPush(`${prefix}chat:damaged`, [
        'not json',
        'null',
        JSON.stringify({ ...message('m_a', 'no author role'), from: { participantId: 'p', identity: 'x' } }),
        JSON.stringify({ ...message('m_b', 'b'), text: 7 }),
        JSON.stringify(message('m_ok', 'kept')),
      ]);
      await raw.sAdd(`${prefix}chatmutes:damaged`, ['', 'x'.repeat(129), 'muted']);
      assert.deepEqual(await next.load('damaged'), {
        ...NOTHING,
        grants: [{ identity: 'ok', role: 'guest', lapsesAt: '2026-12-04T10:02:00.000Z' }],
        chat: [message('m_ok', 'kept')],
        chatMuted: ['muted'],
      });
      owner.forget('moving');
      await waitFor('the room state forgotten', 3000, async () => (await raw.exists([`${prefix}grants:moving`, `${prefix}chat:moving`, `${prefix}chatmutes:moving`])) === 0);
      assert.deepEqual(await next.load('moving'), NOTHING);
    } finally {
      await raw.close();
    }
  });
});
