import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { createCluster, type Cluster } from '../../services/cluster/index.ts';
import { loadConfig } from '../../services/core/config.ts';
import { EmbeddedEngine } from '../../services/engine/embedded/EmbeddedEngine.ts';
import { PrivateBroadcasts } from '../../services/stage/PrivateBroadcasts.ts';
import type { Room } from '../../services/stage/Room.ts';
import { RoomRegistry } from '../../services/stage/RoomRegistry.ts';
import { redisUnavailable, startRedis, type RunningRedis } from '../support/redis.ts';
import { errorCode as code } from '../support/stageFixture.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The cluster as the server wires it (services/cluster/index.ts), two nodes in this process
 * over a real redis-server and the embedded engine (no media): what a room's owner does is
 * written as it happens, the node that takes the room over after its owner went restores it
 * before anyone joins, and deleting the room forgets it.
 */

const ROOM = 'carried';
const HISTORY = 3;

interface TestNode {
  engine: EmbeddedEngine;
  registry: RoomRegistry;
  cluster: Cluster;
}

describe('cluster: what a room carries to its next node, wired as the server does', { skip: redisUnavailable() }, () => {
  let redis: RunningRedis;
  const nodes: TestNode[] = [];

  const startNode = async (id: string, ports: [number, number], env: Record<string, string> = { REDIS_URL: redis.url }): Promise<TestNode> => {
    const cfg = loadConfig({
      API_KEY: 'k'.repeat(20),
      JWT_SECRET: 's'.repeat(40),
      CLUSTER_SECRET: 'c'.repeat(16),
      NODE_ID: id,
      CLUSTER_HEARTBEAT_MS: '100',
      CLUSTER_NODE_TTL_MS: '1000',
      CHAT_HISTORY: String(HISTORY),
      ...env,
    });
    const engine = new EmbeddedEngine({ listenIp: '127.0.0.1', portRange: ports, iceServers: [] });
    const registry = new RoomRegistry(engine, { roleGraceMs: cfg.STAGE_ROLE_GRACE_MS, chat: { historySize: cfg.CHAT_HISTORY } });
    const cluster = createCluster(cfg, { registry, privacy: new PrivateBroadcasts(), liveBroadcasts: () => 0 });
    const node = { engine, registry, cluster };
    nodes.push(node);
    await cluster.start(`http://127.0.0.1:${9000 + nodes.length}`);
    return node;
  };
  /** The room, created on `node` (placed there, or taken over by it) the way a request for it does. */
  const roomOn = async (node: TestNode): Promise<Room> => {
    assert.equal(await node.cluster.elsewhere!(ROOM), undefined, 'placed on this node');
    return node.registry.require(ROOM);
  };
  const stop = async (node: TestNode) => {
    await node.cluster.close();
    await node.registry.close('engine_closed');
    await node.engine.close();
  };

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const node of nodes) await stop(node);
    await redis?.close();
  });

  it('a late joiner on the next node gets the same chat history; a muted identity stays muted; a guest that comes back is a guest; deleting the room forgets it all', async () => {
    const first = await startNode('node-a', [47000, 47499]);
    assert.equal((await first.cluster.placement.place(ROOM)).id, 'node-a');
    const room = await roomOn(first);
    const mod = room.join({ identity: 'mod', role: 'moderator', transport: 'signaling' });
    const vic = room.join({ identity: 'vic', role: 'viewer', transport: 'signaling' });
    const ann = room.join({ identity: 'ann', role: 'viewer', transport: 'signaling' });
    const loud = room.join({ identity: 'loud', role: 'viewer', transport: 'signaling' });
    room.promote(vic.id, mod.id);
    room.promote(ann.id, mod.id);
    await room.demote(ann.id, mod.id);
    room.chat.setMuted('loud', true, mod.id);
    assert.throws(() => room.chat.send(loud.id, 'hello?', 1), code('chat_muted'));
    const sent = ['one', 'two', 'three', 'four'].map((text, i) => room.chat.send([mod, vic, mod, vic][i]!.id, text, 1000 * i));
    room.chat.delete(sent[2]!.id, mod.id);
    const last = room.chat.sendAsSystem('five');
    const history = room.chat.history();
    assert.deepEqual(history.map((m) => m.text), ['two', 'four', 'five']);

    // Its owner's writes are in (one connection, in order: the last one means all).
    const raw = createClient({ url: redis.url });
    await raw.connect();
    try {
      await waitFor('the last chat message in Redis', 5000, async () => (await raw.lRange(`stagecast:chat:${ROOM}`, -1, -1))[0]?.includes(last.id));
      // The owner goes: no more heartbeat, its room's state stays in Redis.
      await stop(first);
      const next = await startNode('node-b', [47500, 47999]);
      const moved = await roomOn(next);
      assert.notEqual(moved, room);
      // What a late joiner's `joined.chat.messages` is made of.
      assert.deepEqual(moved.chat.history(), history, 'the same history, the deleted message left out');
      const loudAgain = moved.join({ identity: 'loud', role: 'viewer', transport: 'signaling' });
      assert.throws(() => moved.chat.send(loudAgain.id, 'hello?', 1), code('chat_muted'), 'still muted');
      assert.equal(moved.join({ identity: 'vic', role: 'viewer', transport: 'signaling' }).role, 'guest', 'the promotion came along');
      assert.equal(moved.join({ identity: 'ann', role: 'viewer', transport: 'signaling' }).role, 'viewer', 'the demote came along too');
      // Changes on the new owner are carried as well, and deleting the room forgets all of it.
      moved.chat.setMuted('loud', false, undefined);
      await waitFor('the unmute in Redis', 5000, async () => (await raw.sMembers(`stagecast:chatmutes:${ROOM}`)).length === 0);
      await next.registry.delete(ROOM);
      const keys = ['grants', 'chat', 'chatmutes'].map((kind) => `stagecast:${kind}:${ROOM}`);
      await waitFor('the room state forgotten', 5000, async () => (await raw.exists(keys)) === 0);
    } finally {
      await raw.close();
    }
  });

  it('a node alone (no REDIS_URL) keeps nothing outside its memory', async () => {
    const alone = await startNode('alone', [46500, 46999], {});
    assert.equal(alone.cluster.roomState, undefined);
    assert.equal(alone.cluster.middleware, undefined);
  });
});
