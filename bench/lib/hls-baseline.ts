/**
 * The baseline of the HLS latency bench: the same stage, through the same SFU, transcoded by
 * ffmpeg with the same input options, composition and x264 settings as the service's
 * broadcast (services/broadcast), but packaged by ffmpeg's own HLS muxer as plain HLS
 * (1 s fMP4 segments, no parts, no blocking reload) and served as static files.
 *
 *   SFU ──WHEP──▶ werift (this process) ──plain RTP on loopback──▶ ffmpeg -f hls ──▶ files ──▶ static HTTP
 *
 * The service's own path is SFU ──mirror (plain RTP on loopback)──▶ ffmpeg ──fMP4──▶ packager,
 * so the two differ only in the packaging and delivery, which is what the bench compares.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { RTCPeerConnection, type MediaStreamTrack as WeriftTrack } from 'werift';
import { composeStage, DEFAULT_LADDER } from '../../services/broadcast/composition.ts';
import { buildFfmpegArgs } from '../../services/broadcast/ffmpeg.ts';
import { CODECS } from '../../services/engine/embedded/peerConfig.ts';
import { sleep } from '../../test/support/wait.ts';

export interface BaselineOptions {
  /** Service origin, e.g. http://127.0.0.1:40000 */
  serviceUrl: string;
  room: string;
  /** A stage-member token (WHEP needs one). */
  token: string;
  /** UDP ports ffmpeg listens on for the forwarded audio and video. */
  audioPort: number;
  videoPort: number;
  /**
   * Makes the publisher send a keyframe. PLIs from this werift leg are not acted on (seen here:
   * ffmpeg logs "Keyframe missing" forever), so the bench passes a way through the service.
   */
  requestKeyframe?: () => Promise<void>;
}

export interface Baseline {
  /** URL of the baseline playlist (CORS open). */
  playlistUrl: string;
  ffmpegPid: number | undefined;
  /** ffmpeg's stderr tail, for diagnosis. */
  stderr(): string;
  close(): Promise<void>;
}

const HLS_OPTIONS = [
  '-f', 'hls',
  '-hls_time', '1',
  '-hls_segment_type', 'fmp4',
  '-hls_list_size', '6',
  '-hls_flags', 'independent_segments+delete_segments',
  '-hls_fmp4_init_filename', 'init.mp4',
];

/** Video/audio payload type and rtpmap/fmtp lines of one m-section of an SDP. */
function mediaFormat(sdp: string, kind: 'audio' | 'video'): { pt: number; rtpmap: string; fmtp?: string } {
  const section = sdp.split(/\r?\n(?=m=)/).find((s) => s.startsWith(`m=${kind}`));
  if (!section) throw new Error(`WHEP answer has no ${kind} m-line`);
  const pt = Number(section.split('\n')[0]!.trim().split(' ')[3]);
  const rtpmap = new RegExp(`^a=rtpmap:${pt} (.+)$`, 'm').exec(section)?.[1]?.trim();
  if (!rtpmap) throw new Error(`no rtpmap for ${kind} payload ${pt}`);
  const fmtp = new RegExp(`^a=fmtp:${pt} (.+)$`, 'm').exec(section)?.[1]?.trim();
  return { pt, rtpmap, ...(fmtp ? { fmtp } : {}) };
}

function ffmpegSdp(audio: ReturnType<typeof mediaFormat>, video: ReturnType<typeof mediaFormat>, ports: { audio: number; video: number }): string {
  const lines = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=baseline', 'c=IN IP4 127.0.0.1', 't=0 0'];
  lines.push(`m=audio ${ports.audio} RTP/AVP ${audio.pt}`, `a=rtpmap:${audio.pt} ${audio.rtpmap}`);
  if (audio.fmtp) lines.push(`a=fmtp:${audio.pt} ${audio.fmtp}`);
  lines.push(`m=video ${ports.video} RTP/AVP ${video.pt}`, `a=rtpmap:${video.pt} ${video.rtpmap}`);
  if (video.fmtp) lines.push(`a=fmtp:${video.pt} ${video.fmtp}`);
  return lines.join('\r\n') + '\r\n';
}

/** True when a local UDP socket is bound to `port` (from /proc/net/udp). */
function udpPortBound(port: number): boolean {
  try {
    return readFileSync('/proc/net/udp', 'utf8')
      .split('\n')
      .slice(1)
      .some((line) => parseInt(line.trim().split(/\s+/)[1]?.split(':')[1] ?? '', 16) === port);
  } catch {
    return true;
  }
}

const CONTENT_TYPES: Record<string, string> = { '.m3u8': 'application/vnd.apple.mpegurl', '.mp4': 'video/mp4', '.m4s': 'video/iso.segment' };

async function serveDirectory(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    const name = new URL(req.url ?? '/', 'http://x').pathname.slice(1);
    const headers = { 'access-control-allow-origin': '*', 'cache-control': 'no-cache' };
    if (!/^[A-Za-z0-9._-]+$/.test(name)) return void res.writeHead(400, headers).end();
    try {
      const body = await readFile(join(dir, name));
      res.writeHead(200, { ...headers, 'content-type': CONTENT_TYPES[extname(name)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404, headers).end();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  return {
    url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Pulls the stage over WHEP and runs the baseline ffmpeg on it. ffmpeg starts first and binds
 * its ports; the WHEP session then starts with a keyframe request (the SFU sends one for every
 * new subscriber), and this client asks again every 2 s until ffmpeg has written a playlist.
 */
export async function startBaseline(opts: BaselineOptions): Promise<Baseline> {
  const dir = await mkdtemp(join(tmpdir(), 'stagecast-hls-baseline-'));
  const files = await serveDirectory(dir);
  const udp: Socket = createSocket('udp4');
  udp.on('error', () => {}); // ICMP unreachable before ffmpeg binds: harmless
  const pc = new RTCPeerConnection({
    codecs: CODECS,
    iceServers: [],
    iceUseIpv4: true,
    iceUseIpv6: false,
    iceUseTcp: false,
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
    iceAdditionalHostAddresses: ['127.0.0.1'],
    bundlePolicy: 'max-bundle',
  });
  let ffmpeg: ChildProcess | undefined;
  let stderr = '';
  let location: string | null = null;
  let keyframeTimer: NodeJS.Timeout | undefined;
  const forwarded: Record<number, number> = {};
  let videoSsrc: number | undefined;
  const close = async () => {
    clearInterval(keyframeTimer);
    if (location) await fetch(location, { method: 'DELETE', headers: { authorization: `Bearer ${opts.token}` } }).catch(() => {});
    await pc.close().catch(() => {});
    udp.close();
    if (ffmpeg && ffmpeg.exitCode === null && ffmpeg.signalCode === null) {
      ffmpeg.kill('SIGTERM');
      const killer = setTimeout(() => ffmpeg?.kill('SIGKILL'), 2000);
      await once(ffmpeg, 'exit');
      clearTimeout(killer);
    }
    await files.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const audioTx = pc.addTransceiver('audio', { direction: 'recvonly' });
    const videoTx = pc.addTransceiver('video', { direction: 'recvonly' });
    const forward = (track: WeriftTrack, port: number) => {
      track.onReceiveRtp.subscribe((rtp) => {
        forwarded[port] = (forwarded[port] ?? 0) + 1;
        udp.send(rtp.serialize(), port, '127.0.0.1');
      });
    };
    audioTx.onTrack.subscribe((track) => forward(track, opts.audioPort));
    videoTx.onTrack.subscribe((track) => {
      videoSsrc = track.ssrc;
      forward(track, opts.videoPort);
    });
    await pc.setLocalDescription(await pc.createOffer());
    const offer = pc.localDescription!.sdp;

    // ffmpeg needs the codecs before the session starts; the SFU answers with the publisher's.
    // So: negotiate first, but forward nothing until ffmpeg listens (packets before are dropped
    // by the closed port and the keyframe request below repeats).
    const res = await fetch(`${opts.serviceUrl}/whep/${encodeURIComponent(opts.room)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/sdp' },
      body: offer,
    });
    const answer = await res.text();
    if (res.status !== 201) throw new Error(`baseline WHEP POST → ${res.status} ${answer.slice(0, 200)}`);
    const loc = res.headers.get('location');
    location = loc ? new URL(loc, opts.serviceUrl).href : null;

    const audio = mediaFormat(answer, 'audio');
    const video = mediaFormat(answer, 'video');
    const sdpFile = join(dir, 'input.sdp');
    await writeFile(sdpFile, ffmpegSdp(audio, video, { audio: opts.audioPort, video: opts.videoPort }));
    const composition = composeStage({ video: ['0:1'], audio: ['0:0'] }, { ladder: [DEFAULT_LADDER[0]!] });
    const out = composition.outputs[0]!;
    // Same encoder options as the broadcast; only the muxer differs (the fMP4 pipe options follow -f).
    const encoder = out.options.slice(0, out.options.indexOf('-f'));
    const args = buildFfmpegArgs(
      { inputs: [{ type: 'sdp', sdp: '' }], filterComplex: composition.filterComplex, outputs: [{ maps: out.maps, options: [...encoder, ...HLS_OPTIONS] }] },
      [sdpFile],
    ).map((a) => (a === 'pipe:3' ? join(dir, 'index.m3u8') : a));
    ffmpeg = spawn('ffmpeg', process.env.BASELINE_DEBUG ? args.map((a) => (a === 'warning' ? 'info' : a)) : args, { stdio: ['ignore', 'ignore', 'pipe'] });
    ffmpeg.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
      if (process.env.BASELINE_DEBUG) process.stderr.write(d);
    });
    if (process.env.BASELINE_DEBUG) console.error(args.join(' '));

    // The SFU asks the publisher for one keyframe when this leg connects; ffmpeg must be
    // listening by then, or it waits ("Keyframe missing") for the next one.
    const bindDeadline = Date.now() + 10000;
    while (!udpPortBound(opts.videoPort) || !udpPortBound(opts.audioPort)) {
      if (ffmpeg.exitCode !== null || Date.now() > bindDeadline) throw new Error(`baseline ffmpeg did not bind its RTP ports: ${stderr.slice(-800)}`);
      await sleep(20);
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    let asking = false;
    const askKeyframe = () => {
      if (videoSsrc !== undefined) void videoTx.receiver.sendRtcpPLI(videoSsrc).catch(() => {});
      if (opts.requestKeyframe && !asking) {
        asking = true;
        void opts.requestKeyframe().catch(() => {}).finally(() => (asking = false));
      }
    };
    keyframeTimer = setInterval(askKeyframe, 2000);
    setTimeout(askKeyframe, 500);
    const deadline = Date.now() + 20000;
    for (;;) {
      const playlist = await readFile(join(dir, 'index.m3u8'), 'utf8').catch(() => '');
      if (playlist.includes('#EXTINF')) break;
      if (ffmpeg.exitCode !== null) throw new Error(`baseline ffmpeg exited ${ffmpeg.exitCode}: ${stderr.slice(-800)}`);
      if (Date.now() > deadline) {
        throw new Error(`baseline ffmpeg wrote no segment in 20 s (RTP forwarded per port ${JSON.stringify(forwarded)}, video SSRC ${videoSsrc}, ICE ${pc.iceConnectionState}): ${stderr.slice(process.env.BASELINE_DEBUG ? -4000 : -800)}`);
      }
      await sleep(200);
    }
    clearInterval(keyframeTimer);
    return { playlistUrl: `${files.url}/index.m3u8`, ffmpegPid: ffmpeg.pid, stderr: () => stderr, close };
  } catch (err) {
    await close();
    throw err;
  }
}
