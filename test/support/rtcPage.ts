import type { BrowserContext, Page } from 'playwright-core';

/** A new page at `url` (a blank page server) with the helpers below installed. */
export async function openRtcPage(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await installRtcHelpers(page);
  return page;
}

/**
 * In-page helpers for tests that drive a plain RTCPeerConnection (no project player code).
 * Installed with `installRtcHelpers(page)`; every function waits for ICE gathering to finish
 * because the engine does not trickle.
 */
export async function installRtcHelpers(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as Record<string, unknown>;
    // Resolves when gathering completes, or after `timeoutMs` (a relay-only gather may never say so).
    const gathered = (pc: RTCPeerConnection, timeoutMs = Infinity) =>
      new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        const timer = Number.isFinite(timeoutMs) ? setTimeout(resolve, timeoutMs) : undefined;
        pc.addEventListener('icegatheringstatechange', () => {
          if (pc.iceGatheringState !== 'complete') return;
          clearTimeout(timer);
          resolve();
        });
      });
    w.__gathered = gathered;
    w.__startPublisher = async (config: RTCConfiguration = { iceServers: [] }, gatherTimeoutMs?: number) => {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
      const pc = new RTCPeerConnection(config);
      for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc, gatherTimeoutMs);
      w.__pub = pc;
      return pc.localDescription!.sdp;
    };
    // Video as three simulcast encodings (quarter, half and full size), as the studio sends them to mediasoup.
    w.__startSimulcastPublisher = async (audio: boolean, width: number, height: number) => {
      const stream = await navigator.mediaDevices.getUserMedia({ audio, video: { width, height } });
      const pc = new RTCPeerConnection({ iceServers: [] });
      for (const track of stream.getAudioTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
      pc.addTransceiver(stream.getVideoTracks()[0]!, {
        direction: 'sendonly',
        streams: [stream],
        sendEncodings: [
          { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
          { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
          { rid: 'f', maxBitrate: 1_500_000 },
        ],
      });
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      w.__pub = pc;
      return pc.localDescription!.sdp;
    };
    const newViewer = (config: RTCConfiguration) => {
      const pc = new RTCPeerConnection(config);
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.ontrack = (ev) => {
        if (ev.track.kind !== 'video') return;
        const video = document.createElement('video');
        video.autoplay = true;
        video.muted = true;
        video.srcObject = new MediaStream([ev.track]);
        document.body.append(video);
      };
      w.__sub = pc;
      return pc;
    };
    w.__startViewer = async (config: RTCConfiguration = { iceServers: [] }, gatherTimeoutMs?: number) => {
      const pc = newViewer(config);
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc, gatherTimeoutMs);
      return pc.localDescription!.sdp;
    };
    // A viewer's offer before it is applied, so a test can rewrite it (a receiver that numbers differently).
    w.__unappliedViewerOffer = async () => (await newViewer({ iceServers: [] }).createOffer()).sdp;
    w.__applyViewerOffer = async (sdp: string) => {
      const pc = w.__sub as RTCPeerConnection;
      await pc.setLocalDescription({ type: 'offer', sdp });
      await gathered(pc);
      return pc.localDescription!.sdp;
    };
    w.__applyAnswer = async (name: string, sdp: string) => {
      await (w[name] as RTCPeerConnection).setRemoteDescription({ type: 'answer', sdp });
    };
    w.__answerOffer = async (sdp: string) => {
      let pc = w.__sub as RTCPeerConnection | undefined;
      if (!pc) {
        pc = new RTCPeerConnection({ iceServers: [] });
        w.__sub = pc;
        pc.ontrack = (ev) => {
          const video = document.createElement('video');
          video.autoplay = true;
          video.muted = true;
          video.srcObject = ev.streams[0] ?? new MediaStream([ev.track]);
          document.body.append(video);
        };
      }
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
      return pc.localDescription!.sdp;
    };
    w.__inbound = async (name: string) => {
      const pc = w[name] as RTCPeerConnection | undefined;
      if (!pc) return { framesDecoded: 0, audioBytes: 0, videoTracks: 0 };
      const stats = await pc.getStats();
      let framesDecoded = 0;
      let audioBytes = 0;
      let videoTracks = 0;
      stats.forEach((s) => {
        if (s.type !== 'inbound-rtp') return;
        if (s.kind === 'video') {
          framesDecoded += s.framesDecoded ?? 0;
          videoTracks++;
        }
        if (s.kind === 'audio') audioBytes += s.bytesReceived ?? 0;
      });
      return { framesDecoded, audioBytes, videoTracks };
    };
  });
}

export type RtcFns = {
  __startPublisher(config?: RTCConfiguration, gatherTimeoutMs?: number): Promise<string>;
  __startSimulcastPublisher(audio: boolean, width: number, height: number): Promise<string>;
  __unappliedViewerOffer(): Promise<string>;
  __applyViewerOffer(sdp: string): Promise<string>;
  __startViewer(config?: RTCConfiguration, gatherTimeoutMs?: number): Promise<string>;
  __applyAnswer(name: string, sdp: string): Promise<void>;
};

/** Fake camera+mic sendonly offer; the connection is kept as `__pub` in the page. */
export function publisherOffer(page: Page): Promise<string> {
  return page.evaluate(() => (window as unknown as RtcFns).__startPublisher());
}

/** Fake camera (and mic) offer with three simulcast encodings q/h/f; kept as `__pub` in the page. */
export function simulcastPublisherOffer(page: Page, { audio = false, width = 1280, height = 720 } = {}): Promise<string> {
  return page.evaluate(([a, w, h]) => (window as unknown as RtcFns).__startSimulcastPublisher(a as boolean, w as number, h as number), [audio, width, height]);
}

/**
 * recvonly audio+video offer (WHEP-style) rewritten by `rewrite` before the page applies it as its
 * own, as a receiver that numbers codecs or extensions its own way would offer. Kept as `__sub`.
 */
export async function rewrittenViewerOffer(page: Page, rewrite: (sdp: string) => string): Promise<string> {
  const sdp = rewrite(await page.evaluate(() => (window as unknown as RtcFns).__unappliedViewerOffer()));
  return page.evaluate((s) => (window as unknown as RtcFns).__applyViewerOffer(s), sdp);
}

/** recvonly audio+video offer (WHEP-style); the connection is kept as `__sub`. */
export function viewerOffer(page: Page): Promise<string> {
  return page.evaluate(() => (window as unknown as RtcFns).__startViewer());
}

export function applyAnswer(page: Page, pcName: '__pub' | '__sub', sdp: string): Promise<void> {
  return page.evaluate(([n, s]) => (window as unknown as RtcFns).__applyAnswer(n!, s!), [pcName, sdp]);
}

export interface InboundSummary {
  framesDecoded: number;
  audioBytes: number;
  videoTracks: number;
}

export function inbound(page: Page, pcName = '__sub'): Promise<InboundSummary> {
  return page.evaluate((name) => (window as unknown as { __inbound(n: string): Promise<InboundSummary> }).__inbound(name), pcName);
}
