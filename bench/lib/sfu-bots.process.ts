// Child process of bench/sfu-capacity.ts: publisher and subscriber bots on libwebrtc
// (@roamhq/wrtc), driven over IPC by ./sfu-bots.ts. They live in their own process so that
// their JavaScript (frame generation, stats) never runs on the bench's main thread, whose
// event-loop delay stands for the control plane's.
import { randomFillSync } from 'node:crypto';
import wrtc from '@roamhq/wrtc';
import type { BotCounters, BotReply, BotRequest, BotStats } from './sfu-bots.ts';

const { RTCPeerConnection, nonstandard } = wrtc;

const WIDTH = Number(process.env.BENCH_WIDTH ?? 640);
const HEIGHT = Number(process.env.BENCH_HEIGHT ?? 360);
const FPS = Number(process.env.BENCH_FPS ?? 30);
/** Publisher video bitrate, kbit/s: pinned (min = start = max) so every forwarder gets the same stream. */
const VIDEO_KBPS = Number(process.env.BENCH_VIDEO_KBPS ?? 1200);
/** Side of the square of fresh noise drawn each frame: unpredictable content keeps the encoder at the bitrate it is allowed. */
const NOISE_SIDE = 96;

interface Publisher {
  pc: RTCPeerConnection;
  video: InstanceType<typeof nonstandard.RTCVideoSource>;
  audio: InstanceType<typeof nonstandard.RTCAudioSource> | undefined;
  frame: Uint8Array;
  frameNo: number;
  active: boolean;
}

const publishers = new Map<string, Publisher>();
const subscribers = new Map<string, RTCPeerConnection>();

async function gathered(pc: RTCPeerConnection): Promise<string> {
  if (pc.iceGatheringState !== 'complete') {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }
  return pc.localDescription!.sdp;
}

async function createPublisher(id: string, withAudio: boolean): Promise<string> {
  const pc = new RTCPeerConnection({ iceServers: [] });
  const audio = withAudio ? new nonstandard.RTCAudioSource() : undefined;
  // Audio first, then video, in every bot: the m-line order (and so the mids) match on both sides.
  if (audio) pc.addTransceiver(audio.createTrack(), { direction: 'sendonly' });
  const video = new nonstandard.RTCVideoSource();
  const { sender } = pc.addTransceiver(video.createTrack(), { direction: 'sendonly' });
  // When the machine is short of CPU, libwebrtc would otherwise scale the picture down (and the
  // packet stream with it), differently in each run: drop frames instead, which the fps shows.
  await sender.setParameters({ ...sender.getParameters(), degradationPreference: 'maintain-resolution' } as RTCRtpSendParameters);
  const frame = new Uint8Array((WIDTH * HEIGHT * 3) / 2).fill(128);
  publishers.set(id, { pc, video, audio, frame, frameNo: 0, active: false });
  await pc.setLocalDescription(await pc.createOffer());
  return gathered(pc);
}

async function createSubscriber(id: string, offer: string): Promise<string> {
  const pc = new RTCPeerConnection({ iceServers: [] });
  subscribers.set(id, pc);
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  await pc.setLocalDescription(await pc.createAnswer());
  return gathered(pc);
}

// Luma of diagonal stripes that move 4 px a frame (cheap to encode, keyframes stay small), plus
// a square of fresh noise that wanders across the picture (what the bitrate is spent on).
const stripes = new Uint8Array(2 * WIDTH).map((_, x) => 16 + ((x * 7) % 224));
function drawFrame(p: Publisher): void {
  const t = p.frameNo++;
  for (let y = 0; y < HEIGHT; y++) {
    const offset = (4 * t + y) % WIDTH;
    p.frame.set(stripes.subarray(offset, offset + WIDTH), y * WIDTH);
  }
  const x0 = (8 * t) % (WIDTH - NOISE_SIDE);
  const y0 = (3 * t) % (HEIGHT - NOISE_SIDE);
  for (let y = y0; y < y0 + NOISE_SIDE; y++) randomFillSync(p.frame, y * WIDTH + x0, NOISE_SIDE);
}

function pushVideoFrames(): void {
  for (const p of publishers.values()) {
    if (!p.active) continue;
    drawFrame(p);
    p.video.onFrame({ width: WIDTH, height: HEIGHT, data: p.frame });
  }
}

// 10 ms of a 440 Hz tone at 48 kHz, mono.
const tone = new Int16Array(480).map((_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 48000)));
function pushAudio(): void {
  for (const p of publishers.values()) {
    if (p.active && p.audio) p.audio.onData({ samples: tone, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
  }
}

const videoTimer = setInterval(pushVideoFrames, 1000 / FPS);
const audioTimer = setInterval(pushAudio, 10);

/**
 * Adds libwebrtc's x-google-{min,start,max}-bitrate to the answer's VP8 format, so the publisher
 * sends at `kbps` from the first second whatever the forwarder's bandwidth feedback says.
 */
function pinVideoBitrate(sdp: string, kbps: number): string {
  const pin = `x-google-min-bitrate=${kbps};x-google-start-bitrate=${kbps};x-google-max-bitrate=${kbps}`;
  const pt = /a=rtpmap:(\d+) VP8\/90000/i.exec(sdp)?.[1];
  if (!pt) return sdp;
  const lines = sdp.split('\r\n');
  const fmtp = lines.findIndex((l) => l.startsWith(`a=fmtp:${pt} `));
  if (fmtp >= 0) lines[fmtp] += `;${pin}`;
  else lines.splice(lines.findIndex((l) => l.startsWith(`a=rtpmap:${pt} `)) + 1, 0, `a=fmtp:${pt} ${pin}`);
  return lines.join('\r\n');
}

async function counters(pc: RTCPeerConnection): Promise<BotCounters> {
  const c: BotCounters = { packetsReceived: 0, packetsLost: 0, bytesReceived: 0, framesDecoded: 0, packetsSent: 0, bytesSent: 0, framesEncoded: 0, videoCodec: '' };
  const report = await pc.getStats();
  const codecs = new Map<string, string>();
  report.forEach((r: { type: string; id: string; mimeType?: string }) => {
    if (r.type === 'codec' && r.mimeType) codecs.set(r.id, r.mimeType);
  });
  report.forEach((r: Record<string, unknown>) => {
    if (r.type === 'inbound-rtp') {
      c.packetsReceived += Number(r.packetsReceived ?? 0);
      c.packetsLost += Number(r.packetsLost ?? 0);
      c.bytesReceived += Number(r.bytesReceived ?? 0);
      c.framesDecoded += Number(r.framesDecoded ?? 0);
    } else if (r.type === 'outbound-rtp') {
      c.packetsSent += Number(r.packetsSent ?? 0);
      c.bytesSent += Number(r.bytesSent ?? 0);
      c.framesEncoded += Number(r.framesEncoded ?? 0);
    }
    if ((r.type === 'inbound-rtp' || r.type === 'outbound-rtp') && r.kind === 'video') c.videoCodec = codecs.get(String(r.codecId)) ?? '';
  });
  return c;
}

async function handle(req: BotRequest): Promise<unknown> {
  switch (req.op) {
    case 'publisher':
      return createPublisher(req.id, req.audio);
    case 'subscriber':
      return createSubscriber(req.id, req.offer);
    case 'answer': {
      const publisher = publishers.get(req.id);
      const pc = publisher?.pc ?? subscribers.get(req.id);
      if (!pc) throw new Error(`no bot ${req.id}`);
      await pc.setRemoteDescription({ type: 'answer', sdp: publisher ? pinVideoBitrate(req.sdp, VIDEO_KBPS) : req.sdp });
      return undefined;
    }
    case 'active': {
      const p = publishers.get(req.id);
      if (!p) throw new Error(`no publisher ${req.id}`);
      p.active = req.on;
      return undefined;
    }
    case 'stats': {
      const bots: Record<string, BotCounters> = {};
      await Promise.all(
        req.ids.map(async (id) => {
          const pc = publishers.get(id)?.pc ?? subscribers.get(id);
          if (pc) bots[id] = await counters(pc);
        }),
      );
      const cpu = process.cpuUsage();
      return { bots, cpuMicros: cpu.user + cpu.system } satisfies BotStats;
    }
    case 'close': {
      const p = publishers.get(req.id);
      p?.pc.getSenders().forEach((s) => s.track?.stop());
      (p?.pc ?? subscribers.get(req.id))?.close();
      publishers.delete(req.id);
      subscribers.delete(req.id);
      return undefined;
    }
    case 'shutdown': {
      clearInterval(videoTimer);
      clearInterval(audioTimer);
      for (const id of [...publishers.keys(), ...subscribers.keys()]) await handle({ op: 'close', id });
      setImmediate(() => process.exit(0));
      return undefined;
    }
  }
}

process.on('message', (msg: { seq: number; req: BotRequest }) => {
  handle(msg.req).then(
    (value) => process.send!({ seq: msg.seq, ok: true, value } satisfies BotReply),
    (err: unknown) => process.send!({ seq: msg.seq, ok: false, error: String(err) } satisfies BotReply),
  );
});
process.on('disconnect', () => process.exit(0));
process.send!({ seq: 0, ok: true, value: 'ready' } satisfies BotReply);
