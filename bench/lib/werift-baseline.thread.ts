// Worker-thread entry of the bare werift baseline (see ./werift-baseline.ts). No project code:
// one werift RTCPeerConnection receives the publisher, one per subscriber offers and sends (as
// the embedded engine's stage subscribers do), and every RTP packet the publisher's track
// delivers goes to each subscriber's sender (sendRtp).
//
// It negotiates what the embedded engine negotiates (same codecs and payload types, NACK + PLI +
// REMB feedback, mid + abs-send-time, no transport-cc), sends the publisher the same REMB
// ceiling and relays subscriber PLIs, so that the publisher bot sends the same kind of stream
// to both and the CPU per packet compares forwarding work only.
import { parentPort, workerData } from 'node:worker_threads';
import {
  ReceiverEstimatedMaxBitrate,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RtcpPayloadSpecificFeedback,
  useAbsSendTime,
  useNACK,
  usePLI,
  useREMB,
  useSdesMid,
  type MediaStreamTrack,
  type PeerConfig,
  type RTCRtpReceiver,
  type RTCRtpSender,
} from 'werift';

export type BaselineRequest =
  | { op: 'publish'; offer: string }
  | { op: 'subscribe'; id: string }
  | { op: 'answer'; id: string; sdp: string }
  | { op: 'unsubscribe'; id: string }
  | { op: 'tracks' }
  | { op: 'counters' }
  | { op: 'close' };

const { portRange } = workerData as { portRange: [number, number] };
const REMB_BPS = 2_500_000;
const PLI_MIN_INTERVAL_MS = 300;

const config: Partial<PeerConfig> = {
  codecs: {
    audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111, parameters: 'minptime=10;useinbandfec=1', rtcpFeedback: [] })],
    video: [new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96, rtcpFeedback: [useNACK(), usePLI(), useREMB()] })],
  },
  headerExtensions: { audio: [useSdesMid()], video: [useSdesMid(), useAbsSendTime()] },
  bundlePolicy: 'max-bundle',
  iceServers: [],
  iceUseIpv6: false,
  iceUseTcp: false,
  // werift leaves loopback out of its candidates unless told; the bench runs on loopback only.
  iceInterfaceAddresses: { udp4: '127.0.0.1' },
  iceAdditionalHostAddresses: ['127.0.0.1'],
  icePortRange: portRange,
};

const cpuStart = threadCpuMicros();
let packetsForwarded = 0;
let publisher: RTCPeerConnection | undefined;
const sources = new Map<string, { track: MediaStreamTrack; receiver: RTCRtpReceiver; sinks: Set<RTCRtpSender> }>();
const subscribers = new Map<string, RTCPeerConnection>();
/** Senders offered to a subscriber and not yet answered, with the sinks they join then. */
const pending = new Map<RTCRtpSender, Set<RTCRtpSender>>();
let lastPliAt = 0;

function threadCpuMicros(): number {
  const usage = process.threadCpuUsage();
  return usage.user + usage.system;
}

async function gathered(pc: RTCPeerConnection): Promise<string> {
  if (pc.iceGatheringState !== 'complete') {
    await new Promise<void>((resolve) => {
      const sub = pc.iceGatheringStateChange.subscribe((state) => {
        if (state === 'complete') {
          sub.unSubscribe();
          resolve();
        }
      });
    });
  }
  return pc.localDescription!.sdp;
}

async function publish(offer: string): Promise<string> {
  const pc = new RTCPeerConnection(config);
  publisher = pc;
  pc.onTrack.subscribe((track) => {
    const transceiver = pc.getTransceivers().find((t) => t.receiver.tracks.includes(track))!;
    const source = { track, receiver: transceiver.receiver, sinks: new Set<RTCRtpSender>() };
    let live = false;
    track.onReceiveRtp.subscribe((packet) => {
      if (!live) {
        live = true;
        sources.set(track.kind, source);
      }
      // The publisher's extension ids would otherwise be merged into each subscriber's packets.
      packet.header.extensions = [];
      packet.header.extension = false;
      for (const sender of source.sinks) {
        packetsForwarded++;
        sender.sendRtp(packet).catch(() => {});
      }
    });
  });
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  for (const t of pc.getTransceivers()) t.setDirection('recvonly');
  await pc.setLocalDescription(await pc.createAnswer());
  setInterval(sendRemb, 1000).unref();
  return gathered(pc);
}

function sendRemb(): void {
  const video = sources.get('video');
  const transport = video?.receiver.dtlsTransport;
  if (!video || video.track.ssrc === undefined || transport?.state !== 'connected') return;
  let brMantissa = REMB_BPS;
  let brExp = 0;
  while (brMantissa >= 1 << 18) {
    brMantissa = Math.floor(brMantissa / 2);
    brExp++;
  }
  const remb = new ReceiverEstimatedMaxBitrate({ senderSsrc: 1, mediaSsrc: 0, brExp, brMantissa, bitrate: BigInt(REMB_BPS), ssrcNum: 1, ssrcFeedbacks: [video.track.ssrc] });
  transport.sendRtcp([new RtcpPayloadSpecificFeedback({ feedback: remb })]).catch(() => {});
}

function requestKeyFrame(): void {
  const video = sources.get('video');
  if (!video || video.track.ssrc === undefined || Date.now() - lastPliAt < PLI_MIN_INTERVAL_MS) return;
  lastPliAt = Date.now();
  video.receiver.sendRtcpPLI(video.track.ssrc).catch(() => {});
}

/** Offers the live tracks to a new subscriber; its sinks attach when the answer comes. */
async function subscribe(id: string): Promise<string> {
  const pc = new RTCPeerConnection(config);
  subscribers.set(id, pc);
  for (const [kind, source] of sources) {
    const t = pc.addTransceiver(kind as 'audio' | 'video', { direction: 'sendonly' });
    t.sender.onPictureLossIndication.subscribe(requestKeyFrame);
    pending.set(t.sender, source.sinks);
  }
  await pc.setLocalDescription(await pc.createOffer());
  return gathered(pc);
}

async function answer(id: string, sdp: string): Promise<void> {
  const pc = subscribers.get(id);
  if (!pc) throw new Error(`no subscriber ${id}`);
  await pc.setRemoteDescription({ type: 'answer', sdp });
  for (const t of pc.getTransceivers()) {
    const sinks = pending.get(t.sender);
    pending.delete(t.sender);
    sinks?.add(t.sender);
  }
}

async function handle(req: BaselineRequest): Promise<unknown> {
  switch (req.op) {
    case 'publish':
      return publish(req.offer);
    case 'subscribe':
      return subscribe(req.id);
    case 'answer':
      return answer(req.id, req.sdp);
    case 'unsubscribe': {
      const pc = subscribers.get(req.id);
      subscribers.delete(req.id);
      for (const t of pc?.getTransceivers() ?? []) {
        pending.delete(t.sender);
        for (const source of sources.values()) source.sinks.delete(t.sender);
      }
      await pc?.close();
      return undefined;
    }
    case 'tracks':
      return [...sources.keys()];
    case 'counters':
      return { cpuMicros: threadCpuMicros() - cpuStart, packetsForwarded };
    case 'close':
      await Promise.all([...subscribers.values(), ...(publisher ? [publisher] : [])].map((pc) => pc.close()));
      return undefined;
  }
}

parentPort!.on('message', (msg: { seq: number; req: BaselineRequest }) => {
  handle(msg.req).then(
    (value) => parentPort!.postMessage({ seq: msg.seq, ok: true, value }),
    (err: unknown) => parentPort!.postMessage({ seq: msg.seq, ok: false, error: String(err) }),
  );
});
parentPort!.postMessage({ seq: 0, ok: true, value: 'ready' });
