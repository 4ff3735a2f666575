import type { Consumer, PlainTransport, RtpCapabilities } from 'mediasoup/types';
import { EnhancedEventEmitter } from '../../core/EnhancedEventEmitter.ts';
import type { CloseReason, MirrorInfo, MirrorTarget } from '../EngineTypes.ts';
import { mirrorSdp } from '../mirrorSdp.ts';
import type { Published } from './PublisherLeg.ts';
import type { RouterSet } from './RouterSet.ts';
import { formatFmtp } from './sdp.ts';
import { codecName } from './sdpCodecs.ts';

/** Why a mirror closed: a leg's reasons, or its track ended (the producer closed). */
export type MirrorCloseReason = CloseReason | 'track_ended';

export type MirrorLegEvents = {
  /** The mirror closed, and with it its transport and consumer. Emitted once. */
  close: [MirrorCloseReason];
};

/**
 * One stage track mirrored as plain RTP to a target (the broadcast's ffmpeg): a PlainTransport on
 * the room's primary router, connected to the target, and a consumer of the track's producer
 * without header extensions or rtx. It closes itself when the track ends.
 *
 * A mirror serves one target for its whole life: a new consumer would start at a random
 * sequence number, and a receiver still listening there drops every packet that looks older
 * than the last one it saw, for minutes. So mirroring again to the same target keeps this mirror
 * (`serves`, then a keyframe), and a different target gets a new mirror, whose packets reach a
 * new socket.
 */
export class MirrorLeg extends EnhancedEventEmitter<MirrorLegEvents> {
  readonly info: MirrorInfo;
  private readonly transport: PlainTransport;
  private readonly consumer: Consumer;
  private readonly target: MirrorTarget;
  #closed = false;

  private constructor(transport: PlainTransport, consumer: Consumer, target: MirrorTarget, info: MirrorInfo) {
    super();
    this.transport = transport;
    this.consumer = consumer;
    this.target = { ...target };
    this.info = info;
    consumer.on('producerclose', () => this.close('track_ended'));
  }

  /**
   * Starts mirroring `pub` to `target`. The transport listens on the target's loopback address
   * when the target is local, else on `listenIp`, with a port of `portRange`.
   */
  static async create(opts: { routers: RouterSet; pub: Published; target: MirrorTarget; listenIp: string; portRange: { min: number; max: number } }): Promise<MirrorLeg> {
    const { routers, pub, target } = opts;
    const loopback = target.ip === '127.0.0.1' || target.ip === '::1';
    const ip = loopback ? target.ip : opts.listenIp;
    const transport = await routers.primary.router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip, portRange: { ...opts.portRange } },
      rtcpMux: false,
      comedia: false,
      appData: { mirror: pub.track.trackId },
    });
    try {
      await transport.connect({ ip: target.ip, port: target.rtpPort, rtcpPort: target.rtcpPort });
      // No header extensions: the reader (ffmpeg) needs none.
      const caps: RtpCapabilities = { codecs: routers.primary.router.rtpCapabilities.codecs ?? [], headerExtensions: [] };
      const consumer = await transport.consume({ producerId: pub.producer.id, rtpCapabilities: caps, paused: false, enableRtx: false });
      const c = consumer.rtpParameters.codecs[0]!;
      const fmtp = formatFmtp(c.parameters);
      const info: MirrorInfo = {
        sdp: mirrorSdp(pub.track, { payloadType: c.payloadType, name: codecName(c.mimeType), clockRate: c.clockRate, channels: c.channels, fmtp }, target),
        track: pub.track,
      };
      return new MirrorLeg(transport, consumer, target, info);
    } catch (err) {
      transport.close();
      throw err;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Still running, to this very target: mirroring there again keeps it. */
  serves(target: MirrorTarget): boolean {
    return !this.#closed && !this.consumer.closed && this.target.ip === target.ip && this.target.rtpPort === target.rtpPort && this.target.rtcpPort === target.rtcpPort;
  }

  /** Asks the publisher for a keyframe through this mirror's consumer (throttled by mediasoup). */
  requestKeyFrame(): Promise<void> {
    return this.consumer.requestKeyFrame();
  }

  /** A keyframe for a (re)starting reader, when the track is video; failures are ignored. */
  async refresh(): Promise<void> {
    if (this.consumer.kind === 'video') await this.consumer.requestKeyFrame().catch(() => {});
  }

  /** Closes the transport and its consumer. Idempotent. */
  close(reason: MirrorCloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.transport.close();
    this.safeEmit('close', reason);
  }
}
