import {
  RtcpSenderInfo,
  RtcpSrPacket,
  type MediaStreamTrack,
  type RTCRtpCodecParameters,
  type RTCRtpReceiver,
  type RTCRtpSender,
  type RtcpPacket,
  type RtpPacket,
} from 'werift';
import { logger } from '../../core/logger.ts';
import type { MirrorTarget, StageTrack } from '../EngineTypes.ts';
import { MirrorSink } from './MirrorSink.ts';

const log = logger.child({ mod: 'engine.relay' });

/** Shortest interval between two keyframe requests sent to one publisher track. */
const PLI_MIN_INTERVAL_MS = 300;

/** Fields of werift's RTCRtpSender we need for sender reports; werift keeps them private. */
interface SenderCounters {
  packetCount: number;
  octetCount: number;
}

interface Sink {
  sender: RTCRtpSender;
  unsubscribe: () => void;
}

/**
 * Fans one publisher track out to every subscriber sender that carries it.
 *
 * - Incoming header extensions are dropped: each subscriber leg writes its own (mid,
 *   abs-send-time), and werift would otherwise merge the publisher's ids into its packets.
 * - Sender reports on subscriber legs are derived from the publisher's own: same NTP time,
 *   same RTP timestamp (werift forwards timestamps unchanged). Chromium lip-syncs audio and
 *   video from these; werift's self-generated reports use the wall clock at send time and make
 *   the video delay swing by up to ~200 ms.
 * - Subscriber PLIs are relayed to the publisher (rate-limited), and a new sink gets one
 *   keyframe request as soon as its transport is ready.
 */
export class TrackRelay {
  readonly info: StageTrack;
  readonly codec: RTCRtpCodecParameters;
  private readonly source: MediaStreamTrack;
  private readonly receiver: RTCRtpReceiver;
  private readonly sinks = new Map<RTCRtpSender, Sink>();
  private readonly disposers: (() => void)[] = [];
  private mirror: MirrorSink | undefined;
  private lastPliAt = 0;
  private paused = false;
  private closed = false;
  /** Packets handed to subscriber senders; read by engine stats. */
  packetsForwarded = 0;

  constructor(info: StageTrack, codec: RTCRtpCodecParameters, source: MediaStreamTrack, receiver: RTCRtpReceiver) {
    this.info = info;
    this.codec = codec;
    this.source = source;
    this.receiver = receiver;
    const rtp = source.onReceiveRtp.subscribe((packet) => this.forwardRtp(packet));
    const rtcp = source.onReceiveRtcp.subscribe((packet) => this.forwardRtcp(packet));
    this.disposers.push(() => rtp.unSubscribe(), () => rtcp.unSubscribe());
  }

  get sinkCount(): number {
    return this.sinks.size;
  }

  setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    if (!paused) this.requestKeyFrame();
  }

  addSink(sender: RTCRtpSender): void {
    if (this.closed || this.sinks.has(sender)) return;
    // This relay writes the sender reports; stop werift's own wall-clock reports for this sender.
    (sender as unknown as { runRtcp: () => Promise<void> }).runRtcp = async () => {};
    const pli = sender.onPictureLossIndication.subscribe(() => this.requestKeyFrame());
    const ready = sender.onReady.subscribe(() => this.requestKeyFrame(true));
    this.sinks.set(sender, { sender, unsubscribe: () => (pli.unSubscribe(), ready.unSubscribe()) });
    this.requestKeyFrame(true);
  }

  removeSink(sender: RTCRtpSender): void {
    const sink = this.sinks.get(sender);
    if (!sink) return;
    sink.unsubscribe();
    this.sinks.delete(sender);
  }

  /** Starts (or retargets) the plain-RTP mirror of this track. */
  startMirror(target: MirrorTarget, bindIp: string): void {
    this.mirror?.close();
    this.mirror = new MirrorSink(target, bindIp);
    this.requestKeyFrame(true);
  }

  stopMirror(): void {
    this.mirror?.close();
    this.mirror = undefined;
  }

  get mirrorPackets(): number {
    return this.mirror?.packetsSent ?? 0;
  }

  /** Asks the publisher for a keyframe; `force` skips the rate limit (new sink, mirror start). */
  requestKeyFrame(force = false): void {
    if (this.closed || this.info.kind !== 'video' || this.source.ssrc === undefined) return;
    const now = Date.now();
    if (!force && now - this.lastPliAt < PLI_MIN_INTERVAL_MS) return;
    this.lastPliAt = now;
    this.receiver.sendRtcpPLI(this.source.ssrc).catch(() => {});
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const dispose of this.disposers) dispose();
    for (const sink of this.sinks.values()) sink.unsubscribe();
    this.sinks.clear();
    this.stopMirror();
  }

  private forwardRtp(packet: RtpPacket): void {
    if (this.paused || (this.sinks.size === 0 && !this.mirror)) return;
    packet.header.extensions = [];
    packet.header.extension = false;
    this.mirror?.sendRtp(packet);
    for (const sink of this.sinks.values()) {
      this.packetsForwarded++;
      sink.sender.sendRtp(packet).catch((err: unknown) => log.debug({ err: String(err) }, 'sendRtp failed'));
    }
  }

  private forwardRtcp(packet: RtcpPacket): void {
    if (!(packet instanceof RtcpSrPacket)) return;
    this.mirror?.sendRtcp(packet);
    const { ntpTimestamp, rtpTimestamp } = packet.senderInfo;
    for (const sink of this.sinks.values()) {
      const sender = sink.sender;
      const transport = sender.dtlsTransport;
      if (!transport || transport.state !== 'connected') continue;
      const counters = sender as unknown as SenderCounters;
      const sr = new RtcpSrPacket({
        ssrc: sender.ssrc,
        senderInfo: new RtcpSenderInfo({
          ntpTimestamp,
          rtpTimestamp,
          packetCount: counters.packetCount,
          octetCount: counters.octetCount,
        }),
      });
      transport.sendRtcp([sr]).catch(() => {});
    }
  }
}
