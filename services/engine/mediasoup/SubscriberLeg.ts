import type { Consumer, DtlsParameters, RtpCapabilities, WebRtcTransport } from 'mediasoup/types';
import { EnhancedEventEmitter } from '../../core/EnhancedEventEmitter.ts';
import { InvalidStateError, UnsupportedError } from '../../core/errors.ts';
import { logger } from '../../core/logger.ts';
import type { CloseReason, StageTrack, SubscriberOffer } from '../EngineTypes.ts';
import type { ForwardedPackets } from './ForwardedPackets.ts';
import { LayerGovernor, layerCounts } from './LayerGovernor.ts';
import { createLegTransport, localTransport, newSessionId, watchLegTransport } from './legTransport.ts';
import type { Published } from './PublisherLeg.ts';
import type { Numbering, RouterPart, RouterSet } from './RouterSet.ts';
import { parseSdp, type ParsedSdp } from './sdp.ts';
import { buildOffer, parseAnswer, type OfferSection } from './sdpSubscribe.ts';
import { capabilitiesFromOffer, offersPayloadType, receiverEstimate } from './sdpWhep.ts';
import { buildAnswer, type SendSection } from './sdpWriter.ts';

const log = logger.child({ mod: 'engine.mediasoup' });

/** Bitrate the engine assumes towards a new subscriber before its estimate exists. */
const INITIAL_OUTGOING_BITRATE = 1_000_000;

/** What a subscriber leg uses of its room. */
export interface SubscriberContext {
  readonly roomId: string;
  readonly routers: RouterSet;
  readonly packets: ForwardedPackets;
  /**
   * The last offer version handed out in the room. Versions are unique in the room, so an answer
   * to a replaced leg's offer can never match its successor's.
   */
  readonly offers: { last: number };
  /** The room's published tracks, live and not yet live. */
  published(): Published[];
  /** A leg whose ICE has not connected this long after its creation closes with `ice_timeout`, ms. */
  readonly iceConnectTimeoutMs: number;
}

export type SubscriberLegEvents = {
  /** A new offer for the client, because the stage changed (engine-offer legs only). */
  offer: [SubscriberOffer];
  /** The leg closed, and with it its transport and every consumer. Emitted once. */
  close: [CloseReason];
};

interface ConsumerEntry {
  consumer: Consumer;
  mid: string;
  resumed: boolean;
  /** Chooses layers from receiver reports where the receiver gives no bandwidth estimate (WHEP). */
  governor?: LayerGovernor;
}

/**
 * One receiving client: a WebRtcTransport on one of the room's routers, and a consumer per stage
 * track it receives. Two modes:
 * - engine-offer (`follows`): follows the stage. The engine offers, one offer in flight at a
 *   time: a change while an offer is outstanding is offered after its answer. A departed track's
 *   m-line goes inactive and is reused, with a new mid, once the client has answered its closing.
 * - client-offer (WHEP, `answerOffer`): fills each offered audio/video m-line with one stage
 *   track of its kind, once.
 */
export class SubscriberLeg extends EnhancedEventEmitter<SubscriberLegEvents> {
  readonly peerId: string;
  /** Engine-offer leg that follows the stage (false: WHEP, fixed at its offer). */
  readonly follows: boolean;
  readonly part: RouterPart;
  private readonly ctx: SubscriberContext;
  private readonly transport: WebRtcTransport;
  private readonly sessionId = newSessionId();
  private readonly sections: OfferSection[];
  /** Track id → its consumer here. */
  private readonly entries = new Map<string, ConsumerEntry>();
  private version = 0;
  /** An offer is outstanding. Until the first offer is out, changes wait for its answer too. */
  private awaiting: boolean;
  /** The stage changed while an offer was outstanding. */
  private dirty = false;
  private connected = false;
  private nextMid = 1;
  #closed = false;
  /** Mids with a track in the outstanding offer: only these are judged by its answer. */
  private offeredMids = new Set<string>();
  /** Tracks being added right now, so that two paths cannot add one track twice. */
  private readonly adding = new Set<string>();
  /** An answer is being applied (its DTLS connect is in flight). */
  private answering = false;
  /** Version of the last offer whose answer was applied. */
  private answered = 0;
  /** mid of a closed section → version of the first offer that showed it closed. */
  private readonly closedIn = new Map<string, number>();

  private constructor(ctx: SubscriberContext, peerId: string, follows: boolean, part: RouterPart, transport: WebRtcTransport) {
    super();
    this.ctx = ctx;
    this.peerId = peerId;
    this.follows = follows;
    this.part = part;
    this.transport = transport;
    this.sections = follows ? [{ type: 'data', mid: '0' }] : [];
    this.awaiting = follows;
    watchLegTransport(transport, ctx.iceConnectTimeoutMs, (reason) => this.close(reason));
  }

  /** A leg on the router the room's RouterSet picks for it (`numbering`: a WHEP receiver's). */
  static async create(ctx: SubscriberContext, peerId: string, follows: boolean, numbering?: Numbering): Promise<SubscriberLeg> {
    const part = await ctx.routers.partFor(numbering, Math.max(1, ctx.published().length));
    const transport = await createLegTransport(part, {
      // The follower's offer carries a data channel so that ICE and DTLS come up before the stage has any track.
      enableSctp: follows,
      initialAvailableOutgoingBitrate: INITIAL_OUTGOING_BITRATE,
      appData: { peerId, leg: 'subscriber' },
    });
    return new SubscriberLeg(ctx, peerId, follows, part, transport);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The consumer sending `trackId` to this client, if any. */
  consumer(trackId: string): Consumer | undefined {
    return this.entries.get(trackId)?.consumer;
  }

  /** The leg's consumers, read as the iteration goes (consumers dropped meanwhile are left out). */
  *consumers(): Generator<Consumer> {
    for (const entry of this.entries.values()) yield entry.consumer;
  }

  /** A track just went live on the stage: a following leg adds it and offers it. */
  follow(pub: Published): void {
    if (!this.follows || this.peerId === pub.track.peerId) return;
    void this.addTrack(pub).then((added) => added && this.renegotiate());
  }

  /** Adds `pub` to a following leg (paused until its answer). False when it cannot be sent. */
  async addTrack(pub: Published): Promise<boolean> {
    const trackId = pub.track.trackId;
    if (this.#closed || this.entries.has(trackId) || this.adding.has(trackId) || pub.producer.closed) return false;
    this.adding.add(trackId);
    const caps: RtpCapabilities = this.part.router.rtpCapabilities;
    try {
      const producerId = await this.ctx.routers.pipe(this.part, pub.producer);
      if (this.#closed || pub.producer.closed) return false;
      const mid = String(this.nextMid++);
      const consumer = await this.transport.consume({ producerId, rtpCapabilities: caps, paused: true, mid });
      if (this.#closed) {
        consumer.close();
        return false;
      }
      this.trackConsumer(pub.track.trackId, consumer, mid, false);
      const section: OfferSection = { type: 'send', section: sendSection(mid, pub.track, consumer) };
      // Recycle the m-line of a departed track of the same kind once the client has answered its
      // closing (with a new mid, as JSEP asks), so a long session's SDP does not grow without end.
      const free = this.sections.findIndex((s) => s.type === 'closed' && s.kind === pub.track.kind && (this.closedIn.get(s.mid) ?? Infinity) <= this.answered);
      if (free >= 0) {
        this.closedIn.delete((this.sections[free] as { mid: string }).mid);
        this.sections[free] = section;
      } else {
        this.sections.push(section);
      }
      return true;
    } catch (err) {
      log.warn({ room: this.ctx.roomId, peer: this.peerId, track: pub.track.trackId, err: (err as Error).message }, 'could not add a track to a subscriber');
      return false;
    } finally {
      this.adding.delete(trackId);
    }
  }

  /** The next offer to the client, carrying every section so far; it is outstanding until answered. */
  offer(): SubscriberOffer {
    this.version = ++this.ctx.offers.last;
    this.awaiting = true;
    this.dirty = false;
    this.offeredMids = new Set([...this.entries.values()].map((c) => c.mid));
    const offer = buildOffer({ local: localTransport(this.transport), sections: this.sections, sessionId: this.sessionId, version: this.version });
    const mids: Record<string, StageTrack> = {};
    const published = this.ctx.published();
    for (const [trackId, entry] of this.entries) {
      const pub = published.find((p) => p.track.trackId === trackId);
      if (pub) mids[entry.mid] = pub.track;
    }
    return { offer, version: this.version, mids };
  }

  /**
   * Applies the client's answer to offer `version`: connects DTLS on the first, resumes the
   * consumers it accepted, and drops the ones it refused. A change made meanwhile is offered next.
   */
  async applyAnswer(version: number, answer: string): Promise<void> {
    if (!this.awaiting || this.answering || version !== this.version) {
      throw new InvalidStateError(`answer to offer ${version}, but offer ${this.version} is the one outstanding`);
    }
    const { dtlsParameters, accepted } = parseAnswer(parseSdp(answer));
    // What this answer judges, fixed before any await: a newer offer may go out during the loop.
    const offered = this.offeredMids;
    const judged = [...this.entries];
    this.answering = true;
    try {
      if (!this.connected) {
        await this.transport.connect({ dtlsParameters });
        this.connected = true;
      }
    } finally {
      this.answering = false;
    }
    this.awaiting = false;
    this.answered = version;
    for (const [trackId, entry] of judged) {
      if (this.entries.get(trackId) !== entry) continue;
      // Added after the offer went out: the next offer carries it.
      if (!offered.has(entry.mid)) continue;
      if (!accepted.has(entry.mid)) {
        // The client refused this section (a codec it cannot decode): stop sending it.
        entry.consumer.close();
        this.dropConsumer(trackId);
        continue;
      }
      if (!entry.resumed && !entry.consumer.closed) {
        entry.resumed = true;
        await entry.consumer.resume().catch(() => {});
      }
    }
    if (this.dirty) this.renegotiate();
  }

  /**
   * WHEP: the answer to the receiver's own offer, with the stage's current audio and video. The
   * consumers are made on this leg's router (numbered the receiver's way), carry NACK without
   * rtx, and every forwarded header extension the receiver offers, under mediasoup's ids, so the
   * leg has a bandwidth estimate.
   */
  async answerOffer(offer: ParsedSdp, dtlsParameters: DtlsParameters): Promise<{ answer: string; tracks: StageTrack[] }> {
    const caps = capabilitiesFromOffer(offer, this.part.router.rtpCapabilities);
    await this.transport.connect({ dtlsParameters });
    this.connected = true;
    const used = new Set<string>();
    const accepted = new Map<string, { send: SendSection }>();
    const tracks: StageTrack[] = [];
    const skipped: string[] = [];
    for (const media of offer.media) {
      if ((media.kind !== 'audio' && media.kind !== 'video') || media.port === 0 || media.mid === undefined) continue;
      if (media.direction !== 'recvonly' && media.direction !== 'sendrecv') continue;
      const pub = this.ctx.published().find(
        (p) =>
          p.live &&
          p.track.kind === media.kind &&
          p.track.peerId !== this.peerId &&
          !used.has(p.track.trackId) &&
          this.ctx.routers.primary.router.canConsume({ producerId: p.producer.id, rtpCapabilities: caps }),
      );
      if (!pub) continue;
      const producerId = await this.ctx.routers.pipe(this.part, pub.producer);
      if (this.#closed) throw new InvalidStateError(`WHEP session of ${this.peerId} closed while it was being set up`);
      // enableRtx keeps plain NACK; the capabilities carry no rtx, so lost packets are resent as they were.
      const consumer = await this.transport.consume({ producerId, rtpCapabilities: caps, paused: false, mid: media.mid, enableRtx: true });
      const codec = consumer.rtpParameters.codecs[0]!;
      if (!offersPayloadType(media, codec)) {
        // Only when the section numbers a codec differently from the offer's other sections.
        consumer.close();
        skipped.push(`${media.mid}: this engine sends ${codec.mimeType} as payload type ${codec.payloadType}, a number this section does not give to that codec`);
        continue;
      }
      this.trackConsumer(pub.track.trackId, consumer, media.mid, true);
      this.governIfBlind(pub.track.trackId, consumer);
      used.add(pub.track.trackId);
      tracks.push(pub.track);
      accepted.set(media.mid, { send: sendSection(media.mid, pub.track, consumer) });
    }
    if (skipped.length > 0) log.warn({ room: this.ctx.roomId, peer: this.peerId, skipped }, 'WHEP sections left unanswered');
    if (accepted.size === 0 && skipped.length > 0) throw new UnsupportedError(`cannot send to this offer: ${skipped.join('; ')}`);
    return { answer: buildAnswer({ offer, local: localTransport(this.transport), accepted, sessionId: this.sessionId }), tracks };
  }

  /** Closes every consumer and the transport. Idempotent. */
  close(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const trackId of [...this.entries.keys()]) this.dropConsumer(trackId);
    this.transport.close();
    this.safeEmit('close', reason);
  }

  /** One offer in flight: a change during it is offered after its answer. */
  private renegotiate(): void {
    if (this.#closed || !this.follows) return;
    if (this.awaiting) {
      this.dirty = true;
      return;
    }
    this.safeEmit('offer', this.offer());
  }

  private trackConsumer(trackId: string, consumer: Consumer, mid: string, resumed: boolean): void {
    this.entries.set(trackId, { consumer, mid, resumed });
    this.ctx.routers.consumerAdded(this.part);
    consumer.on('producerclose', () => {
      this.dropConsumer(trackId);
      if (this.follows && !this.#closed) this.renegotiate();
    });
  }

  private dropConsumer(trackId: string): void {
    const entry = this.entries.get(trackId);
    if (!entry) return;
    this.entries.delete(trackId);
    this.ctx.packets.retire(entry.consumer.id);
    this.ctx.routers.consumerRemoved(this.part);
    entry.governor?.close();
    entry.consumer.close();
    const index = this.sections.findIndex((s) => s.type === 'send' && s.section.mid === entry.mid);
    const s = this.sections[index];
    if (s?.type === 'send') {
      this.sections[index] = { type: 'closed', mid: entry.mid, kind: s.section.kind, payloadType: s.section.rtpParameters.codecs[0]!.payloadType };
      // The next offer shows it closed (the outstanding one, if any, was built before).
      this.closedIn.set(entry.mid, this.ctx.offers.last + 1);
    }
  }

  /**
   * A layered consumer whose receiver gives no bandwidth estimate (its offer left mediasoup no
   * transport-cc or abs-send-time id to name) would get the top layer whatever its path holds:
   * its layers follow the receiver's loss and round-trip time instead (LayerGovernor).
   */
  private governIfBlind(trackId: string, consumer: Consumer): void {
    const entry = this.entries.get(trackId);
    if (!entry || consumer.kind !== 'video' || receiverEstimate(consumer.rtpParameters) !== undefined) return;
    const { spatial, temporal } = layerCounts(consumer.rtpParameters);
    if (spatial * temporal <= 1) return;
    entry.governor = new LayerGovernor(consumer, {
      onChange: (layers, why) =>
        log.info(
          { room: this.ctx.roomId, peer: this.peerId, track: trackId, layers, loss: Number(why.loss.toFixed(3)), queueMs: Math.round(why.queueMs) },
          `receiver without a bandwidth estimate: layer ${why.direction}`,
        ),
    });
  }
}

/** What the leg sends on section `mid`: `track` through `consumer`. */
function sendSection(mid: string, track: StageTrack, consumer: Consumer): SendSection {
  return { mid, kind: track.kind, rtpParameters: consumer.rtpParameters, streamId: track.streamId, trackId: track.trackId };
}
