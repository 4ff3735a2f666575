import { EnhancedEventEmitter } from '../../core/EnhancedEventEmitter.ts';
import { InvalidStateError } from '../../core/errors.ts';
import { logger } from '../../core/logger.ts';
import type {
  CloseReason,
  EngineEvents,
  EngineStats,
  MediaEngine,
  MirrorInfo,
  MirrorTarget,
  PreferredLayers,
  PublishResult,
  StageTrack,
  SubscriberOffer,
  PublishOptions,
} from '../EngineTypes.ts';
import { MediasoupRoom } from './MediasoupRoom.ts';
import type { MediasoupEngineOptions } from './options.ts';
import { WorkerPool, type WorkerSlot } from './WorkerPool.ts';

const log = logger.child({ mod: 'engine.mediasoup' });

/**
 * The production engine: mediasoup's C++ workers behind the project's SDP-level engine
 * interface. A pool of workers (one per core by default), each with one WebRtcServer; one router
 * per room, plus piped routers on other workers when a room's subscribers outgrow the per-worker
 * consumer budget; ActiveSpeakerObserver per room; PlainTransport mirrors for the broadcast.
 *
 * A dead worker is replaced in its slot. Rooms whose router was on it are rebuilt on a live
 * worker, and their legs close with `engine_died`, so clients publish and subscribe again on
 * their own. Only when no worker can run at all does the engine emit `died`.
 */
export class MediasoupEngine extends EnhancedEventEmitter<EngineEvents> implements MediaEngine {
  readonly kind = 'mediasoup' as const;
  readonly capabilities = { simulcast: true, activeSpeaker: true };
  private readonly pool: WorkerPool;
  private readonly opts: MediasoupEngineOptions;
  private readonly rooms = new Map<string, MediasoupRoom>();
  private readonly creating = new Map<string, Promise<MediasoupRoom>>();
  private closed = false;
  private lastWorkerError: string | undefined;

  private constructor(pool: WorkerPool, opts: MediasoupEngineOptions) {
    super();
    this.pool = pool;
    this.opts = opts;
    pool.on('workerdied', (slot, error) => void this.onWorkerDied(slot, error));
    pool.on('workerreplaced', (slot, replaced) => void this.onWorkerReplaced(slot, replaced));
  }

  static async start(opts: MediasoupEngineOptions): Promise<MediasoupEngine> {
    const pool = await WorkerPool.start(opts);
    return new MediasoupEngine(pool, opts);
  }

  private readonly emitFromRoom = <K extends keyof EngineEvents>(event: K, ...args: EngineEvents[K]): void => {
    if (!this.closed) this.safeEmit(event, ...args);
  };

  async createRoom(roomId: string): Promise<void> {
    if (this.closed) throw new InvalidStateError('engine is closed');
    if (this.rooms.has(roomId)) return;
    let pending = this.creating.get(roomId);
    if (!pending) {
      pending = MediasoupRoom.create(roomId, this.pool, this.opts, this.emitFromRoom);
      this.creating.set(roomId, pending);
    }
    try {
      const room = await pending;
      if (this.closed) {
        room.close('engine_closed');
        throw new InvalidStateError('engine is closed');
      }
      this.rooms.set(roomId, room);
    } finally {
      this.creating.delete(roomId);
    }
  }

  async closeRoom(roomId: string, reason: CloseReason): Promise<void> {
    const room = this.rooms.get(roomId);
    if (!room) return;
    this.rooms.delete(roomId);
    room.close(reason);
  }

  publish(roomId: string, peerId: string, offer: string, options?: PublishOptions): Promise<PublishResult> {
    return this.room(roomId).publish(peerId, offer, options);
  }
  async closePublisher(roomId: string, peerId: string, reason: CloseReason): Promise<void> {
    this.rooms.get(roomId)?.closePublisher(peerId, reason);
  }
  setTrackPaused(roomId: string, trackId: string, paused: boolean): Promise<void> {
    return this.room(roomId).setTrackPaused(trackId, paused);
  }
  subscribe(roomId: string, peerId: string): Promise<SubscriberOffer> {
    return this.room(roomId).subscribe(peerId);
  }
  answerSubscriber(roomId: string, peerId: string, version: number, answer: string): Promise<void> {
    return this.room(roomId).answerSubscriber(peerId, version, answer);
  }
  subscribeWithOffer(roomId: string, peerId: string, offer: string): Promise<{ answer: string; tracks: StageTrack[] }> {
    return this.room(roomId).subscribeWithOffer(peerId, offer);
  }
  async closeSubscriber(roomId: string, peerId: string, reason: CloseReason): Promise<void> {
    this.rooms.get(roomId)?.closeSubscriber(peerId, reason);
  }
  setSubscriberLayers(roomId: string, peerId: string, trackId: string, layers: PreferredLayers): Promise<void> {
    return this.room(roomId).setSubscriberLayers(peerId, trackId, layers);
  }
  mirrorTrack(roomId: string, trackId: string, target: MirrorTarget): Promise<MirrorInfo> {
    return this.room(roomId).mirrorTrack(trackId, target);
  }
  async stopMirror(roomId: string, trackId: string): Promise<void> {
    this.rooms.get(roomId)?.stopMirror(trackId);
  }
  requestKeyFrame(roomId: string, trackId: string): Promise<void> {
    return this.room(roomId).requestKeyFrame(trackId);
  }
  async listTracks(roomId: string): Promise<StageTrack[]> {
    return this.room(roomId).tracks();
  }

  async stats(): Promise<EngineStats> {
    let publishers = 0;
    let subscribers = 0;
    let packetsForwarded = 0;
    for (const room of this.rooms.values()) {
      const c = room.counts();
      publishers += c.publishers;
      subscribers += c.subscribers;
      packetsForwarded += await room.packetsForwarded();
    }
    return { kind: this.kind, rooms: this.rooms.size, publishers, subscribers, packetsForwarded, cpuMicros: await this.pool.cpuMicros() };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const room of this.rooms.values()) room.close('engine_closed');
    this.rooms.clear();
    this.closed = true;
    this.pool.close();
  }

  private room(roomId: string): MediasoupRoom {
    const room = this.rooms.get(roomId);
    if (!room) throw new InvalidStateError(`room ${roomId} does not exist`);
    return room;
  }

  private async onWorkerDied(slot: WorkerSlot, error: string): Promise<void> {
    if (this.closed) return;
    this.lastWorkerError = error;
    log.warn({ slot: slot.index }, 'closing the legs that were on the dead worker and rebuilding their rooms');
    for (const room of this.rooms.values()) {
      try {
        await room.onWorkerDied(slot);
      } catch (err) {
        log.error({ room: room.id, err: (err as Error).message }, 'could not rebuild a room after its worker died');
      }
    }
  }

  private async onWorkerReplaced(slot: WorkerSlot, replaced: boolean): Promise<void> {
    if (this.closed) return;
    if (!replaced && !this.pool.leastLoaded()) {
      // No worker runs at all and none can be started: this node cannot host media any more.
      this.safeEmit('died', `every mediasoup worker died (last: ${this.lastWorkerError ?? 'unknown'})`);
      return;
    }
    for (const room of this.rooms.values()) {
      try {
        await room.ensureRouter();
      } catch (err) {
        log.error({ room: room.id, slot: slot.index, err: (err as Error).message }, 'could not give a room a new router');
      }
    }
  }
}
