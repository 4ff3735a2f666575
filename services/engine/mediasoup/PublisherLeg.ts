import type { DtlsParameters, Producer, WebRtcTransport } from 'mediasoup/types';
import { EnhancedEventEmitter } from '../../core/EnhancedEventEmitter.ts';
import { logger } from '../../core/logger.ts';
import { streamIdFor, type CloseReason, type StageTrack, type TrackSource } from '../EngineTypes.ts';
import { createLegTransport, localTransport, newSessionId, watchLegTransport } from './legTransport.ts';
import type { RouterPart } from './RouterSet.ts';
import type { ParsedSdp } from './sdp.ts';
import { codecName } from './sdpCodecs.ts';
import type { OfferedProducer } from './sdpPublish.ts';
import { buildAnswer } from './sdpWriter.ts';

const log = logger.child({ mod: 'engine.mediasoup' });

/** How long a new publisher may go without media before a warning is logged (ms). */
const FIRST_MEDIA_TIMEOUT_MS = 30_000;

/** One track a publisher sends: its producer on the room's primary router. */
export interface Published {
  track: StageTrack;
  producer: Producer;
  /** Its first RTP packet arrived. */
  live: boolean;
  /** trackpublished went out, so trackunpublished must follow. */
  announced: boolean;
}

export type PublisherLegEvents = {
  /** A track's first RTP packet arrived (`live` is now true). */
  live: [Published];
  /** The leg closed, and with its transport every producer of it. Emitted once. */
  close: [CloseReason];
};

/**
 * One publishing client (browser studio or WHIP): the client offers, this leg answers with a
 * WebRtcTransport on the room's primary router and a producer for each offered track. Closing
 * the leg closes the transport and so its producers, and every consumer of them learns it from
 * mediasoup (`producerclose`).
 */
export class PublisherLeg extends EnhancedEventEmitter<PublisherLegEvents> {
  readonly peerId: string;
  readonly published: Published[] = [];
  private readonly roomId: string;
  private readonly transport: WebRtcTransport;
  #closed = false;

  private constructor(roomId: string, peerId: string, transport: WebRtcTransport, iceConnectTimeoutMs: number) {
    super();
    this.roomId = roomId;
    this.peerId = peerId;
    this.transport = transport;
    watchLegTransport(transport, iceConnectTimeoutMs, (reason) => this.close(reason));
  }

  /**
   * A leg with its transport on `part` (the room's primary), before any track. Its ICE must
   * connect within `iceConnectTimeoutMs`, or it closes with `ice_timeout`.
   */
  static async create(roomId: string, peerId: string, part: RouterPart, iceConnectTimeoutMs: number): Promise<PublisherLeg> {
    const transport = await createLegTransport(part, { appData: { peerId, leg: 'publisher' } });
    return new PublisherLeg(roomId, peerId, transport, iceConnectTimeoutMs);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Connects to the client and produces `offered`; the answer to `offer` and the tracks it carries. */
  async produce(
    offer: ParsedSdp,
    dtlsParameters: DtlsParameters,
    offered: OfferedProducer[],
    sources: Record<string, TrackSource> = {},
  ): Promise<{ answer: string; tracks: StageTrack[] }> {
    await this.transport.connect({ dtlsParameters });
    const accepted = new Map<string, { receive: OfferedProducer }>();
    for (const p of offered) {
      const producer = await this.transport.produce({ kind: p.kind, rtpParameters: p.rtpParameters, appData: { peerId: this.peerId } });
      const source = sources[p.mid];
      const track: StageTrack = {
        trackId: producer.id,
        kind: p.kind,
        peerId: this.peerId,
        streamId: streamIdFor(this.peerId, source, p.streamId),
        codec: codecName(p.rtpParameters.codecs[0]?.mimeType),
        ...(source === 'screen' ? { source } : {}),
      };
      const pub: Published = { track, producer, live: false, announced: false };
      this.published.push(pub);
      accepted.set(p.mid, { receive: p });
      this.watchProducer(pub);
    }
    const answer = buildAnswer({ offer, local: localTransport(this.transport), accepted, sessionId: newSessionId() });
    return { answer, tracks: this.published.map((p) => p.track) };
  }

  /** Closes the transport and with it every producer. Idempotent. */
  close(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.transport.close();
    this.safeEmit('close', reason);
  }

  /** A track goes live when its first RTP packet arrives. */
  private watchProducer(pub: Published): void {
    const { producer } = pub;
    const timer = setTimeout(() => {
      if (!pub.live && !this.#closed) log.warn({ room: this.roomId, peer: this.peerId, track: pub.track.trackId }, 'no media from publisher yet');
    }, FIRST_MEDIA_TIMEOUT_MS);
    timer.unref();
    producer.on('trace', () => {
      if (pub.live || this.#closed) return;
      clearTimeout(timer);
      void producer.enableTraceEvent([]).catch(() => {});
      pub.live = true;
      this.safeEmit('live', pub);
    });
    void producer.enableTraceEvent(['rtp']).catch(() => {});
    producer.on('transportclose', () => clearTimeout(timer));
  }
}
