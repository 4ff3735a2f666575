import { randomInt } from 'node:crypto';
import type {
  ActiveSpeakerObserver,
  Consumer,
  PlainTransport,
  Producer,
  Router,
  RouterRtpCodecCapability,
  RtpCapabilities,
  WebRtcTransport,
} from 'mediasoup/types';
import { InvalidSdpError, InvalidStateError, ServiceError, UnsupportedError } from '../../core/errors.ts';
import { logger } from '../../core/logger.ts';
import type { CloseReason, EngineEvents, MirrorInfo, MirrorTarget, PreferredLayers, StageTrack, SubscriberOffer } from '../EngineTypes.ts';
import type { MediasoupEngineOptions } from './options.ts';
import { mirrorSdp } from '../mirrorSdp.ts';
import { formatFmtp, parseSdp } from './sdp.ts';
import {
  buildAnswer,
  buildOffer,
  capabilitiesFromOffer,
  offersPayloadType,
  parseAnswer,
  producerFromOffer,
  receiverEstimate,
  receiverNumbering,
  renumberedCodecs,
  remoteDtls,
  type LocalTransport,
  type OfferSection,
  type OfferedProducer,
  type SendSection,
} from './sdpBridge.ts';
import type { WorkerPool, WorkerSlot } from './WorkerPool.ts';
import { LayerGovernor, layerCounts } from './LayerGovernor.ts';

const log = logger.child({ mod: 'engine.mediasoup' });

/**
 * The router's codecs: opus, VP8 and H264 constrained baseline, as the embedded engine. mediasoup
 * sends with the router's payload types, and a WHEP client's offer fixes the numbers it expects,
 * so they are pinned to the ones Chromium offers (opus 111, VP8 96, H264 42e01f mode 1 at 108).
 */
export const MEDIA_CODECS: RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 } },
  { kind: 'video', mimeType: 'video/VP8', preferredPayloadType: 96, clockRate: 90000 },
  {
    kind: 'video',
    mimeType: 'video/H264',
    preferredPayloadType: 108,
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
];

/** Bitrate the engine assumes towards a new subscriber before its estimate exists. */
const INITIAL_OUTGOING_BITRATE = 1_000_000;
/** How long a new publisher may go without media before a warning is logged (ms). */
const FIRST_MEDIA_TIMEOUT_MS = 30_000;
/** A leg whose client never completes ICE is closed after this long (ms). */
const ICE_CONNECT_TIMEOUT_MS = 30_000;

/** Calls `onTimeout` unless the transport's ICE has connected within ICE_CONNECT_TIMEOUT_MS. */
function closeIfNeverConnected(transport: WebRtcTransport, onTimeout: () => void): void {
  const timer = setTimeout(() => {
    if (!transport.closed && (transport.iceState === 'new' || transport.iceState === 'disconnected')) onTimeout();
  }, ICE_CONNECT_TIMEOUT_MS);
  timer.unref();
  transport.observer.once('close', () => clearTimeout(timer));
}

type Emit = <K extends keyof EngineEvents>(event: K, ...args: EngineEvents[K]) => void;

/**
 * A room's router on one worker. The first is the room's own; others receive piped producers:
 * routers on other workers when subscribers outgrow the per-worker budget, and routers whose
 * payload types follow a WHEP receiver that numbers codecs its own way.
 */
interface RouterPart {
  slot: WorkerSlot;
  generation: number;
  router: Router;
  /** '' for the room's own payload types, else the key of a receiver's numbering (`numberingFor`). */
  numbering: string;
  /** This room's consumers on this router. */
  consumers: number;
  /** Primary producer id → the id of its pipe producer in this router; never used on the primary. */
  piped: Map<string, Promise<string>>;
}

interface Published {
  track: StageTrack;
  producer: Producer;
  live: boolean;
  /** trackpublished went out, so trackunpublished must follow. */
  announced: boolean;
}

interface PublisherLeg {
  peerId: string;
  transport: WebRtcTransport;
  published: Published[];
  closed: boolean;
}

interface SubscriberLeg {
  peerId: string;
  part: RouterPart;
  transport: WebRtcTransport;
  /** Engine-offer leg that follows the stage (false: WHEP, fixed at its offer). */
  follows: boolean;
  sections: OfferSection[];
  consumers: Map<string, ConsumerEntry>;
  version: number;
  awaiting: boolean;
  dirty: boolean;
  connected: boolean;
  nextMid: number;
  closed: boolean;
  sessionId: string;
  /** Mids with a track in the outstanding offer: only these are judged by its answer. */
  offeredMids: Set<string>;
  /** Tracks being added right now, so that two paths cannot add one track twice. */
  adding: Set<string>;
  /** An answer is being applied (its DTLS connect is in flight). */
  answering: boolean;
  /** Version of the last offer whose answer was applied. */
  answered: number;
  /** mid of a closed section → version of the first offer that showed it closed. */
  closedIn: Map<string, number>;
}

interface ConsumerEntry {
  consumer: Consumer;
  mid: string;
  resumed: boolean;
  /** Chooses layers from receiver reports where the receiver gives no bandwidth estimate (WHEP). */
  governor?: LayerGovernor;
}

interface Mirror {
  transport: PlainTransport;
  consumer: Consumer;
  target: MirrorTarget;
  info: MirrorInfo;
}

function sameTarget(a: MirrorTarget, b: MirrorTarget): boolean {
  return a.ip === b.ip && a.rtpPort === b.rtpPort && a.rtcpPort === b.rtcpPort;
}

/** The room's codecs with a receiver's payload types, and a key naming that numbering. */
interface Numbering {
  key: string;
  codecs: RouterRtpCodecCapability[];
}

function numberingFor(receiver: Map<number, number>): Numbering | undefined {
  const codecs = renumberedCodecs(MEDIA_CODECS, receiver);
  return codecs && { key: codecs.map((c) => `${c.mimeType}:${c.preferredPayloadType}`).join(','), codecs };
}

function local(transport: WebRtcTransport): LocalTransport {
  return {
    iceParameters: transport.iceParameters,
    iceCandidates: transport.iceCandidates,
    dtlsParameters: transport.dtlsParameters,
    sctpParameters: transport.sctpParameters,
  };
}

function sessionId(): string {
  return String(randomInt(1, 2 ** 47));
}

/** Codec name of a parameters' first codec, e.g. "VP8". */
function codecName(mimeType: string | undefined): string {
  return mimeType ? mimeType.slice(mimeType.indexOf('/') + 1) : 'unknown';
}

/**
 * One room on mediasoup: a primary router on one worker, more routers on other workers when
 * its subscribers outgrow the per-worker consumer budget (fed by pipeToRouter), an
 * ActiveSpeakerObserver on the primary, and the legs. Publishing and subscribing go through the
 * SDP bridge; mirroring uses a PlainTransport.
 */
export class MediasoupRoom {
  readonly id: string;
  private readonly pool: WorkerPool;
  private readonly opts: MediasoupEngineOptions;
  private readonly emit: Emit;
  private parts: RouterPart[] = [];
  private observer: ActiveSpeakerObserver | undefined;
  private readonly publishers = new Map<string, PublisherLeg>();
  private readonly subscribers = new Map<string, SubscriberLeg>();
  private readonly mirrors = new Map<string, Mirror>();
  /** Last packet count seen per live consumer. */
  private readonly packetCounts = new Map<string, number>();
  /** Packets of closed consumers, as last seen. */
  private retiredPackets = 0;
  private closed = false;
  private rebuilding = false;
  /** Offer versions are unique in the room, so an answer to a replaced leg's offer can never match its successor's. */
  private lastOfferVersion = 0;

  private constructor(id: string, pool: WorkerPool, opts: MediasoupEngineOptions, emit: Emit) {
    this.id = id;
    this.pool = pool;
    this.opts = opts;
    this.emit = emit;
  }

  static async create(id: string, pool: WorkerPool, opts: MediasoupEngineOptions, emit: Emit): Promise<MediasoupRoom> {
    const room = new MediasoupRoom(id, pool, opts, emit);
    await room.buildPrimary();
    return room;
  }

  private get primary(): RouterPart {
    const p = this.parts[0];
    if (!p) throw new ServiceError('engine_error', `room ${this.id} has no router right now (its worker died; it gets a new one as soon as a worker runs)`, 503);
    return p;
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

  private async buildPrimary(): Promise<void> {
    const slot = this.pool.leastLoaded();
    if (!slot) throw new ServiceError('engine_error', 'no mediasoup worker is running', 503);
    const router = await slot.worker.createRouter({ mediaCodecs: MEDIA_CODECS, appData: { roomId: this.id } });
    slot.routers++;
    const part: RouterPart = { slot, generation: slot.generation, router, numbering: '', consumers: 0, piped: new Map() };
    let observer: ActiveSpeakerObserver;
    try {
      observer = await router.createActiveSpeakerObserver({ interval: 300 });
    } catch (err) {
      router.close();
      slot.routers--;
      throw err;
    }
    if (this.closed) {
      router.close();
      slot.routers--;
      return;
    }
    this.parts = [part];
    observer.on('dominantspeaker', ({ producer }) => {
      const peerId = (producer.appData as { peerId?: string }).peerId;
      if (peerId && !this.closed) this.emit('activespeaker', this.id, peerId);
    });
    this.observer = observer;
  }

  // ---- publish ---------------------------------------------------------------------------

  async publish(peerId: string, offer: string): Promise<{ answer: string; tracks: StageTrack[] }> {
    this.assertOpen();
    const parsed = parseSdp(offer);
    const part = this.primary;
    const offered: OfferedProducer[] = [];
    const reasons: string[] = [];
    for (const media of parsed.media) {
      const r = producerFromOffer(media, part.router.rtpCapabilities);
      if ('rejected' in r) reasons.push(`${media.mid ?? '?'}: ${r.rejected}`);
      else offered.push(r);
    }
    if (offered.length === 0) throw new InvalidSdpError(`offer has nothing to publish (${reasons.join('; ')})`);
    const dtlsParameters = remoteDtls(parsed, true);

    this.closePublisher(peerId, 'replaced');
    const transport = await part.router.createWebRtcTransport({
      webRtcServer: part.slot.webRtcServer,
      enableUdp: true,
      enableTcp: false,
      appData: { peerId, leg: 'publisher' },
    });
    // A concurrent publish for the same peer may have won meanwhile: this one replaces it.
    this.closePublisher(peerId, 'replaced');
    const leg: PublisherLeg = { peerId, transport, published: [], closed: false };
    this.publishers.set(peerId, leg);
    transport.on('dtlsstatechange', (state) => {
      if (state === 'failed' || state === 'closed') this.closePublisher(peerId, 'transport_failed', leg);
    });
    // ICE-lite: "disconnected" means the client's consent checks stopped (about 30 s).
    transport.on('icestatechange', (state) => {
      if (state === 'disconnected' || state === 'closed') this.closePublisher(peerId, 'transport_failed', leg);
    });
    closeIfNeverConnected(transport, () => this.closePublisher(peerId, 'transport_failed', leg));
    try {
      await transport.connect({ dtlsParameters });
      const accepted = new Map<string, { receive: OfferedProducer }>();
      for (const p of offered) {
        const producer = await transport.produce({ kind: p.kind, rtpParameters: p.rtpParameters, appData: { peerId } });
        const track: StageTrack = {
          trackId: producer.id,
          kind: p.kind,
          peerId,
          streamId: p.streamId ?? peerId,
          codec: codecName(p.rtpParameters.codecs[0]?.mimeType),
        };
        const pub: Published = { track, producer, live: false, announced: false };
        leg.published.push(pub);
        accepted.set(p.mid, { receive: p });
        this.watchProducer(leg, pub);
      }
      const answer = buildAnswer({ offer: parsed, local: local(transport), accepted, sessionId: sessionId() });
      return { answer, tracks: leg.published.map((p) => p.track) };
    } catch (err) {
      this.closePublisher(peerId, 'client_request', leg);
      throw err;
    }
  }

  /** A track goes live (trackpublished) when its first RTP packet arrives. */
  private watchProducer(leg: PublisherLeg, pub: Published): void {
    const { producer } = pub;
    const timer = setTimeout(() => {
      if (!pub.live && !leg.closed) log.warn({ room: this.id, peer: leg.peerId, track: pub.track.trackId }, 'no media from publisher yet');
    }, FIRST_MEDIA_TIMEOUT_MS);
    timer.unref();
    producer.on('trace', () => {
      if (pub.live || leg.closed) return;
      clearTimeout(timer);
      void producer.enableTraceEvent([]).catch(() => {});
      void this.goLive(leg, pub);
    });
    void producer.enableTraceEvent(['rtp']).catch(() => {});
    producer.on('transportclose', () => clearTimeout(timer));
  }

  private async goLive(leg: PublisherLeg, pub: Published): Promise<void> {
    if (this.closed || leg.closed || pub.live) return;
    pub.live = true;
    if (pub.track.kind === 'audio' && this.observer && !this.observer.closed) {
      await this.observer.addProducer({ producerId: pub.producer.id }).catch(() => {});
    }
    if (this.closed || leg.closed || pub.producer.closed) return;
    pub.announced = true;
    this.emit('trackpublished', this.id, pub.track);
    for (const sub of this.subscribers.values()) {
      if (sub.follows && sub.peerId !== pub.track.peerId) void this.addTrack(sub, pub).then((added) => added && this.renegotiate(sub));
    }
  }

  closePublisher(peerId: string, reason: CloseReason, only?: PublisherLeg): void {
    const leg = this.publishers.get(peerId);
    if (!leg || (only && leg !== only) || leg.closed) return;
    leg.closed = true;
    this.publishers.delete(peerId);
    for (const mirrorTrack of leg.published.map((p) => p.track.trackId)) this.stopMirror(mirrorTrack);
    leg.transport.close();
    for (const pub of leg.published) if (pub.announced) this.emit('trackunpublished', this.id, pub.track);
    if (reason !== 'client_request' && reason !== 'room_closed' && reason !== 'replaced') this.emit('legclosed', this.id, peerId, 'publisher', reason);
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

  // ---- subscribe (engine offers) -------------------------------------------------------------

  async subscribe(peerId: string): Promise<SubscriberOffer> {
    this.assertOpen();
    const leg = await this.newSubscriber(peerId, true);
    try {
      for (const pub of this.published) if (pub.live && pub.track.peerId !== peerId) await this.addTrack(leg, pub);
      return this.makeOffer(leg);
    } catch (err) {
      this.closeSubscriber(peerId, 'client_request', leg);
      throw err;
    }
  }

  async answerSubscriber(peerId: string, version: number, answer: string): Promise<void> {
    const leg = this.subscribers.get(peerId);
    if (!leg || !leg.follows) throw new InvalidStateError(`peer ${peerId} is not subscribed`);
    if (!leg.awaiting || leg.answering || version !== leg.version) {
      throw new InvalidStateError(`answer to offer ${version}, but offer ${leg.version} is the one outstanding`);
    }
    const { dtlsParameters, accepted } = parseAnswer(parseSdp(answer));
    // What this answer judges, fixed before any await: a newer offer may go out during the loop.
    const offered = leg.offeredMids;
    const judged = [...leg.consumers];
    leg.answering = true;
    try {
      if (!leg.connected) {
        await leg.transport.connect({ dtlsParameters });
        leg.connected = true;
      }
    } finally {
      leg.answering = false;
    }
    leg.awaiting = false;
    leg.answered = version;
    for (const [trackId, entry] of judged) {
      if (leg.consumers.get(trackId) !== entry) continue;
      // Added after the offer went out: the next offer carries it.
      if (!offered.has(entry.mid)) continue;
      if (!accepted.has(entry.mid)) {
        // The client refused this section (a codec it cannot decode): stop sending it.
        entry.consumer.close();
        this.dropConsumer(leg, trackId);
        continue;
      }
      if (!entry.resumed && !entry.consumer.closed) {
        entry.resumed = true;
        await entry.consumer.resume().catch(() => {});
      }
    }
    if (leg.dirty) this.renegotiate(leg);
  }

  // ---- subscribe (WHEP: the client offers) -------------------------------------------------------

  /**
   * WHEP: the receiver offers, the engine answers with the stage's current audio and video. The
   * consumers are made on a router with the receiver's own payload types (the primary when it
   * numbers codecs as the room does), carry NACK without rtx, and every forwarded header
   * extension the receiver offers, under mediasoup's ids, so the leg has a bandwidth estimate.
   */
  async subscribeWithOffer(peerId: string, offer: string): Promise<{ answer: string; tracks: StageTrack[] }> {
    this.assertOpen();
    const parsed = parseSdp(offer);
    const dtlsParameters = remoteDtls(parsed, true);
    const numbering = numberingFor(receiverNumbering(parsed, this.primary.router.rtpCapabilities));
    const leg = await this.newSubscriber(peerId, false, numbering);
    try {
      const caps = capabilitiesFromOffer(parsed, leg.part.router.rtpCapabilities);
      await leg.transport.connect({ dtlsParameters });
      leg.connected = true;
      const used = new Set<string>();
      const accepted = new Map<string, { send: SendSection }>();
      const tracks: StageTrack[] = [];
      const skipped: string[] = [];
      for (const media of parsed.media) {
        if ((media.kind !== 'audio' && media.kind !== 'video') || media.port === 0 || media.mid === undefined) continue;
        if (media.direction !== 'recvonly' && media.direction !== 'sendrecv') continue;
        const pub = this.published.find(
          (p) => p.live && p.track.kind === media.kind && p.track.peerId !== peerId && !used.has(p.track.trackId) && this.primary.router.canConsume({ producerId: p.producer.id, rtpCapabilities: caps }),
        );
        if (!pub) continue;
        const producerId = await this.ensurePiped(leg.part, pub);
        if (leg.closed) throw new InvalidStateError(`WHEP session of ${peerId} closed while it was being set up`);
        // enableRtx keeps plain NACK; the capabilities carry no rtx, so lost packets are resent as they were.
        const consumer = await leg.transport.consume({ producerId, rtpCapabilities: caps, paused: false, mid: media.mid, enableRtx: true });
        if (!offersPayloadType(media, consumer.rtpParameters.codecs[0]!)) {
          // Only when the section numbers a codec differently from the offer's other sections.
          consumer.close();
          skipped.push(`${media.mid}: this engine sends ${consumer.rtpParameters.codecs[0]!.mimeType} as payload type ${consumer.rtpParameters.codecs[0]!.payloadType}, a number this section does not give to that codec`);
          continue;
        }
        this.trackConsumer(leg, pub.track.trackId, consumer, media.mid, true);
        this.governIfBlind(leg, pub.track.trackId, consumer);
        used.add(pub.track.trackId);
        tracks.push(pub.track);
        accepted.set(media.mid, {
          send: { mid: media.mid, kind: pub.track.kind, rtpParameters: consumer.rtpParameters, streamId: pub.track.streamId, trackId: pub.track.trackId },
        });
      }
      if (skipped.length > 0) log.warn({ room: this.id, peer: peerId, skipped }, 'WHEP sections left unanswered');
      if (accepted.size === 0 && skipped.length > 0) throw new UnsupportedError(`cannot send to this offer: ${skipped.join('; ')}`);
      return { answer: buildAnswer({ offer: parsed, local: local(leg.transport), accepted, sessionId: leg.sessionId }), tracks };
    } catch (err) {
      this.closeSubscriber(peerId, 'client_request', leg);
      throw err;
    }
  }

  closeSubscriber(peerId: string, reason: CloseReason, only?: SubscriberLeg): void {
    const leg = this.subscribers.get(peerId);
    if (!leg || (only && leg !== only) || leg.closed) return;
    leg.closed = true;
    this.subscribers.delete(peerId);
    for (const trackId of [...leg.consumers.keys()]) this.dropConsumer(leg, trackId);
    leg.transport.close();
    if (reason !== 'client_request' && reason !== 'room_closed' && reason !== 'replaced') this.emit('legclosed', this.id, peerId, 'subscriber', reason);
  }

  async setSubscriberLayers(peerId: string, trackId: string, layers: PreferredLayers): Promise<void> {
    const entry = this.subscribers.get(peerId)?.consumers.get(trackId);
    if (!entry) throw new ServiceError('not_found', `peer ${peerId} does not receive track ${trackId}`);
    if (entry.consumer.type !== 'simulcast' && entry.consumer.type !== 'svc') {
      throw new InvalidStateError(`track ${trackId} is not simulcast; it has one layer`);
    }
    await entry.consumer.setPreferredLayers({ spatialLayer: layers.spatialLayer, ...(layers.temporalLayer !== undefined ? { temporalLayer: layers.temporalLayer } : {}) });
  }

  private async newSubscriber(peerId: string, follows: boolean, numbering?: Numbering): Promise<SubscriberLeg> {
    this.closeSubscriber(peerId, 'replaced');
    const part = await this.partForSubscriber(numbering);
    const transport = await part.router.createWebRtcTransport({
      webRtcServer: part.slot.webRtcServer,
      enableUdp: true,
      enableTcp: false,
      // The follower's offer carries a data channel so that ICE and DTLS come up before the stage has any track.
      enableSctp: follows,
      initialAvailableOutgoingBitrate: INITIAL_OUTGOING_BITRATE,
      appData: { peerId, leg: 'subscriber' },
    });
    const leg: SubscriberLeg = {
      peerId,
      part,
      transport,
      follows,
      sections: follows ? [{ type: 'data', mid: '0' }] : [],
      consumers: new Map(),
      version: 0,
      // Until subscribe() returns the first offer, changes wait for the answer to it.
      awaiting: follows,
      dirty: false,
      connected: false,
      nextMid: 1,
      closed: false,
      sessionId: sessionId(),
      offeredMids: new Set(),
      adding: new Set(),
      answering: false,
      answered: 0,
      closedIn: new Map(),
    };
    transport.on('dtlsstatechange', (state) => {
      if (state === 'failed' || state === 'closed') this.closeSubscriber(peerId, 'transport_failed', leg);
    });
    transport.on('icestatechange', (state) => {
      if (state === 'disconnected' || state === 'closed') this.closeSubscriber(peerId, 'transport_failed', leg);
    });
    closeIfNeverConnected(transport, () => this.closeSubscriber(peerId, 'transport_failed', leg));
    // A concurrent subscribe for the same peer may have won meanwhile: this one replaces it.
    this.closeSubscriber(peerId, 'replaced');
    this.subscribers.set(peerId, leg);
    return leg;
  }

  /** Adds `pub` to a following subscriber (paused until its answer). False when it cannot be sent. */
  private async addTrack(leg: SubscriberLeg, pub: Published): Promise<boolean> {
    const trackId = pub.track.trackId;
    if (leg.closed || leg.consumers.has(trackId) || leg.adding.has(trackId) || pub.producer.closed) return false;
    leg.adding.add(trackId);
    const caps: RtpCapabilities = leg.part.router.rtpCapabilities;
    try {
      const producerId = await this.ensurePiped(leg.part, pub);
      if (leg.closed || pub.producer.closed) return false;
      const mid = String(leg.nextMid++);
      const consumer = await leg.transport.consume({ producerId, rtpCapabilities: caps, paused: true, mid });
      if (leg.closed) {
        consumer.close();
        return false;
      }
      this.trackConsumer(leg, pub.track.trackId, consumer, mid, false);
      const section: OfferSection = {
        type: 'send',
        section: { mid, kind: pub.track.kind, rtpParameters: consumer.rtpParameters, streamId: pub.track.streamId, trackId: pub.track.trackId },
      };
      // Recycle the m-line of a departed track of the same kind once the client has answered its
      // closing (with a new mid, as JSEP asks), so a long session's SDP does not grow without end.
      const free = leg.sections.findIndex((s) => s.type === 'closed' && s.kind === pub.track.kind && (leg.closedIn.get(s.mid) ?? Infinity) <= leg.answered);
      if (free >= 0) {
        leg.closedIn.delete((leg.sections[free] as { mid: string }).mid);
        leg.sections[free] = section;
      } else {
        leg.sections.push(section);
      }
      return true;
    } catch (err) {
      log.warn({ room: this.id, peer: leg.peerId, track: pub.track.trackId, err: (err as Error).message }, 'could not add a track to a subscriber');
      return false;
    } finally {
      leg.adding.delete(trackId);
    }
  }

  /**
   * A layered consumer whose receiver gives no bandwidth estimate (its offer left mediasoup no
   * transport-cc or abs-send-time id to name) would get the top layer whatever its path holds:
   * its layers follow the receiver's loss and round-trip time instead (LayerGovernor).
   */
  private governIfBlind(leg: SubscriberLeg, trackId: string, consumer: Consumer): void {
    const entry = leg.consumers.get(trackId);
    if (!entry || consumer.kind !== 'video' || receiverEstimate(consumer.rtpParameters) !== undefined) return;
    const { spatial, temporal } = layerCounts(consumer.rtpParameters);
    if (spatial * temporal <= 1) return;
    entry.governor = new LayerGovernor(consumer, {
      onChange: (layers, why) =>
        log.info({ room: this.id, peer: leg.peerId, track: trackId, layers, loss: Number(why.loss.toFixed(3)), queueMs: Math.round(why.queueMs) }, `receiver without a bandwidth estimate: layer ${why.direction}`),
    });
  }

  private trackConsumer(leg: SubscriberLeg, trackId: string, consumer: Consumer, mid: string, resumed: boolean): void {
    leg.consumers.set(trackId, { consumer, mid, resumed });
    leg.part.consumers++;
    leg.part.slot.consumers++;
    consumer.on('producerclose', () => {
      this.dropConsumer(leg, trackId);
      if (leg.follows && !leg.closed) this.renegotiate(leg);
    });
  }

  private dropConsumer(leg: SubscriberLeg, trackId: string): void {
    const entry = leg.consumers.get(trackId);
    if (!entry) return;
    leg.consumers.delete(trackId);
    this.retiredPackets += this.packetCounts.get(entry.consumer.id) ?? 0;
    this.packetCounts.delete(entry.consumer.id);
    leg.part.consumers--;
    if (leg.part.slot.generation === leg.part.generation) leg.part.slot.consumers--;
    entry.governor?.close();
    entry.consumer.close();
    const index = leg.sections.findIndex((s) => s.type === 'send' && s.section.mid === entry.mid);
    const s = leg.sections[index];
    if (s?.type === 'send') {
      leg.sections[index] = { type: 'closed', mid: entry.mid, kind: s.section.kind, payloadType: s.section.rtpParameters.codecs[0]!.payloadType };
      // The next offer shows it closed (the outstanding one, if any, was built before).
      leg.closedIn.set(entry.mid, this.lastOfferVersion + 1);
    }
  }

  private makeOffer(leg: SubscriberLeg): SubscriberOffer {
    leg.version = ++this.lastOfferVersion;
    leg.awaiting = true;
    leg.dirty = false;
    leg.offeredMids = new Set([...leg.consumers.values()].map((c) => c.mid));
    const offer = buildOffer({ local: local(leg.transport), sections: leg.sections, sessionId: leg.sessionId, version: leg.version });
    const mids: Record<string, StageTrack> = {};
    for (const [trackId, entry] of leg.consumers) {
      const pub = this.published.find((p) => p.track.trackId === trackId);
      if (pub) mids[entry.mid] = pub.track;
    }
    return { offer, version: leg.version, mids };
  }

  /** One offer in flight per subscriber: a change during it is offered after its answer. */
  private renegotiate(leg: SubscriberLeg): void {
    if (leg.closed || !leg.follows) return;
    if (leg.awaiting) {
      leg.dirty = true;
      return;
    }
    this.emit('subscriberoffer', this.id, leg.peerId, this.makeOffer(leg));
  }

  // ---- routers and pipes ------------------------------------------------------------------------

  /**
   * Where a new subscriber goes. With the room's own payload types: the first of the room's
   * routers with room for the stage's tracks within the per-worker consumer budget, else a new
   * router on the least loaded worker the room does not use yet (fed through pipeToRouter), else
   * the least loaded of its routers. With a receiver's numbering: a router of that numbering
   * within the budget, else a new one on the least loaded worker.
   */
  private async partForSubscriber(numbering?: Numbering): Promise<RouterPart> {
    // Throws 503 while the room has no router (its worker died and the rebuild is not done).
    void this.primary;
    const key = numbering?.key ?? '';
    const needed = Math.max(1, this.published.length);
    const budget = this.opts.consumersPerWorker;
    const same = this.parts.filter((p) => p.numbering === key);
    const fits = same.find((p) => p.consumers + needed <= budget);
    if (fits) return fits;
    const slot = numbering
      ? (this.pool.leastLoaded(new Set(same.map((p) => p.slot))) ?? this.pool.leastLoaded())
      : this.pool.leastLoaded(new Set(this.parts.map((p) => p.slot)));
    if (slot) {
      const router = await slot.worker.createRouter({ mediaCodecs: numbering?.codecs ?? MEDIA_CODECS, appData: { roomId: this.id, piped: true, ...(numbering ? { numbering: key } : {}) } });
      slot.routers++;
      if (this.closed || this.parts.length === 0) {
        // Closed, or lost its primary to a dying worker, while the router was being made.
        router.close();
        slot.routers--;
        throw new ServiceError('engine_error', `room ${this.id} is being rebuilt or closed`, 503);
      }
      const part: RouterPart = { slot, generation: slot.generation, router, numbering: key, consumers: 0, piped: new Map() };
      this.parts.push(part);
      if (numbering) log.info({ room: this.id, worker: slot.index, numbering: key }, 'router for a receiver that numbers codecs its own way, fed by pipeToRouter');
      else log.info({ room: this.id, worker: slot.index, routers: this.parts.length }, 'room outgrew its worker budget; new router fed by pipeToRouter');
      return part;
    }
    return same.reduce((a, b) => (b.consumers < a.consumers ? b : a));
  }

  /**
   * Pipes `pub` into `part` once and gives the producer id to consume there; concurrent callers
   * wait for the same pipe. Pipe producers get ids of their own: a part may share its worker
   * with the primary, and one worker refuses two producers with one id.
   */
  private ensurePiped(part: RouterPart, pub: Published): Promise<string> {
    if (part === this.primary) return Promise.resolve(pub.producer.id);
    const producerId = pub.producer.id;
    let piping = part.piped.get(producerId);
    if (!piping) {
      const { min, max } = this.pool.transportPortRange;
      piping = this.primary.router
        .pipeToRouter({
          producerId,
          router: part.router,
          keepId: false,
          listenInfo: { protocol: 'udp', ip: '127.0.0.1', portRange: { min, max } },
        })
        .then(({ pipeProducer }) => pipeProducer!.id);
      part.piped.set(producerId, piping);
      piping.catch(() => part.piped.delete(producerId));
      pub.producer.observer.once('close', () => part.piped.delete(producerId));
    }
    return piping;
  }

  // ---- mirror ---------------------------------------------------------------------------

  /**
   * Mirrors a track to `target`. Mirroring again to the same target keeps the running mirror and
   * only asks for a keyframe: a new consumer would start at a random sequence number, and a
   * receiver still listening there (ffmpeg) drops every packet that looks older than the last
   * one it saw, for minutes. A different target gets a new PlainTransport (one connect each),
   * whose packets reach a new socket, so no receiver ever sees the numbering jump.
   */
  async mirrorTrack(trackId: string, target: MirrorTarget): Promise<MirrorInfo> {
    const pub = this.findPublished(trackId);
    const running = this.mirrors.get(trackId);
    if (running && !running.consumer.closed && sameTarget(running.target, target)) {
      if (running.consumer.kind === 'video') await running.consumer.requestKeyFrame().catch(() => {});
      return running.info;
    }
    this.stopMirror(trackId);
    const loopback = target.ip === '127.0.0.1' || target.ip === '::1';
    const ip = loopback ? target.ip : this.opts.listenIp;
    const { min, max } = this.pool.transportPortRange;
    const transport = await this.primary.router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip, portRange: { min, max } },
      rtcpMux: false,
      comedia: false,
      appData: { mirror: trackId },
    });
    try {
      await transport.connect({ ip: target.ip, port: target.rtpPort, rtcpPort: target.rtcpPort });
      // No header extensions: the reader (ffmpeg) needs none.
      const caps: RtpCapabilities = { codecs: this.primary.router.rtpCapabilities.codecs ?? [], headerExtensions: [] };
      const consumer = await transport.consume({ producerId: pub.producer.id, rtpCapabilities: caps, paused: false, enableRtx: false });
      const c = consumer.rtpParameters.codecs[0]!;
      const fmtp = formatFmtp(c.parameters);
      const info: MirrorInfo = {
        sdp: mirrorSdp(pub.track, { payloadType: c.payloadType, name: codecName(c.mimeType), clockRate: c.clockRate, channels: c.channels, fmtp }, target),
        track: pub.track,
      };
      // A concurrent mirrorTrack for this track may have finished meanwhile: the later one wins.
      this.stopMirror(trackId);
      const mirror: Mirror = { transport, consumer, target: { ...target }, info };
      this.mirrors.set(trackId, mirror);
      consumer.on('producerclose', () => {
        if (this.mirrors.get(trackId) === mirror) this.stopMirror(trackId);
      });
      if (consumer.kind === 'video') await consumer.requestKeyFrame().catch(() => {});
      return info;
    } catch (err) {
      transport.close();
      throw err;
    }
  }

  stopMirror(trackId: string): void {
    const mirror = this.mirrors.get(trackId);
    if (!mirror) return;
    this.mirrors.delete(trackId);
    mirror.transport.close();
  }

  async requestKeyFrame(trackId: string): Promise<void> {
    const pub = this.findPublished(trackId);
    if (pub.track.kind !== 'video') return;
    const mirror = this.mirrors.get(trackId);
    // A consumer's key frame request reaches the producer (and is throttled by mediasoup).
    if (mirror) await mirror.consumer.requestKeyFrame();
    else {
      const any = [...this.subscribers.values()].map((s) => s.consumers.get(trackId)?.consumer).find((c) => c && !c.closed);
      if (any) await any.requestKeyFrame();
    }
  }

  // ---- stats, worker death and closing ------------------------------------------------------------

  async packetsForwarded(): Promise<number> {
    for (const leg of this.subscribers.values()) {
      for (const { consumer } of leg.consumers.values()) {
        if (consumer.closed) continue;
        try {
          const stats = await consumer.getStats();
          const out = stats.find((s) => s.type === 'outbound-rtp') as { packetCount?: number } | undefined;
          if (out?.packetCount !== undefined && !consumer.closed) this.packetCounts.set(consumer.id, out.packetCount);
        } catch {
          // closed meanwhile
        }
      }
    }
    let total = this.retiredPackets;
    for (const n of this.packetCounts.values()) total += n;
    return total;
  }

  /**
   * The slot's worker just died; its routers and transports are already closed. If the room's
   * primary router was on it, every leg and track is gone: legs close with `engine_died` so
   * clients reconnect, and the room gets a new primary router on a live worker (now, or when
   * the slot's replacement is up: `ensureRouter`). If only a piped router was on it, only the
   * subscribers there go.
   */
  async onWorkerDied(slot: WorkerSlot): Promise<void> {
    if (this.closed) return;
    const dead = this.parts.filter((p) => p.slot === slot && p.generation !== slot.generation);
    if (dead.length === 0) return;
    if (dead.includes(this.parts[0]!)) {
      log.warn({ room: this.id, worker: slot.index }, 'room lost its router with its worker; rebuilding it');
      // Forget the routers first, so that closing piped routers' consumers renegotiates nothing.
      const others = this.parts.filter((p) => !dead.includes(p));
      this.parts = [];
      this.observer = undefined;
      for (const peerId of [...this.subscribers.keys()]) this.closeSubscriber(peerId, 'engine_died');
      for (const peerId of [...this.publishers.keys()]) this.closePublisher(peerId, 'engine_died');
      for (const trackId of [...this.mirrors.keys()]) this.stopMirror(trackId);
      for (const p of others) {
        p.router.close();
        p.slot.routers--;
      }
      await this.ensureRouter();
      return;
    }
    for (const [peerId, leg] of [...this.subscribers]) if (dead.includes(leg.part)) this.closeSubscriber(peerId, 'engine_died', leg);
    this.parts = this.parts.filter((p) => !dead.includes(p));
  }

  /** Gives the room a primary router again if it lost it and a worker is running. */
  async ensureRouter(): Promise<void> {
    if (this.closed || this.parts.length > 0 || !this.pool.leastLoaded() || this.rebuilding) return;
    this.rebuilding = true;
    try {
      await this.buildPrimary();
    } finally {
      this.rebuilding = false;
    }
  }

  close(reason: CloseReason): void {
    if (this.closed) return;
    for (const peerId of [...this.subscribers.keys()]) this.closeSubscriber(peerId, reason);
    for (const peerId of [...this.publishers.keys()]) this.closePublisher(peerId, reason);
    this.closed = true;
    for (const p of this.parts) {
      p.router.close();
      if (p.slot.generation === p.generation) p.slot.routers--;
    }
    this.parts = [];
  }

  private assertOpen(): void {
    if (this.closed) throw new InvalidStateError(`room ${this.id} is closed`);
  }
}
