import { CONFIG_DEFAULTS } from '../../core/config.ts';
import { InvalidStateError, ServiceError } from '../../core/errors.ts';
import type { CloseReason, EngineEvents, MirrorInfo, PublishOptions, MirrorTarget, PreferredLayers, StageTrack, SubscriberOffer } from '../EngineTypes.ts';
import { ForwardedPackets } from './ForwardedPackets.ts';
import { MirrorLeg } from './MirrorLeg.ts';
import type { MediasoupEngineOptions } from './options.ts';
import { PublisherLeg, type Published } from './PublisherLeg.ts';
import { RouterSet, type Numbering } from './RouterSet.ts';
import { parseSdp } from './sdp.ts';
import { remoteDtls } from './sdpCodecs.ts';
import { producersFromOffer } from './sdpPublish.ts';
import { SubscriberLeg, type SubscriberContext } from './SubscriberLeg.ts';
import type { WorkerPool, WorkerSlot } from './WorkerPool.ts';

type Emit = <K extends keyof EngineEvents>(event: K, ...args: EngineEvents[K]) => void;

/**
 * One room on mediasoup: its routers (RouterSet: a primary router, piped routers when the
 * subscribers outgrow a worker, the active speaker observer), and its legs: publishers,
 * subscribers and mirrors. The room coordinates: it places legs, hands a live track to the
 * subscribers that follow the stage, and turns the legs' `close` events into the engine's
 * events. Each leg owns and closes what it made.
 */
export class MediasoupRoom {
  readonly id: string;
  private readonly pool: WorkerPool;
  private readonly opts: MediasoupEngineOptions;
  private readonly emit: Emit;
  private readonly routers: RouterSet;
  private readonly publishers = new Map<string, PublisherLeg>();
  private readonly subscribers = new Map<string, SubscriberLeg>();
  private readonly mirrors = new Map<string, MirrorLeg>();
  private readonly packets = new ForwardedPackets();
  private readonly subscriberContext: SubscriberContext;
  private readonly iceConnectTimeoutMs: number;
  private closed = false;

  private constructor(id: string, pool: WorkerPool, opts: MediasoupEngineOptions, emit: Emit) {
    this.id = id;
    this.pool = pool;
    this.opts = opts;
    this.emit = emit;
    this.routers = new RouterSet(id, pool, opts);
    this.iceConnectTimeoutMs = opts.iceConnectTimeoutMs ?? CONFIG_DEFAULTS.ICE_CONNECT_TIMEOUT_MS;
    this.subscriberContext = {
      roomId: id,
      routers: this.routers,
      packets: this.packets,
      offers: { last: 0 },
      published: () => this.published,
      iceConnectTimeoutMs: this.iceConnectTimeoutMs,
    };
    this.routers.on('dominantspeaker', (peerId) => this.emit('activespeaker', this.id, peerId));
    // Every leg and track was on the primary (or fed by it): all go, and clients reconnect.
    this.routers.on('primarylost', () => {
      for (const leg of [...this.subscribers.values()]) leg.close('engine_died');
      for (const leg of [...this.publishers.values()]) leg.close('engine_died');
      for (const mirror of [...this.mirrors.values()]) mirror.close('engine_died');
    });
    this.routers.on('partslost', (parts) => {
      for (const leg of [...this.subscribers.values()]) if (parts.includes(leg.part)) leg.close('engine_died');
    });
  }

  static async create(id: string, pool: WorkerPool, opts: MediasoupEngineOptions, emit: Emit): Promise<MediasoupRoom> {
    const room = new MediasoupRoom(id, pool, opts, emit);
    await room.routers.buildPrimary();
    return room;
  }

  /** Live and not-yet-live published tracks. */
  private get published(): Published[] {
    return [...this.publishers.values()].flatMap((p) => p.published);
  }

  tracks(): StageTrack[] {
    return this.published.filter((p) => p.announced).map((p) => p.track);
  }

  counts(): { publishers: number; subscribers: number } {
    return { publishers: this.publishers.size, subscribers: this.subscribers.size };
  }

  // ---- publish ---------------------------------------------------------------------------

  async publish(peerId: string, offer: string, options: PublishOptions = {}): Promise<{ answer: string; tracks: StageTrack[] }> {
    this.assertOpen();
    const parsed = parseSdp(offer);
    const part = this.routers.primary;
    const offered = producersFromOffer(parsed, part.router.rtpCapabilities);
    const dtlsParameters = remoteDtls(parsed, true);
    this.publishers.get(peerId)?.close('replaced');
    const leg = await PublisherLeg.create(this.id, peerId, part, this.iceConnectTimeoutMs);
    // A concurrent publish for the same peer may have won meanwhile: this one replaces it.
    this.publishers.get(peerId)?.close('replaced');
    this.publishers.set(peerId, leg);
    leg.on('live', (pub) => void this.announce(leg, pub));
    leg.on('close', (reason) => {
      if (this.publishers.get(peerId) === leg) this.publishers.delete(peerId);
      for (const pub of leg.published) this.mirrors.get(pub.track.trackId)?.close('track_ended');
      for (const pub of leg.published) if (pub.announced) this.emit('trackunpublished', this.id, pub.track, reason);
      this.reportClosed(peerId, 'publisher', reason);
    });
    try {
      return await leg.produce(parsed, dtlsParameters, offered, options.sources);
    } catch (err) {
      leg.close('client_request');
      throw err;
    }
  }

  /** A track's media arrived: it joins the speaker observer (audio), goes on the stage and to every follower. */
  private async announce(leg: PublisherLeg, pub: Published): Promise<void> {
    if (this.closed) return;
    if (pub.track.kind === 'audio') await this.routers.observeSpeaker(pub.producer.id);
    if (this.closed || leg.closed || pub.producer.closed) return;
    pub.announced = true;
    this.emit('trackpublished', this.id, pub.track);
    for (const sub of this.subscribers.values()) sub.follow(pub);
  }

  closePublisher(peerId: string, reason: CloseReason): void {
    this.publishers.get(peerId)?.close(reason);
  }

  async setTrackPaused(trackId: string, paused: boolean): Promise<void> {
    const pub = this.findPublished(trackId);
    if (paused) await pub.producer.pause();
    else await pub.producer.resume();
  }

  private findPublished(trackId: string): Published {
    const pub = this.published.find((p) => p.track.trackId === trackId);
    if (!pub) throw new ServiceError('not_found', `no track ${trackId}`);
    return pub;
  }

  // ---- subscribe ---------------------------------------------------------------------------

  async subscribe(peerId: string): Promise<SubscriberOffer> {
    this.assertOpen();
    const leg = await this.newSubscriber(peerId, true);
    try {
      for (const pub of this.published) if (pub.live && pub.track.peerId !== peerId) await leg.addTrack(pub);
      return leg.offer();
    } catch (err) {
      leg.close('client_request');
      throw err;
    }
  }

  async answerSubscriber(peerId: string, version: number, answer: string): Promise<void> {
    const leg = this.subscribers.get(peerId);
    if (!leg || !leg.follows) throw new InvalidStateError(`peer ${peerId} is not subscribed`);
    await leg.applyAnswer(version, answer);
  }

  /**
   * WHEP: the receiver offers, the engine answers with the stage's current audio and video, from
   * a router with the receiver's own payload types (the primary's kind when it numbers codecs as
   * the room does).
   */
  async subscribeWithOffer(peerId: string, offer: string): Promise<{ answer: string; tracks: StageTrack[] }> {
    this.assertOpen();
    const parsed = parseSdp(offer);
    const dtlsParameters = remoteDtls(parsed, true);
    const leg = await this.newSubscriber(peerId, false, this.routers.numberingOf(parsed));
    try {
      return await leg.answerOffer(parsed, dtlsParameters);
    } catch (err) {
      leg.close('client_request');
      throw err;
    }
  }

  closeSubscriber(peerId: string, reason: CloseReason): void {
    this.subscribers.get(peerId)?.close(reason);
  }

  async setSubscriberLayers(peerId: string, trackId: string, layers: PreferredLayers): Promise<void> {
    const consumer = this.subscribers.get(peerId)?.consumer(trackId);
    if (!consumer) throw new ServiceError('not_found', `peer ${peerId} does not receive track ${trackId}`);
    if (consumer.type !== 'simulcast' && consumer.type !== 'svc') {
      throw new InvalidStateError(`track ${trackId} is not simulcast; it has one layer`);
    }
    await consumer.setPreferredLayers({ spatialLayer: layers.spatialLayer, ...(layers.temporalLayer !== undefined ? { temporalLayer: layers.temporalLayer } : {}) });
  }

  private async newSubscriber(peerId: string, follows: boolean, numbering?: Numbering): Promise<SubscriberLeg> {
    this.subscribers.get(peerId)?.close('replaced');
    const leg = await SubscriberLeg.create(this.subscriberContext, peerId, follows, numbering);
    // A concurrent subscribe for the same peer may have won meanwhile: this one replaces it.
    this.subscribers.get(peerId)?.close('replaced');
    this.subscribers.set(peerId, leg);
    leg.on('offer', (offer) => this.emit('subscriberoffer', this.id, peerId, offer));
    leg.on('close', (reason) => {
      if (this.subscribers.get(peerId) === leg) this.subscribers.delete(peerId);
      this.reportClosed(peerId, 'subscriber', reason);
    });
    return leg;
  }

  // ---- mirror ---------------------------------------------------------------------------

  /**
   * Mirrors a track to `target`. Mirroring again to the same target keeps the running mirror and
   * only asks for a keyframe, so the receiver never sees the numbering jump (see MirrorLeg); a
   * different target gets a new mirror.
   */
  async mirrorTrack(trackId: string, target: MirrorTarget): Promise<MirrorInfo> {
    const pub = this.findPublished(trackId);
    const running = this.mirrors.get(trackId);
    if (running?.serves(target)) {
      await running.refresh();
      return running.info;
    }
    running?.close('replaced');
    const mirror = await MirrorLeg.create({ routers: this.routers, pub, target, listenIp: this.opts.listenIp, portRange: this.pool.transportPortRange });
    // A concurrent mirrorTrack for this track may have finished meanwhile: the later one wins.
    this.mirrors.get(trackId)?.close('replaced');
    this.mirrors.set(trackId, mirror);
    mirror.on('close', () => {
      if (this.mirrors.get(trackId) === mirror) this.mirrors.delete(trackId);
    });
    await mirror.refresh();
    return mirror.info;
  }

  stopMirror(trackId: string): void {
    this.mirrors.get(trackId)?.close('client_request');
  }

  async requestKeyFrame(trackId: string): Promise<void> {
    const pub = this.findPublished(trackId);
    if (pub.track.kind !== 'video') return;
    const mirror = this.mirrors.get(trackId);
    // A consumer's key frame request reaches the producer (and is throttled by mediasoup).
    if (mirror) await mirror.requestKeyFrame();
    else {
      const any = [...this.subscribers.values()].map((s) => s.consumer(trackId)).find((c) => c && !c.closed);
      if (any) await any.requestKeyFrame();
    }
  }

  // ---- stats, worker death and closing ------------------------------------------------------------

  /** RTP packets sent to this room's subscribers, including those of consumers that closed. */
  async packetsForwarded(): Promise<number> {
    for (const leg of this.subscribers.values()) {
      for (const consumer of leg.consumers()) await this.packets.sample(consumer);
    }
    return this.packets.total;
  }

  /**
   * The slot's worker just died; its routers and transports are already closed. If the room's
   * primary router was on it, every leg and track is gone: legs close with `engine_died` so
   * clients reconnect, and the room gets a new primary router on a live worker (now, or when
   * the slot's replacement is up: `ensureRouter`). If only a piped router was on it, only the
   * subscribers there go. (RouterSet reports the loss; the listeners are in the constructor.)
   */
  async onWorkerDied(slot: WorkerSlot): Promise<void> {
    await this.routers.onWorkerDied(slot);
  }

  /** Gives the room a primary router again if it lost it and a worker is running. */
  async ensureRouter(): Promise<void> {
    await this.routers.ensurePrimary();
  }

  /** Closes every leg with `reason`, then the routers. Idempotent. */
  close(reason: CloseReason): void {
    if (this.closed) return;
    for (const leg of [...this.subscribers.values()]) leg.close(reason);
    for (const leg of [...this.publishers.values()]) leg.close(reason);
    for (const mirror of [...this.mirrors.values()]) mirror.close(reason);
    this.closed = true;
    this.routers.close();
  }

  private reportClosed(peerId: string, leg: 'publisher' | 'subscriber', reason: CloseReason): void {
    if (reason !== 'client_request' && reason !== 'room_closed' && reason !== 'replaced') this.emit('legclosed', this.id, peerId, leg, reason);
  }

  private assertOpen(): void {
    if (this.closed) throw new InvalidStateError(`room ${this.id} is closed`);
  }
}
