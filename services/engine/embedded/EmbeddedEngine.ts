import { EnhancedEventEmitter } from '../../core/EnhancedEventEmitter.ts';
import { InvalidStateError, ServiceError, UnsupportedError } from '../../core/errors.ts';
import type {
  CloseReason,
  EngineEvents,
  EngineOptions,
  EngineStats,
  MediaEngine,
  MirrorInfo,
  MirrorTarget,
  StageTrack,
  SubscriberOffer,
  PublishOptions,
} from '../EngineTypes.ts';
import { EmbeddedRoom } from './EmbeddedRoom.ts';

/**
 * The pure-TypeScript engine on werift. Enough for a small stage: a few publishers and tens
 * of subscribers. It runs wherever it is constructed; `createEngine` normally puts it on a
 * worker thread (see ../worker/) so its per-packet work stays off the HTTP event loop.
 */
export class EmbeddedEngine extends EnhancedEventEmitter<EngineEvents> implements MediaEngine {
  readonly kind = 'embedded' as const;
  /** werift has no simulcast sender, and this engine does no speaker detection. */
  readonly capabilities = { simulcast: false, activeSpeaker: false };
  private readonly opts: EngineOptions;
  private readonly rooms = new Map<string, EmbeddedRoom>();
  private retiredPackets = 0;
  private readonly cpuStart = threadCpuMicros();
  private closed = false;

  constructor(opts: EngineOptions) {
    super();
    this.opts = opts;
  }

  async createRoom(roomId: string): Promise<void> {
    if (this.closed) throw new InvalidStateError('engine is closed');
    if (this.rooms.has(roomId)) return;
    const room = new EmbeddedRoom(roomId, this.opts);
    room.on('subscriberoffer', (peerId, offer) => this.safeEmit('subscriberoffer', roomId, peerId, offer));
    room.on('trackpublished', (track) => this.safeEmit('trackpublished', roomId, track));
    room.on('trackunpublished', (track, reason) => this.safeEmit('trackunpublished', roomId, track, reason));
    room.on('legclosed', (peerId, leg, reason) => this.safeEmit('legclosed', roomId, peerId, leg, reason));
    room.on('close', () => {
      this.retiredPackets += room.packetsForwarded;
      this.rooms.delete(roomId);
    });
    this.rooms.set(roomId, room);
  }

  async closeRoom(roomId: string, reason: CloseReason): Promise<void> {
    this.rooms.get(roomId)?.close(reason);
  }

  async publish(roomId: string, peerId: string, offer: string, options: PublishOptions = {}) {
    const room = this.room(roomId);
    const answer = await room.publish(peerId, offer, options);
    return { answer, tracks: room.relays.filter((r) => r.info.peerId === peerId).map((r) => r.info) };
  }

  async closePublisher(roomId: string, peerId: string, reason: CloseReason): Promise<void> {
    this.rooms.get(roomId)?.closePublisher(peerId, reason);
  }

  async setTrackPaused(roomId: string, trackId: string, paused: boolean): Promise<void> {
    this.room(roomId).setTrackPaused(trackId, paused);
  }

  async setSubscriberLayers(): Promise<void> {
    throw new UnsupportedError('the embedded engine has no simulcast; layers cannot be chosen');
  }

  async subscribe(roomId: string, peerId: string): Promise<SubscriberOffer> {
    return this.room(roomId).subscribe(peerId);
  }

  async answerSubscriber(roomId: string, peerId: string, version: number, answer: string): Promise<void> {
    await this.room(roomId).answerSubscriber(peerId, version, answer);
  }

  async subscribeWithOffer(roomId: string, peerId: string, offer: string) {
    return this.room(roomId).subscribeWithOffer(peerId, offer);
  }

  async closeSubscriber(roomId: string, peerId: string, reason: CloseReason): Promise<void> {
    this.rooms.get(roomId)?.closeSubscriber(peerId, reason);
  }

  async mirrorTrack(roomId: string, trackId: string, target: MirrorTarget): Promise<MirrorInfo> {
    return this.room(roomId).mirrorTrack(trackId, target);
  }

  async stopMirror(roomId: string, trackId: string): Promise<void> {
    this.rooms.get(roomId)?.stopMirror(trackId);
  }

  async requestKeyFrame(roomId: string, trackId: string): Promise<void> {
    this.room(roomId).requestKeyFrame(trackId);
  }

  async listTracks(roomId: string): Promise<StageTrack[]> {
    return this.room(roomId).relays.map((r) => r.info);
  }

  async stats(): Promise<EngineStats> {
    const rooms = [...this.rooms.values()];
    return {
      kind: this.kind,
      rooms: rooms.length,
      publishers: rooms.reduce((n, r) => n + r.publishers.size, 0),
      subscribers: rooms.reduce((n, r) => n + r.subscribers.size, 0),
      packetsForwarded: this.retiredPackets + rooms.reduce((n, r) => n + r.packetsForwarded, 0),
      cpuMicros: threadCpuMicros() - this.cpuStart,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const room of [...this.rooms.values()]) room.close('engine_closed');
  }

  private room(roomId: string): EmbeddedRoom {
    const room = this.rooms.get(roomId);
    if (!room) throw new ServiceError('not_found', `room ${roomId} does not exist`);
    return room;
  }
}

/** CPU time of the calling thread (the engine's, when it runs on a worker thread). */
function threadCpuMicros(): number {
  const usage = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage() : process.cpuUsage();
  return usage.user + usage.system;
}
