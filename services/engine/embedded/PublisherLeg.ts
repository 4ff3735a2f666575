import {
  ReceiverEstimatedMaxBitrate,
  RTCPeerConnection,
  RtcpPayloadSpecificFeedback,
  type MediaStreamTrack,
  type RTCRtpTransceiver,
} from 'werift';
import { EnhancedEventEmitter } from '../../core/EnhancedEventEmitter.ts';
import { InvalidSdpError } from '../../core/errors.ts';
import { logger } from '../../core/logger.ts';
import { streamIdFor, type CloseReason, type EngineOptions, type MediaKind, type TrackSource } from '../EngineTypes.ts';
import { inspectSdp } from '../sdp.ts';
import { gatheringComplete } from './gather.ts';
import { iceConnectDeadline } from './iceDeadline.ts';
import { PeerLifetime } from './peerLifetime.ts';
import { peerConfig, restrictCandidates } from './peerConfig.ts';
import { TrackRelay } from './TrackRelay.ts';

const log = logger.child({ mod: 'engine.publisher' });

/** Bitrate ceiling announced to publishers with REMB, bits/s. */
export const PUBLISHER_MAX_BITRATE = 2_500_000;
const REMB_INTERVAL_MS = 1000;

export type PublisherLegEvents = {
  /** A track delivered its first RTP packet and is live on the stage. */
  track: [TrackRelay];
  close: [CloseReason];
};

/**
 * One publishing client (browser studio or WHIP): the client offers, this leg answers. Each
 * received track becomes a TrackRelay once its first packet arrives.
 */
export class PublisherLeg extends EnhancedEventEmitter<PublisherLegEvents> {
  readonly peerId: string;
  readonly relays = new Map<string, TrackRelay>();
  private readonly pc: RTCPeerConnection;
  private readonly opts: EngineOptions;
  private rembTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly life: PeerLifetime;
  private readonly cancelIceDeadline: () => void;

  /** mid → source, as the client labelled its m-sections. */
  private readonly sources: Record<string, TrackSource>;

  constructor(peerId: string, opts: EngineOptions, sources: Record<string, TrackSource> = {}) {
    super();
    this.peerId = peerId;
    this.opts = opts;
    this.sources = sources;
    this.pc = new RTCPeerConnection(peerConfig(opts));
    this.life = new PeerLifetime(this.pc, `publisher ${peerId}`);
    this.pc.onTrack.subscribe((track) => this.onTrack(track));
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === 'failed' || state === 'closed') this.close('transport_failed');
    });
    this.cancelIceDeadline = iceConnectDeadline(this.pc, opts, { peerId, leg: 'publisher' }, () => this.close('ice_timeout'));
  }

  async answer(offer: string): Promise<string> {
    const media = inspectSdp(offer);
    const sending = media.filter((m) => (m.kind === 'audio' || m.kind === 'video') && m.port !== 0 && (m.direction === 'sendonly' || m.direction === 'sendrecv'));
    if (sending.length === 0) throw new InvalidSdpError('offer sends no audio or video');
    return this.life.step(async () => {
      try {
        await this.pc.setRemoteDescription({ type: 'offer', sdp: offer });
        this.life.assertOpen();
        for (const t of this.pc.getTransceivers()) t.setDirection('recvonly');
        await this.pc.setLocalDescription(await this.pc.createAnswer());
      } catch (err) {
        this.life.assertOpen();
        log.debug({ err: String(err) }, 'publisher negotiation failed');
        throw new InvalidSdpError('offer could not be negotiated');
      }
      await gatheringComplete(this.pc);
      this.life.assertOpen();
      this.rembTimer = setInterval(() => this.sendRemb(), REMB_INTERVAL_MS);
      return restrictCandidates(this.pc.localDescription!.sdp, this.opts);
    });
  }

  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelIceDeadline();
    clearInterval(this.rembTimer);
    for (const relay of this.relays.values()) relay.close();
    this.life.close();
    this.safeEmit('close', reason);
  }

  private onTrack(track: MediaStreamTrack): void {
    const transceiver = this.pc.getTransceivers().find((t) => t.receiver.tracks.includes(track));
    if (!transceiver) return;
    const sub = track.onReceiveRtp.subscribe((packet) => {
      sub.unSubscribe();
      if (this.closed) return;
      this.startRelay(track, transceiver, packet.header.payloadType);
    });
  }

  private startRelay(track: MediaStreamTrack, transceiver: RTCRtpTransceiver, payloadType: number): void {
    const codec = transceiver.codecs.find((c) => c.payloadType === payloadType);
    if (!codec) {
      log.warn({ peerId: this.peerId, payloadType }, 'publisher sent an unnegotiated payload type');
      return;
    }
    const kind = track.kind as MediaKind;
    const trackId = `${this.peerId}:${transceiver.mid ?? kind}`;
    const source = transceiver.mid ? this.sources[transceiver.mid] : undefined;
    const relay = new TrackRelay(
      { trackId, kind, peerId: this.peerId, streamId: streamIdFor(this.peerId, source), codec: codec.mimeType, ...(source === 'screen' ? { source } : {}) },
      codec,
      track,
      transceiver.receiver,
    );
    this.relays.set(trackId, relay);
    this.safeEmit('track', relay);
  }

  /** Tells the publisher how much it may send; werift has no receive-side estimator we trust. */
  private sendRemb(): void {
    const video = [...this.relays.values()].filter((r) => r.info.kind === 'video');
    const transport = this.pc.getTransceivers()[0]?.receiver.dtlsTransport;
    if (video.length === 0 || !transport || transport.state !== 'connected') return;
    const ssrcs = this.pc
      .getTransceivers()
      .filter((t) => t.kind === 'video')
      .flatMap((t) => t.receiver.tracks.map((tr) => tr.ssrc))
      .filter((s): s is number => s !== undefined);
    const { exp, mantissa } = rembBitrate(PUBLISHER_MAX_BITRATE);
    const remb = new ReceiverEstimatedMaxBitrate({
      senderSsrc: 1,
      mediaSsrc: 0,
      brExp: exp,
      brMantissa: mantissa,
      bitrate: BigInt(PUBLISHER_MAX_BITRATE),
      ssrcNum: ssrcs.length,
      ssrcFeedbacks: ssrcs,
    });
    transport.sendRtcp([new RtcpPayloadSpecificFeedback({ feedback: remb })]).catch(() => {});
  }
}

/** REMB encodes a bitrate as an 18-bit mantissa and a 6-bit exponent. */
export function rembBitrate(bps: number): { exp: number; mantissa: number } {
  let exp = 0;
  let mantissa = Math.floor(bps);
  while (mantissa >= 1 << 18) {
    mantissa = Math.floor(mantissa / 2);
    exp++;
  }
  return { exp, mantissa };
}
