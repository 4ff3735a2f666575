/**
 * A live stage track stand-in: a second, real ffmpeg that sends VP8 video and Opus audio as
 * plain RTP (with RTCP sender reports on port + 1) to loopback, and SDPs in the shape the
 * engine's mirror gives.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';

/** An even port whose successor (RTCP) is free too, on 127.0.0.1, outside the engine's range. */
export async function freeRtpPort(exclude: number[] = []): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + 2 * Math.floor(Math.random() * 9000);
    if (exclude.some((p) => Math.abs(p - port) < 2)) continue;
    if ((await udpFree(port)) && (await udpFree(port + 1))) return port;
  }
  throw new Error('no free UDP port pair');
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

export function videoSdp(port: number, codec: 'vp8' | 'h264' = 'vp8'): string {
  const rtpmap = codec === 'vp8'
    ? ['a=rtpmap:96 VP8/90000']
    : ['a=rtpmap:96 H264/90000', 'a=fmtp:96 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f'];
  return [
    'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=test video', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=video ${port} RTP/AVP 96`, ...rtpmap, `a=rtcp:${port + 1}`, 'a=recvonly', '',
  ].join('\r\n');
}

export function audioSdp(port: number): string {
  return [
    'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=test audio', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${port} RTP/AVP 111`, 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1',
    `a=rtcp:${port + 1}`, 'a=recvonly', '',
  ].join('\r\n');
}

export interface RtpSourceOptions {
  videoPort?: number;
  audioPort?: number;
  /** testsrc2 size. Default 480x360 (4:3, so the stage pads it). */
  size?: string;
  /** Sine frequency, Hz. Default 440. */
  frequency?: number;
  /** Video codec. Default vp8; h264 is constrained baseline, in-band SPS/PPS, as browsers send. */
  videoCodec?: 'vp8' | 'h264';
}

/** Starts sending at once; packets sent before a receiver listens are simply lost, as live. */
export class RtpSource {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  #stderr = '';

  constructor(options: RtpSourceOptions) {
    const args = ['-hide_banner', '-nostdin', '-loglevel', 'error'];
    if (options.videoPort) args.push('-re', '-f', 'lavfi', '-i', `testsrc2=size=${options.size ?? '480x360'}:rate=30`);
    if (options.audioPort) args.push('-re', '-f', 'lavfi', '-i', `sine=frequency=${options.frequency ?? 440}:sample_rate=48000`);
    let index = 0;
    if (options.videoPort) {
      const codec = options.videoCodec === 'h264'
        ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-bsf:v', 'dump_extra']
        : ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8'];
      args.push(
        '-map', `${index++}:v`, ...codec, '-b:v', '600k', '-g', '30',
        '-f', 'rtp', '-payload_type', '96', `rtp://127.0.0.1:${options.videoPort}?pkt_size=1200`,
      );
    }
    if (options.audioPort) {
      args.push(
        '-map', `${index}:a`, '-c:a', 'libopus', '-ac', '2', '-b:a', '64k',
        '-f', 'rtp', '-payload_type', '111', `rtp://127.0.0.1:${options.audioPort}`,
      );
    }
    this.child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.#stderr = (this.#stderr + d).slice(-4000)));
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  get stderr(): string {
    return this.#stderr;
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}
