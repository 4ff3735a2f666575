/**
 * The mediasoup engine's baseline: a bare mediasoup router, no project engine code. One worker,
 * one router (opus 111, VP8 96: the bots' own payload types), a WebRtcTransport per bot; the
 * publisher's offer becomes producers; each subscriber gets consumers of them on the router's own
 * capabilities and an offer for them, as the engine's stage subscribers do.
 *
 * Only the SDP ↔ RTP-parameter translation is shared with the project (its mediasoup SDP bridge,
 * which is SDP text work done once per leg, never per packet). CPU is measured as the mediasoup
 * engine measures its own: the worker process's ru_utime + ru_stime from getResourceUsage();
 * packets forwarded are the consumers' sent packet counts.
 */
import { createWorker } from 'mediasoup';
import type { Consumer, Producer, Router, RouterRtpCodecCapability, WebRtcTransport, Worker } from 'mediasoup/types';
import { parseSdp } from '../../services/engine/mediasoup/sdp.ts';
import { buildAnswer, buildOffer, parseAnswer, producerFromOffer, remoteDtls, type OfferedProducer, type OfferSection } from '../../services/engine/mediasoup/sdpBridge.ts';
import type { Forwarder, ForwarderCounters } from './forwarder.ts';

const MEDIA_CODECS: RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 111, clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', preferredPayloadType: 96, clockRate: 90000 },
];

export class MediasoupBaseline implements Forwarder {
  readonly name = 'bare mediasoup';
  readonly cpuSource = 'worker process CPU (worker.getResourceUsage: ru_utime + ru_stime)';
  readonly jsThread = false;
  private readonly worker: Worker;
  private readonly router: Router;
  private readonly listenIp: string;
  private readonly portRange: [number, number];
  private readonly cpuStart: number;
  private readonly producers: Producer[] = [];
  private readonly subscribers = new Map<string, { transport: WebRtcTransport; consumers: Consumer[] }>();
  /** Packets sent by consumers already closed, so the total never goes backwards. */
  private retiredPackets = 0;
  private publisherTransport: WebRtcTransport | undefined;

  private constructor(worker: Worker, router: Router, cpuStart: number, listenIp: string, portRange: [number, number]) {
    this.worker = worker;
    this.router = router;
    this.cpuStart = cpuStart;
    this.listenIp = listenIp;
    this.portRange = portRange;
  }

  static async start(opts: { workerBin: string; listenIp: string; portRange: [number, number] }): Promise<MediasoupBaseline> {
    const worker = await createWorker({ workerBin: opts.workerBin, logLevel: 'warn' });
    const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    return new MediasoupBaseline(worker, router, await workerCpuMicros(worker), opts.listenIp, opts.portRange);
  }

  async publish(offer: string): Promise<string> {
    const parsed = parseSdp(offer);
    const transport = await this.newTransport();
    this.publisherTransport = transport;
    await transport.connect({ dtlsParameters: remoteDtls(parsed, true) });
    const accepted = new Map<string, { receive: OfferedProducer }>();
    for (const media of parsed.media) {
      const offered = producerFromOffer(media, this.router.rtpCapabilities);
      if ('rejected' in offered) continue;
      this.producers.push(await transport.produce({ kind: offered.kind, rtpParameters: offered.rtpParameters }));
      accepted.set(offered.mid, { receive: offered });
    }
    if (accepted.size === 0) throw new Error('bare mediasoup: the publisher offer has nothing the router takes');
    return buildAnswer({ offer: parsed, local: transport, accepted, sessionId: '1' });
  }

  async liveKinds(): Promise<string[]> {
    const live: string[] = [];
    for (const producer of this.producers) {
      const stats = await producer.getStats();
      if (stats.some((s) => s.packetCount > 0)) live.push(producer.kind);
    }
    return live;
  }

  async subscribe(id: string): Promise<string> {
    const transport = await this.newTransport();
    const leg = { transport, consumers: [] as Consumer[] };
    this.subscribers.set(id, leg);
    // As the engine consumes for a stage view: the router's own capabilities (rtx, transport-cc).
    const sections: OfferSection[] = [];
    for (const [i, producer] of this.producers.entries()) {
      const mid = String(i);
      const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: this.router.rtpCapabilities, paused: false, mid });
      leg.consumers.push(consumer);
      sections.push({ type: 'send', section: { mid, kind: producer.kind, rtpParameters: consumer.rtpParameters, streamId: 'publisher', trackId: producer.id } });
    }
    if (sections.length === 0) throw new Error(`bare mediasoup: nothing to send to ${id}`);
    return buildOffer({ local: transport, sections, sessionId: '1', version: 1 });
  }

  async answer(id: string, sdp: string): Promise<void> {
    const leg = this.subscribers.get(id);
    if (!leg) throw new Error(`bare mediasoup: no subscriber ${id}`);
    await leg.transport.connect({ dtlsParameters: parseAnswer(parseSdp(sdp)).dtlsParameters });
  }

  async unsubscribe(id: string): Promise<void> {
    const leg = this.subscribers.get(id);
    if (!leg) return;
    this.retiredPackets += await sentPackets(leg.consumers);
    this.subscribers.delete(id);
    leg.transport.close();
  }

  async counters(): Promise<ForwarderCounters> {
    let packetsForwarded = this.retiredPackets;
    for (const leg of this.subscribers.values()) packetsForwarded += await sentPackets(leg.consumers);
    return { cpuMicros: (await workerCpuMicros(this.worker)) - this.cpuStart, packetsForwarded };
  }

  async close(): Promise<void> {
    for (const leg of this.subscribers.values()) leg.transport.close();
    this.subscribers.clear();
    this.publisherTransport?.close();
    this.worker.close();
  }

  private newTransport(): Promise<WebRtcTransport> {
    return this.router.createWebRtcTransport({
      listenInfos: [{ protocol: 'udp', ip: this.listenIp, portRange: { min: this.portRange[0], max: this.portRange[1] } }],
      enableUdp: true,
      enableTcp: false,
    });
  }
}

async function workerCpuMicros(worker: Worker): Promise<number> {
  const ru = await worker.getResourceUsage();
  return (ru.ru_utime + ru.ru_stime) * 1000;
}

async function sentPackets(consumers: Consumer[]): Promise<number> {
  let total = 0;
  for (const consumer of consumers) {
    if (consumer.closed) continue;
    const stats = await consumer.getStats();
    total += stats.find((s) => s.type === 'outbound-rtp')?.packetCount ?? 0;
  }
  return total;
}
