import type { MiddlewareHandler } from 'hono';
import type { Config } from '../core/config.ts';
import { logger } from '../core/logger.ts';
import type { RoomRegistry } from '../stage/RoomRegistry.ts';
import { ClusterRouter } from './ClusterRouter.ts';
import { clusterRouting } from './clusterRouting.ts';
import { LocalPlacement } from './LocalPlacement.ts';
import type { NodeLoad, RoomPlacement } from './PlacementTypes.ts';
import { RedisPlacement } from './RedisPlacement.ts';
import type { RedisRoomState } from './RoomState.ts';
import { listedRoom } from '../api/routes/rooms.ts';
import type { PrivateBroadcasts } from '../stage/PrivateBroadcasts.ts';

export { CLUSTER_SECRET_HEADER, ClusterRouter } from './ClusterRouter.ts';
export { LocalPlacement } from './LocalPlacement.ts';
export { RedisPlacement } from './RedisPlacement.ts';
export { RedisRoomState, type HlsNumbering } from './RoomState.ts';
export type { NodeInfo, NodeLoad, RoomPlacement } from './PlacementTypes.ts';

const log = logger.child({ mod: 'cluster' });

export interface Cluster {
  placement: RoomPlacement;
  /** The HTTP routing (clusterRouting.ts); absent on a node alone, whose requests are all its own. */
  middleware?: MiddlewareHandler;
  /** For signaling: the owner's base URL when the room lives on another node (after placing it again if its node vanished). */
  elsewhere?: (roomId: string) => Promise<string | undefined>;
  /** What each room carries to its next node (RoomState.ts): HLS numbering, private setting, blocks, promotions, chat. Absent on a node alone. */
  roomState?: RedisRoomState;
  /** Registers this node under its public URL and starts the heartbeat. */
  start(publicUrl: string): Promise<void>;
  /** Takes no new rooms and hands its rooms over (placed again on a live node by the next request for each); close() leaves. */
  drain(): Promise<void>;
  /** Leaves the cluster (its rooms are placed again on the next request for them). Idempotent. */
  close(): Promise<void>;
}

export interface ClusterDeps {
  registry: RoomRegistry;
  /** Live broadcasts on this node, for its load. */
  liveBroadcasts: () => number;
  /** Rooms' private settings: a room that arrives from a dead node gets the one it had there. */
  privacy: Pick<PrivateBroadcasts, 'set' | 'isPrivate'>;
}

/**
 * The cluster as the server wires it: with REDIS_URL, Redis placement and the routing that
 * lets any node answer for any room; without, a LocalPlacement and no routing at all, so a
 * node alone behaves exactly as before.
 */
export function createCluster(cfg: Config, deps: ClusterDeps): Cluster {
  const { registry } = deps;
  const self = { id: cfg.NODE_ID ?? 'local', url: cfg.PUBLIC_URL, mediaIp: cfg.MEDIA_ANNOUNCED_IP ?? cfg.MEDIA_IP };
  if (!cfg.REDIS_URL || !cfg.CLUSTER_SECRET) {
    const placement = new LocalPlacement(self, (id) => registry.get(id) !== undefined);
    return { placement, start: (url) => placement.start(url), drain: () => placement.drain(), close: () => placement.close() };
  }
  const load = (): NodeLoad => {
    let publishers = 0;
    let subscribers = 0;
    for (const room of registry.list()) {
      for (const p of room.listParticipants()) {
        if (p.publishing) publishers++;
        if (p.subscribed) subscribers++;
      }
    }
    return { rooms: registry.size, publishers, subscribers, broadcasts: deps.liveBroadcasts() };
  };
  const placement = new RedisPlacement({
    redisUrl: cfg.REDIS_URL,
    ...(cfg.NODE_ID ? { nodeId: cfg.NODE_ID } : {}),
    mediaIp: self.mediaIp,
    load,
    heartbeatMs: cfg.CLUSTER_HEARTBEAT_MS,
    nodeTtlMs: cfg.CLUSTER_NODE_TTL_MS,
  });
  const roomState = placement.roomState();
  /** A room as the API lists it (the local route's shape). */
  const summary = (room: ReturnType<RoomRegistry['list']>[number]) => listedRoom(room, deps.privacy);
  // A room placed here may have lived on a node that died: it gets back what it carried there
  // (read before it exists here, applied before anyone can join). Created through the API
  // (`settings`), it takes the private setting it asked for, or the default, as on a node alone.
  const createRoom = async (roomId: string, settings?: { private: boolean | undefined }) => {
    const carried = await roomState.load(roomId);
    const room = await registry.create(roomId);
    if (settings) deps.privacy.set(roomId, settings.private);
    else if (carried.private !== undefined) deps.privacy.set(roomId, carried.private);
    room.restoreBlocks(carried.blocks);
    room.restoreGrants(carried.grants);
    room.chat.restore(carried.chat, carried.chatMuted);
    const counts = { blocks: carried.blocks.length, grants: carried.grants.length, chat: carried.chat.length, chatMuted: carried.chatMuted.length };
    if (carried.private !== undefined || Object.values(counts).some(Boolean)) log.info({ room: roomId, private: carried.private, ...counts }, 'room took over its state from its previous node');
    return summary(room);
  };
  const router = new ClusterRouter(placement, { hasRoom: (id) => registry.get(id) !== undefined, createRoom }, cfg.CLUSTER_SECRET);
  // Every room created here is owned here; one deleted through the API is forgotten. A room
  // closed for any other reason (shutdown, engine death) keeps its placement, to be placed
  // again on a live node by the next request for it.
  const onNewRoom = (room: ReturnType<RoomRegistry['list']>[number]) => {
    placement.claim(room.id).catch((err: unknown) => log.warn({ room: room.id, err: String(err) }, 'claiming the room failed'));
    room.observer.on('identityblocked', (entry) => roomState.saveBlock(room.id, entry));
    room.observer.on('identityunblocked', (identity) => roomState.removeBlock(room.id, identity));
    room.observer.on('grantchanged', (identity, grant) => (grant ? roomState.saveGrant(room.id, grant) : roomState.removeGrant(room.id, identity)));
    room.observer.on('chatmessage', (message) => roomState.saveChatMessage(room.id, message, room.chat.historySize));
    room.observer.on('chatdeleted', (messageId) => roomState.removeChatMessage(room.id, messageId));
    room.observer.on('chatmutechanged', (identity, muted) => roomState.saveChatMute(room.id, identity, muted));
    room.observer.once('close', (reason) => {
      if (reason !== 'room_closed') return;
      placement.release(room.id).catch((err: unknown) => log.warn({ room: room.id, err: String(err) }, 'releasing the room failed'));
      roomState.forget(room.id);
    });
  };
  registry.observer.on('newroom', onNewRoom);
  return {
    placement,
    middleware: clusterRouting({ router, secret: cfg.CLUSTER_SECRET, localRooms: () => registry.list().map(summary), createRoom }),
    elsewhere: async (roomId) => {
      const route = await router.route(roomId);
      return route.where === 'elsewhere' ? route.node.url : undefined;
    },
    roomState,
    start: (url) => placement.start(url),
    drain: () => placement.drain(),
    close: async () => {
      registry.observer.off('newroom', onNewRoom);
      await placement.close();
    },
  };
}
