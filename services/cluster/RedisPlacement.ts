import { randomBytes } from 'node:crypto';
import { createClient, type RedisClientType } from 'redis';
import { ServiceError } from '../core/errors.ts';
import { logger } from '../core/logger.ts';
import { RedisRoomState } from './RoomState.ts';
import { loadScore, type NodeInfo, type NodeLoad, type RoomPlacement } from './PlacementTypes.ts';

const log = logger.child({ mod: 'cluster' });

export interface RedisPlacementOptions {
  redisUrl: string;
  /** This node's id (NODE_ID). Default: a random one. */
  nodeId?: string;
  mediaIp: string;
  /** This node's load, read at each heartbeat. */
  load: () => NodeLoad;
  /** Heartbeat interval, ms (CLUSTER_HEARTBEAT_MS). */
  heartbeatMs: number;
  /** A node silent this long is gone, ms (CLUSTER_NODE_TTL_MS): the TTL of its key. */
  nodeTtlMs: number;
  /** Key prefix, so that several clusters (or tests) can share one Redis. Default `stagecast:`. */
  prefix?: string;
}

/**
 * Returns the room's owner when that node is alive and not draining; otherwise (no owner, its
 * node key has expired, or it is draining: SIGTERM) sets the candidate as owner and returns it,
 * all in one step so that two nodes placing the same room at once agree. With mode `existing`,
 * a room that has no owner at all stays unknown (nil): only creation makes a room exist. With
 * no candidate (ARGV[1] empty: every live node drains) a live owner keeps its room, draining or not.
 * KEYS[1] room key; ARGV[1] candidate node id, ARGV[2] node key prefix, ARGV[3] create|existing|claim
 * (`claim`: the candidate, this node, keeps a room whose owner is alive only if it is itself).
 */
const PLACE_SCRIPT = `
local owner = redis.call('GET', KEYS[1])
if owner then
  local info = redis.call('GET', ARGV[2] .. owner)
  if info and (ARGV[1] == '' or owner == ARGV[1] or not cjson.decode(info).draining) then return owner end
end
if ARGV[1] == '' or (ARGV[3] == 'existing' and not owner) then return false end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
`;

/** Deletes the room's placement only if this node owns it. KEYS[1] room key; ARGV[1] node id. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** How long a located owner is trusted without asking Redis again, ms. */
const OWNER_CACHE_MS = 1000;

/**
 * Membership and placement in Redis. Keys (under `prefix`):
 *   node:<id>   JSON NodeInfo, expiring after nodeTtlMs unless the heartbeat renews it
 *   nodes       set of node ids ever seen (the dead are pruned when listed)
 *   room:<id>   the owner node's id; no expiry: a room outlives its node and is placed again
 * and, through roomState(), what each room carries to its next node (RoomState.ts).
 */
export class RedisPlacement implements RoomPlacement {
  readonly clustered = true;
  readonly self: NodeInfo;
  private readonly opts: RedisPlacementOptions;
  private readonly prefix: string;
  private readonly client: RedisClientType;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private liveNodes: { at: number; nodes: NodeInfo[] } | undefined;
  private readonly owners = new Map<string, { node: NodeInfo; until: number }>();
  private closed = false;
  private state: RedisRoomState | undefined;

  constructor(opts: RedisPlacementOptions) {
    this.opts = opts;
    this.prefix = opts.prefix ?? 'stagecast:';
    this.self = {
      id: opts.nodeId ?? `node_${randomBytes(5).toString('hex')}`,
      url: '',
      mediaIp: opts.mediaIp,
      load: opts.load(),
      draining: false,
      seenAt: Date.now(),
    };
    this.client = createClient({
      url: opts.redisUrl,
      socket: { connectTimeout: 5000, reconnectStrategy: (retries: number) => Math.min(100 * (retries + 1), 2000) },
    }) as RedisClientType;
    this.client.on('error', (err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'redis error'));
  }

  /** Connects, registers this node under `url` and starts the heartbeat. */
  async start(url: string): Promise<void> {
    this.self.url = url.replace(/\/$/, '');
    await this.client.connect();
    await this.heartbeat();
    this.heartbeatTimer = setInterval(() => {
      this.heartbeat().catch((err: unknown) => log.warn({ err: String(err) }, 'heartbeat failed'));
    }, this.opts.heartbeatMs);
    this.heartbeatTimer.unref();
    log.info({ node: this.self.id, url: this.self.url }, 'joined the cluster');
  }

  async locate(roomId: string): Promise<NodeInfo | undefined> {
    const cached = this.owners.get(roomId);
    if (cached && cached.until > Date.now()) return cached.node;
    return this.resolve(roomId, 'existing');
  }

  async place(roomId: string): Promise<NodeInfo> {
    const node = await this.resolve(roomId, 'create');
    if (!node) throw new ServiceError('unavailable', 'no live node can take the room');
    return node;
  }

  async claim(roomId: string): Promise<void> {
    const owner = await this.eval(PLACE_SCRIPT, roomId, [this.self.id, this.key('node:'), 'claim']);
    if (owner !== this.self.id) log.warn({ room: roomId, owner }, 'room created here while another live node owns it');
    this.owners.delete(roomId);
  }

  async release(roomId: string): Promise<void> {
    this.owners.delete(roomId);
    await this.client.eval(RELEASE_SCRIPT, { keys: [this.key(`room:${roomId}`)], arguments: [this.self.id] });
  }

  /** Forgets a cached owner (a forwarded request to it failed). */
  forget(roomId: string): void {
    this.owners.delete(roomId);
  }

  async nodes(): Promise<NodeInfo[]> {
    const now = Date.now();
    if (this.liveNodes && now - this.liveNodes.at < this.opts.heartbeatMs / 2) return this.liveNodes.nodes;
    const ids = await this.client.sMembers(this.key('nodes'));
    const values = ids.length ? await this.client.mGet(ids.map((id) => this.key(`node:${id}`))) : [];
    const nodes: NodeInfo[] = [];
    const dead: string[] = [];
    values.forEach((value, i) => {
      if (value) nodes.push(JSON.parse(value) as NodeInfo);
      else dead.push(ids[i]!);
    });
    if (dead.length) await this.client.sRem(this.key('nodes'), dead);
    nodes.sort((a, b) => Number(a.draining) - Number(b.draining) || loadScore(a.load) - loadScore(b.load) || a.id.localeCompare(b.id));
    this.liveNodes = { at: now, nodes };
    return nodes;
  }

  /**
   * Takes no new rooms and hands over the ones it has: once its record says `draining`, the
   * next request for one of its rooms (on any node, after that node's 1 s owner cache) places
   * it on a live node. The heartbeat goes on until close().
   */
  async drain(): Promise<void> {
    this.self.draining = true;
    this.owners.clear();
    this.liveNodes = undefined;
    await this.heartbeat().catch((err: unknown) => log.warn({ err: String(err) }, 'announcing the drain failed'));
  }

  /**
   * Leaves the cluster: its node key goes at once, so its rooms are placed again on the next
   * request for them (or left unplaced when they were deleted). Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    if (this.client.isOpen) {
      await this.client.del(this.key(`node:${this.self.id}`)).catch(() => {});
      await this.client.close().catch(() => {});
    }
  }

  /** What each room carries to its next node (RoomState.ts), on this placement's Redis connection. */
  roomState(): RedisRoomState {
    return (this.state ??= new RedisRoomState(this.client, this.prefix, () => this.closed));
  }

  private async resolve(roomId: string, mode: 'create' | 'existing'): Promise<NodeInfo | undefined> {
    const nodes = await this.nodes();
    const candidate = nodes.find((n) => !n.draining);
    // With no candidate, `existing` still finds a live owner; `create` has nowhere to go.
    const ownerId = await this.eval(PLACE_SCRIPT, roomId, [candidate?.id ?? '', this.key('node:'), candidate ? mode : 'existing']);
    if (!ownerId) return undefined;
    let node = nodes.find((n) => n.id === ownerId);
    if (!node) {
      // Alive in Redis but not in our (slightly older) list: read it.
      const raw = await this.client.get(this.key(`node:${ownerId}`));
      if (!raw) return undefined;
      node = JSON.parse(raw) as NodeInfo;
    }
    if (ownerId !== this.self.id) log.debug({ room: roomId, node: ownerId }, 'room lives elsewhere');
    this.owners.set(roomId, { node, until: Date.now() + OWNER_CACHE_MS });
    return node;
  }

  private async eval(script: string, roomId: string, args: string[]): Promise<string | undefined> {
    const result = await this.client.eval(script, { keys: [this.key(`room:${roomId}`)], arguments: args });
    return typeof result === 'string' && result !== '' ? result : undefined;
  }

  private async heartbeat(): Promise<void> {
    if (this.closed) return;
    this.self.load = this.opts.load();
    this.self.seenAt = Date.now();
    await this.client
      .multi()
      .set(this.key(`node:${this.self.id}`), JSON.stringify(this.self), { PX: this.opts.nodeTtlMs })
      .sAdd(this.key('nodes'), this.self.id)
      .exec();
  }

  private key(suffix: string): string {
    return `${this.prefix}${suffix}`;
  }
}
