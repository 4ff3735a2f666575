import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { ServiceError } from '../core/errors.ts';
import { logger } from '../core/logger.ts';
import type { NodeInfo, RoomPlacement } from './PlacementTypes.ts';

const log = logger.child({ mod: 'cluster' });

/** Header a node puts on the requests it forwards to another: the cluster secret. */
export const CLUSTER_SECRET_HEADER = 'x-stagecast-cluster-secret';

/** Room ids: the stage's pattern (stage/RoomRegistry.ts ROOM_ID_PATTERN). */
const ROOM_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** What the router needs of this node's stage. */
export interface ClusterHost {
  hasRoom(roomId: string): boolean;
  /** Creates the room here; rejects with `conflict` if it exists. Resolves with its summary. */
  createRoom(roomId: string): Promise<unknown>;
}

export type RoomRoute = { where: 'here' } | { where: 'elsewhere'; node: NodeInfo } | { where: 'unknown' };

/**
 * Decides, for a request about a room, whether this node serves it or another one does, and
 * brings a room that was placed here (created elsewhere, or re-placed after its node vanished)
 * into being on first use. Checks the cluster secret of node-to-node requests.
 */
export class ClusterRouter {
  readonly placement: RoomPlacement;
  private readonly host: ClusterHost;
  private readonly secretDigest: Buffer;
  private readonly materializing = new Map<string, Promise<void>>();

  constructor(placement: RoomPlacement, host: ClusterHost, secret: string) {
    this.placement = placement;
    this.host = host;
    this.secretDigest = digest(secret);
  }

  get self(): NodeInfo {
    return this.placement.self;
  }

  /** Constant-time check of a peer's secret; a wrong one is `cluster_unauthorized` (403). */
  assertPeer(given: string): void {
    if (!timingSafeEqual(digest(given), this.secretDigest)) {
      throw new ServiceError('cluster_unauthorized', 'node-to-node request refused: wrong cluster secret');
    }
  }

  /** A fresh room id, as the registry would make one. */
  static newRoomId(): string {
    return `room_${randomBytes(6).toString('base64url')}`;
  }

  static isRoomId(id: string): boolean {
    return ROOM_ID.test(id);
  }

  /**
   * Where a request about `roomId` is served. A room placed here that this node lacks is created
   * first. A draining node serves only what it still owns (every node drains): its rooms' URLs
   * lead to where they are placed now.
   */
  async route(roomId: string): Promise<RoomRoute> {
    if (this.host.hasRoom(roomId) && !this.self.draining) return { where: 'here' };
    const owner = await this.placement.locate(roomId);
    if (!owner) return { where: 'unknown' };
    if (owner.id !== this.self.id) return { where: 'elsewhere', node: owner };
    await this.materialize(roomId);
    return { where: 'here' };
  }

  /** A forwarded request for a room this node owns but does not have yet: create it. */
  async materializeIfOwned(roomId: string): Promise<void> {
    if (this.host.hasRoom(roomId)) return;
    const owner = await this.placement.locate(roomId);
    if (owner?.id === this.self.id) await this.materialize(roomId);
  }

  /** Forgets a cached owner after a request to it failed. */
  forget(roomId: string): void {
    (this.placement as { forget?: (id: string) => void }).forget?.(roomId);
  }

  private materialize(roomId: string): Promise<void> {
    let pending = this.materializing.get(roomId);
    if (!pending) {
      pending = (async () => {
        if (this.host.hasRoom(roomId)) return;
        log.info({ room: roomId }, 'room placed here: creating it');
        await this.host.createRoom(roomId).catch((err: unknown) => {
          if (!(err instanceof ServiceError && err.code === 'conflict')) throw err;
        });
      })().finally(() => this.materializing.delete(roomId));
      this.materializing.set(roomId, pending);
    }
    return pending;
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
