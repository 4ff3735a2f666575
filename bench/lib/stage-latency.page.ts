/**
 * Browser side of the stage-latency bench (and of later latency benches). Exposes
 * `window.latencyBench`, driven from Node through playwright's `page.evaluate`. Uses plain
 * RTCPeerConnection and fetch only: no project player code, so the figures measure the media
 * path and nothing else.
 *
 * Peer connections, readers and video elements are kept under string ids.
 */
import { startPatternReader, startPatternSender, type LatencyStats, type PatternReader, type PatternSender } from '../../test/support/latency-pattern.ts';

interface RecvSummary {
  framesDecoded: number;
  framesDropped: number;
  frameWidth: number;
  frameHeight: number;
  videoCodec: string;
  /** Mean video jitter-buffer delay, ms. */
  videoJitterBufferMs: number;
  audioBytesReceived: number;
  /** Mean audio jitter-buffer delay, ms. */
  audioJitterBufferMs: number;
  videoPacketsLost: number;
  /** Mean jitter-buffer target and minimum delays, ms (video, audio). */
  videoTargetMs: number;
  videoMinimumMs: number;
  audioTargetMs: number;
  audioMinimumMs: number;
  /** Video minus audio estimatedPlayoutTimestamp in one getStats, ms: how far apart the receiver plays them by the sender reports. */
  playoutSkewMs: number;
  /** Wall clock (NTP) minus estimatedPlayoutTimestamp, median of 9 reads 100 ms apart, ms: the delay the sender reports claim (audio, video). */
  audioClaimedMs: number;
  videoClaimedMs: number;
  /** Header extensions on the receiver's inbound audio / video sections (from the remote description). */
  extensions: string[];
  /**
   * Audio glass to ear, ms: each beep's onset as the receiver's audio output plays it
   * (AudioWorklet on the received track, dated by getOutputTimestamp) less the wall-clock time the
   * sender scheduled it; median and count since the reader was reset. NaN without audio.
   */
  audioLatencyMs: number;
  audioOnsets: number;
}

/** The sender's video counters at one moment (outbound-rtp summed over encodings, and the transport). */
export interface SendCounters {
  at: number;
  packetsSent: number;
  /** Seconds packets waited in the pacer, summed (totalPacketSendDelay). */
  packetSendDelaySec: number;
  framesEncoded: number;
  encodeSec: number;
  bytesSent: number;
  /** The congestion controller's estimate, bit/s (candidate pair). */
  availableOutgoingBitrate: number;
  targetBitrate: number;
  qualityLimitationReason: string;
  frameWidth: number;
}

interface HttpResult {
  ok: boolean;
  status: number;
  location: string | null;
  body: string;
  error?: string;
}

const pcs = new Map<string, RTCPeerConnection>();
const readers = new Map<string, PatternReader>();
const videos = new Map<string, HTMLVideoElement>();
let sender: PatternSender | null = null;
let media: MediaStream | null = null;
let audioCtx: AudioContext | null = null;

/**
 * The sender's tone carries a clock: a 40 ms beep (the 440 Hz tone at 8× its level) at every
 * wall-clock multiple of BEEP_PERIOD_MS. A receiver dates each onset it plays; the onset's wall
 * time modulo the period is the audio's latency (under one period on loopback).
 */
const BEEP_PERIOD_MS = 500;
const BEEP_MS = 40;
const TONE_LEVEL = 0.1;
const BEEP_LEVEL = 0.8;
/** Receivers' onset detectors (per id): samples since the last reset, ms. */
const onsets = new Map<string, number[]>();
/** Each receiver's source node into its detector, disconnected on close. */
const beepSources = new Map<string, MediaStreamAudioSourceNode>();
let recvAudioCtx: AudioContext | null = null;
let onsetModule: Promise<void> | null = null;

const ONSET_WORKLET = `
class Onsets extends AudioWorkletProcessor {
  constructor() { super(); this.quiet = 0; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) for (let i = 0; i < ch.length; i++) {
      if (Math.abs(ch[i]) > ${(TONE_LEVEL + BEEP_LEVEL) / 2}) {
        if (this.quiet > sampleRate * 0.1) this.port.postMessage((currentFrame + i) / sampleRate);
        this.quiet = 0;
      } else this.quiet++;
    }
    return true;
  }
}
registerProcessor('onsets', Onsets);`;

/** Schedules the beeps on the sender's gain, a second ahead, on the wall clock's period grid. */
function scheduleBeeps(ctx: AudioContext, gain: GainNode): void {
  let next = Math.ceil((performance.timeOrigin + performance.now() + 200) / BEEP_PERIOD_MS) * BEEP_PERIOD_MS;
  const plan = () => {
    // Context time now ↔ wall clock now: what the graph renders at context time T goes into the
    // track about when currentTime reaches T.
    const wallNow = performance.timeOrigin + performance.now();
    const ctxNow = ctx.currentTime;
    while (next < wallNow + 1000) {
      const at = ctxNow + (next - wallNow) / 1000;
      if (at > ctxNow) {
        gain.gain.setValueAtTime(BEEP_LEVEL, at);
        gain.gain.setValueAtTime(TONE_LEVEL, at + BEEP_MS / 1000);
      }
      next += BEEP_PERIOD_MS;
    }
  };
  plan();
  setInterval(plan, 250);
}

/** Dates every beep onset `stream`'s audio plays into onsets[id]. */
async function listenForBeeps(id: string, stream: MediaStream): Promise<void> {
  recvAudioCtx ??= new AudioContext();
  const ctx = recvAudioCtx;
  await ctx.resume().catch(() => {});
  onsetModule ??= ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([ONSET_WORKLET], { type: 'text/javascript' })));
  await onsetModule;
  const samples: number[] = [];
  onsets.set(id, samples);
  const node = new AudioWorkletNode(ctx, 'onsets');
  node.port.onmessage = (ev: MessageEvent<number>) => {
    const ts = ctx.getOutputTimestamp();
    if (ts.contextTime === undefined || ts.performanceTime === undefined) return;
    const wall = performance.timeOrigin + ts.performanceTime + (ev.data - ts.contextTime) * 1000;
    onsets.get(id)?.push(((wall % BEEP_PERIOD_MS) + BEEP_PERIOD_MS) % BEEP_PERIOD_MS);
  };
  const source = ctx.createMediaStreamSource(stream);
  source.connect(node);
  beepSources.get(id)?.disconnect();
  beepSources.set(id, source);
}

function pc(id: string): RTCPeerConnection {
  const p = pcs.get(id);
  if (!p) throw new Error(`no peer connection ${id}`);
  return p;
}

function newPc(id: string): RTCPeerConnection {
  pcs.get(id)?.close();
  const p = new RTCPeerConnection({ iceServers: [] });
  pcs.set(id, p);
  return p;
}

/** Resolves when ICE gathering is complete (no trickle), or after `timeoutMs`. */
function gathered(p: RTCPeerConnection, timeoutMs = 5000): Promise<void> {
  if (p.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function done() {
      clearTimeout(timer);
      p.removeEventListener('icegatheringstatechange', check);
      resolve();
    }
    function check() {
      if (p.iceGatheringState === 'complete') done();
    }
    p.addEventListener('icegatheringstatechange', check);
  });
}

/** Plays whatever arrives on `p` in a video element (audio unmuted, like a viewer) and reads the pattern. */
function attachReceiver(id: string, p: RTCPeerConnection): void {
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  video.muted = false;
  video.width = 320;
  video.height = 240;
  document.body.append(video);
  videos.get(id)?.remove();
  videos.set(id, video);
  const stream = new MediaStream();
  video.srcObject = stream;
  p.addEventListener('track', (ev) => {
    stream.addTrack(ev.track);
    void video.play().catch(() => {});
    if (ev.track.kind === 'audio') void listenForBeeps(id, new MediaStream([ev.track])).catch((err) => console.warn(`beeps: ${String(err)}`));
  });
  readers.get(id)?.stop();
  readers.set(id, startPatternReader(video));
}

const api = {
  /** Starts painting the pattern; the stream carries it plus a 440 Hz tone (one msid, so receivers lip-sync). */
  async startSender(withAudio = true): Promise<{ video: number; audio: number }> {
    if (sender) return { video: 1, audio: media!.getAudioTracks().length };
    sender = startPatternSender({ canvas: document.querySelector('canvas') ?? undefined });
    media = new MediaStream(sender.stream.getVideoTracks());
    if (withAudio) {
      audioCtx = new AudioContext();
      await audioCtx.resume().catch(() => {});
      const osc = audioCtx.createOscillator();
      osc.frequency.value = 440;
      const gain = audioCtx.createGain();
      gain.gain.value = TONE_LEVEL;
      const dest = audioCtx.createMediaStreamDestination();
      osc.connect(gain).connect(dest);
      osc.start();
      scheduleBeeps(audioCtx, gain);
      for (const t of dest.stream.getAudioTracks()) media.addTrack(t);
    }
    return { video: media.getVideoTracks().length, audio: media.getAudioTracks().length };
  },

  /** Sendonly offer carrying the sender's stream, after ICE gathering. */
  async createSendOffer(id: string): Promise<string> {
    if (!media) throw new Error('startSender first');
    const p = newPc(id);
    for (const track of [...media.getAudioTracks(), ...media.getVideoTracks()]) {
      p.addTransceiver(track, { direction: 'sendonly', streams: [media] });
    }
    await p.setLocalDescription(await p.createOffer());
    await gathered(p);
    return p.localDescription!.sdp;
  },

  /** Recvonly audio+video offer (WHEP), after ICE gathering; plays and reads what arrives. */
  async createRecvOffer(id: string): Promise<string> {
    const p = newPc(id);
    p.addTransceiver('audio', { direction: 'recvonly' });
    p.addTransceiver('video', { direction: 'recvonly' });
    attachReceiver(id, p);
    await p.setLocalDescription(await p.createOffer());
    await gathered(p);
    return p.localDescription!.sdp;
  },

  /** Answers a remote offer (direct path), after ICE gathering; plays and reads what arrives. */
  async answerOffer(id: string, offer: string): Promise<string> {
    const p = newPc(id);
    attachReceiver(id, p);
    await p.setRemoteDescription({ type: 'offer', sdp: offer });
    await p.setLocalDescription(await p.createAnswer());
    await gathered(p);
    return p.localDescription!.sdp;
  },

  async applyAnswer(id: string, answer: string): Promise<void> {
    await pc(id).setRemoteDescription({ type: 'answer', sdp: answer });
  },

  /** WHIP/WHEP POST with plain fetch. Errors (CORS, network) come back in `error`. */
  async postSdp(url: string, token: string, sdp: string): Promise<HttpResult> {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/sdp' },
        body: sdp,
      });
      const loc = res.headers.get('location');
      return { ok: res.ok, status: res.status, location: loc ? new URL(loc, url).href : null, body: await res.text() };
    } catch (err) {
      return { ok: false, status: 0, location: null, body: '', error: String(err) };
    }
  },

  async deleteResource(url: string, token: string): Promise<HttpResult> {
    try {
      const res = await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      return { ok: res.ok, status: res.status, location: null, body: await res.text() };
    } catch (err) {
      return { ok: false, status: 0, location: null, body: '', error: String(err) };
    }
  },

  connectionState(id: string): string {
    return pc(id).connectionState;
  },

  readerStats(id: string, withSamples = true): LatencyStats & { videoTime: number } {
    const r = readers.get(id);
    if (!r) throw new Error(`no reader ${id}`);
    const s = r.stats;
    return { ...s, samples: withSamples ? s.samples : [], videoTime: videos.get(id)?.currentTime ?? 0 };
  },

  resetReader(id: string): void {
    readers.get(id)?.reset();
    onsets.get(id)?.splice(0);
  },

  async sendCounters(id: string): Promise<SendCounters> {
    const out: SendCounters = { at: performance.now(), packetsSent: 0, packetSendDelaySec: 0, framesEncoded: 0, encodeSec: 0, bytesSent: 0, availableOutgoingBitrate: 0, targetBitrate: 0, qualityLimitationReason: '', frameWidth: 0 };
    (await pc(id).getStats()).forEach((s: Record<string, unknown>) => {
      if (s.type === 'candidate-pair' && s.nominated && typeof s.availableOutgoingBitrate === 'number') out.availableOutgoingBitrate = s.availableOutgoingBitrate;
      if (s.type !== 'outbound-rtp' || s.kind !== 'video') return;
      out.packetsSent += Number(s.packetsSent ?? 0);
      out.packetSendDelaySec += Number(s.totalPacketSendDelay ?? 0);
      out.framesEncoded += Number(s.framesEncoded ?? 0);
      out.encodeSec += Number(s.totalEncodeTime ?? 0);
      out.bytesSent += Number(s.bytesSent ?? 0);
      out.targetBitrate += Number(s.targetBitrate ?? 0);
      out.qualityLimitationReason = String(s.qualityLimitationReason ?? '');
      out.frameWidth = Math.max(out.frameWidth, Number(s.frameWidth ?? 0));
    });
    return out;
  },

  async recvSummary(id: string): Promise<RecvSummary> {
    const out: RecvSummary = {
      framesDecoded: 0,
      framesDropped: 0,
      frameWidth: 0,
      frameHeight: 0,
      videoCodec: '',
      videoJitterBufferMs: 0,
      audioBytesReceived: 0,
      audioJitterBufferMs: 0,
      videoPacketsLost: 0,
      videoTargetMs: 0,
      videoMinimumMs: 0,
      audioTargetMs: 0,
      audioMinimumMs: 0,
      playoutSkewMs: NaN,
      audioClaimedMs: NaN,
      videoClaimedMs: NaN,
      extensions: [],
      audioLatencyMs: NaN,
      audioOnsets: 0,
    };
    const beeps = onsets.get(id) ?? [];
    out.audioOnsets = beeps.length;
    if (beeps.length) out.audioLatencyMs = [...beeps].sort((a, b) => a - b)[beeps.length >> 1]!;
    const sdp = pc(id).remoteDescription?.sdp ?? '';
    let kind = '';
    for (const line of sdp.split(/\r?\n/)) {
      if (line.startsWith('m=')) kind = line.slice(2, 7);
      const m = /^a=extmap:\d+(?:\/\w+)? (\S+)/.exec(line);
      if (m) out.extensions.push(`${kind}:${m[1]!.replace(/^.*[/:]/, '')}`);
    }
    const playout: Record<string, number> = {};
    const report = await pc(id).getStats();
    const codecs = new Map<string, string>();
    report.forEach((s: Record<string, unknown>) => {
      if (s.type === 'codec') codecs.set(s.id as string, s.mimeType as string);
    });
    report.forEach((s: Record<string, unknown>) => {
      if (s.type !== 'inbound-rtp') return;
      const emitted = Math.max(1, Number(s.jitterBufferEmittedCount));
      const jb = (Number(s.jitterBufferDelay) / emitted) * 1000;
      const perEmitted = (v: unknown) => Math.round((Number(v) / emitted) * 10000) / 10;
      if (typeof s.estimatedPlayoutTimestamp === 'number') playout[s.kind as string] = s.estimatedPlayoutTimestamp;
      if (s.kind === 'video') {
        out.videoTargetMs = perEmitted(s.jitterBufferTargetDelay);
        out.videoMinimumMs = perEmitted(s.jitterBufferMinimumDelay);
      } else if (s.kind === 'audio') {
        out.audioTargetMs = perEmitted(s.jitterBufferTargetDelay);
        out.audioMinimumMs = perEmitted(s.jitterBufferMinimumDelay);
      }
      if (s.kind === 'video') {
        out.framesDecoded += Number(s.framesDecoded ?? 0);
        out.framesDropped += Number(s.framesDropped ?? 0);
        out.frameWidth = Number(s.frameWidth ?? 0);
        out.frameHeight = Number(s.frameHeight ?? 0);
        out.videoCodec = codecs.get(s.codecId as string) ?? '';
        out.videoJitterBufferMs = Math.round(jb * 10) / 10;
        out.videoPacketsLost += Number(s.packetsLost ?? 0);
      } else if (s.kind === 'audio') {
        out.audioBytesReceived += Number(s.bytesReceived ?? 0);
        out.audioJitterBufferMs = Math.round(jb * 10) / 10;
      }
    });
    if (playout.video !== undefined && playout.audio !== undefined) out.playoutSkewMs = playout.video - playout.audio;
    const claimed: Record<string, number[]> = { audio: [], video: [] };
    for (let i = 0; i < 9; i++) {
      const r = await pc(id).getStats();
      const now = Date.now() + 2208988800000;
      r.forEach((s: Record<string, unknown>) => {
        if (s.type === 'inbound-rtp' && typeof s.estimatedPlayoutTimestamp === 'number') claimed[s.kind as string]?.push(now - s.estimatedPlayoutTimestamp);
      });
      await new Promise((res) => setTimeout(res, 100));
    }
    const med = (v: number[]) => (v.length ? [...v].sort((a, b) => a - b)[v.length >> 1]! : NaN);
    out.audioClaimedMs = med(claimed.audio!);
    out.videoClaimedMs = med(claimed.video!);
    return out;
  },

  close(id: string): void {
    readers.get(id)?.stop();
    readers.delete(id);
    onsets.delete(id);
    beepSources.get(id)?.disconnect();
    beepSources.delete(id);
    pcs.get(id)?.close();
    pcs.delete(id);
    const v = videos.get(id);
    if (v) {
      v.srcObject = null;
      v.remove();
    }
    videos.delete(id);
  },
};

export type LatencyBenchApi = typeof api;

declare global {
  interface Window {
    latencyBench: LatencyBenchApi;
  }
}

window.latencyBench = api;
document.title = 'latency-bench ready';
