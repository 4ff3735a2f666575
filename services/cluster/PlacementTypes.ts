/**
 * Where a room lives. A room lives on one node (as in LiveKit); every other node sends its
 * requests there. `LocalPlacement` is the one-node default (no REDIS_URL); `RedisPlacement`
 * keeps the nodes and the rooms' owners in Redis. Both pass test/cluster/placement-contract.ts.
 */

/** What a node publishes about itself with each heartbeat. */
export interface NodeLoad {
  rooms: number;
  publishers: number;
  subscribers: number;
  broadcasts: number;
}

export interface NodeInfo {
  id: string;
  /** Base URL clients and other nodes reach this node's HTTP server at (PUBLIC_URL). */
  url: string;
  /** Address its media (ICE) candidates carry. */
  mediaIp: string;
  load: NodeLoad;
  /** Takes no new rooms (shutting down). */
  draining: boolean;
  /** Epoch ms of its last heartbeat. */
  seenAt: number;
}

export interface RoomPlacement {
  /** This node's id. */
  readonly self: NodeInfo;
  /** False for the one-node placement: nothing is ever elsewhere. */
  readonly clustered: boolean;
  /** Registers this node and starts its heartbeat. */
  start(url: string): Promise<void>;
  /**
   * The live node that owns `roomId`, for a request about it. A room whose node has vanished
   * is placed again (least loaded live node) here, atomically. Undefined: no such room anywhere.
   */
  locate(roomId: string): Promise<NodeInfo | undefined>;
  /** A room being created: its live owner if it has one, else the least loaded live node, atomically. */
  place(roomId: string): Promise<NodeInfo>;
  /** This node now hosts `roomId` (created here): owner unless a live node already owns it. */
  claim(roomId: string): Promise<void>;
  /** `roomId` was deleted (only by its owner): forget its placement. */
  release(roomId: string): Promise<void>;
  /** Live nodes, least loaded first. */
  nodes(): Promise<NodeInfo[]>;
  /** Takes no new rooms from now on (SIGTERM). */
  drain(): Promise<void>;
  /** Stops the heartbeat and deregisters. Idempotent. */
  close(): Promise<void>;
}

/** One number to order nodes by: what a room costs most is its broadcast (ffmpeg) and its subscribers. */
export function loadScore(load: NodeLoad): number {
  return load.broadcasts * 100 + load.rooms * 10 + load.publishers * 5 + load.subscribers;
}
