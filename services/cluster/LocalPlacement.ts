import type { NodeInfo, NodeLoad, RoomPlacement } from './PlacementTypes.ts';

/** One node alone (no REDIS_URL): every room lives here, as before clustering existed. */
export class LocalPlacement implements RoomPlacement {
  readonly clustered = false;
  readonly self: NodeInfo;
  private readonly hasRoom: (roomId: string) => boolean;

  constructor(self: { id: string; url: string; mediaIp: string }, hasRoom: (roomId: string) => boolean, load: () => NodeLoad = () => ({ rooms: 0, publishers: 0, subscribers: 0, broadcasts: 0 })) {
    this.self = { ...self, load: load(), draining: false, seenAt: Date.now() };
    this.hasRoom = hasRoom;
  }

  async start(url: string): Promise<void> {
    this.self.url = url.replace(/\/$/, '');
  }

  async locate(roomId: string): Promise<NodeInfo | undefined> {
    return this.hasRoom(roomId) ? this.self : undefined;
  }

  async place(): Promise<NodeInfo> {
    return this.self;
  }

  async claim(): Promise<void> {}

  async release(): Promise<void> {}

  async nodes(): Promise<NodeInfo[]> {
    return [this.self];
  }

  async drain(): Promise<void> {
    this.self.draining = true;
  }

  async close(): Promise<void> {}
}
