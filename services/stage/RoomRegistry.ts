import { randomBytes } from 'node:crypto';
import { EnhancedEventEmitter } from '../core/EnhancedEventEmitter.ts';
import { ServiceError } from '../core/errors.ts';
import { logger } from '../core/logger.ts';
import type { EngineEvents, MediaEngine } from '../engine/EngineTypes.ts';
import { Room } from './Room.ts';
import type { CloseReason, RoomOptions, RoomRegistryObserverEvents } from './StageTypes.ts';

const log = logger.child({ mod: 'stage' });

/** Room ids: URL- and log-safe. The HTTP API validates the same pattern. */
export const ROOM_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Where rooms live on this node. The one subscriber to engine events: it routes each to the
 * room it names. (A Redis-backed registry that places rooms across nodes comes later, behind
 * the same methods.) Code that follows every room listens to `observer` (`newroom`).
 */
export class RoomRegistry {
  /** Monitoring: `newroom` for every room created; each room's own `observer` tells the rest. */
  readonly observer = new EnhancedEventEmitter<RoomRegistryObserverEvents>();
  private readonly engine: MediaEngine;
  private readonly roomOptions: RoomOptions;
  private readonly rooms = new Map<string, Room>();
  /** Ids whose engine room is being created, so that two concurrent creates cannot both win. */
  private readonly pending = new Set<string>();
  private closed = false;
  private engineDeath: string | undefined;
  private readonly engineListeners: { [K in keyof EngineEvents]: (...args: EngineEvents[K]) => void };

  constructor(engine: MediaEngine, roomOptions: RoomOptions) {
    this.engine = engine;
    this.roomOptions = roomOptions;
    this.engineListeners = {
      subscriberoffer: (roomId, peerId, offer) => this.rooms.get(roomId)?.handleSubscriberOffer(peerId, offer),
      trackpublished: (roomId, track) => this.rooms.get(roomId)?.handleTrackPublished(track),
      trackunpublished: (roomId, track, reason) => this.rooms.get(roomId)?.handleTrackUnpublished(track, reason),
      activespeaker: (roomId, peerId) => this.rooms.get(roomId)?.handleActiveSpeaker(peerId),
      legclosed: (roomId, peerId, leg, reason) => this.rooms.get(roomId)?.handleLegClosed(peerId, leg, reason),
      died: (error) => {
        this.engineDeath = error;
        log.error({ error }, 'media engine died; closing every room');
        for (const room of [...this.rooms.values()]) void room.close('engine_died');
      },
    };
    for (const [event, listener] of Object.entries(this.engineListeners)) {
      engine.on(event as keyof EngineEvents, listener as never);
    }
  }

  /** Why the engine died, if it did: the node can no longer host media and should be replaced. */
  get engineDiedWith(): string | undefined {
    return this.engineDeath;
  }

  get size(): number {
    return this.rooms.size;
  }

  /** Creates a room; a missing id gets a random one. Rejects with `conflict` if it exists. */
  async create(id?: string): Promise<Room> {
    if (this.closed) throw new ServiceError('invalid_state', 'server is shutting down');
    if (this.engineDeath !== undefined) throw new ServiceError('engine_error', 'media engine is not running');
    const roomId = id ?? `room_${randomBytes(6).toString('base64url')}`;
    if (!ROOM_ID_PATTERN.test(roomId)) throw new ServiceError('bad_request', 'room id must match ^[A-Za-z0-9_-]{1,64}$');
    if (this.rooms.has(roomId) || this.pending.has(roomId)) throw new ServiceError('conflict', `room ${roomId} already exists`);
    this.pending.add(roomId);
    try {
      await this.engine.createRoom(roomId);
    } finally {
      this.pending.delete(roomId);
    }
    const room = new Room(roomId, this.engine, this.roomOptions);
    room.once('close', () => {
      if (this.rooms.get(roomId) === room) this.rooms.delete(roomId);
    });
    this.rooms.set(roomId, room);
    log.info({ room: roomId }, 'room created');
    this.observer.safeEmit('newroom', room);
    return room;
  }

  get(id: string): Room | undefined {
    return this.rooms.get(id);
  }

  /** The room, or ServiceError `not_found`. */
  require(id: string): Room {
    const room = this.rooms.get(id);
    if (!room) throw new ServiceError('not_found', 'room not found');
    return room;
  }

  list(): Room[] {
    return [...this.rooms.values()];
  }

  /** Closes and forgets a room. Rejects with `not_found` if there is none. */
  async delete(id: string, reason: CloseReason = 'room_closed'): Promise<void> {
    const room = this.require(id);
    this.rooms.delete(id);
    await room.close(reason);
  }

  /** Closes every room and stops listening to the engine. Idempotent; the engine stays open. */
  async close(reason: CloseReason = 'room_closed'): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const rooms = [...this.rooms.values()];
    this.rooms.clear();
    await Promise.all(rooms.map((room) => room.close(reason)));
    for (const [event, listener] of Object.entries(this.engineListeners)) {
      this.engine.off(event as keyof EngineEvents, listener as never);
    }
    this.observer.removeAllListeners();
  }
}
