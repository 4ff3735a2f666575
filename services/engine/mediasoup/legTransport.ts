import { randomInt } from 'node:crypto';
import type { WebRtcTransport, WebRtcTransportOptions } from 'mediasoup/types';
import type { RouterPart } from './RouterSet.ts';
import type { LocalTransport } from './sdpWriter.ts';

/** A leg whose client never completes ICE is closed after this long (ms). */
const ICE_CONNECT_TIMEOUT_MS = 30_000;

/**
 * A leg's WebRtcTransport on `part`'s router: UDP only, through its worker's WebRtcServer (one
 * port per worker). `options` add to that (data channel, initial bitrate, appData).
 */
export function createLegTransport(part: RouterPart, options: Pick<WebRtcTransportOptions, 'enableSctp' | 'initialAvailableOutgoingBitrate' | 'appData'>): Promise<WebRtcTransport> {
  return part.router.createWebRtcTransport({
    webRtcServer: part.slot.webRtcServer,
    enableUdp: true,
    enableTcp: false,
    ...options,
  });
}

/**
 * Calls `onFailure` when the transport's DTLS fails or closes, when its ICE goes away (ICE-lite:
 * "disconnected" means the client's consent checks stopped, about 30 s), or when ICE has not
 * connected within ICE_CONNECT_TIMEOUT_MS.
 */
export function watchLegTransport(transport: WebRtcTransport, onFailure: () => void): void {
  transport.on('dtlsstatechange', (state) => {
    if (state === 'failed' || state === 'closed') onFailure();
  });
  transport.on('icestatechange', (state) => {
    if (state === 'disconnected' || state === 'closed') onFailure();
  });
  const timer = setTimeout(() => {
    if (!transport.closed && (transport.iceState === 'new' || transport.iceState === 'disconnected')) onFailure();
  }, ICE_CONNECT_TIMEOUT_MS);
  timer.unref();
  transport.observer.once('close', () => clearTimeout(timer));
}

/** The transport's side of an SDP it offers or answers. */
export function localTransport(transport: WebRtcTransport): LocalTransport {
  return {
    iceParameters: transport.iceParameters,
    iceCandidates: transport.iceCandidates,
    dtlsParameters: transport.dtlsParameters,
    sctpParameters: transport.sctpParameters,
  };
}

/** A new SDP session id (o= line). */
export function newSessionId(): string {
  return String(randomInt(1, 2 ** 47));
}
