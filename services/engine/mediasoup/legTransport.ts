import { randomInt } from 'node:crypto';
import type { WebRtcTransport, WebRtcTransportOptions } from 'mediasoup/types';
import { logger } from '../../core/logger.ts';
import type { CloseReason } from '../EngineTypes.ts';
import type { RouterPart } from './RouterSet.ts';
import type { LocalTransport } from './sdpWriter.ts';

const log = logger.child({ mod: 'engine.mediasoup' });

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
 * Calls `onFailure('transport_failed')` when the transport's DTLS fails or closes or its ICE goes
 * away (ICE-lite: "disconnected" means the client's consent checks stopped, about 30 s), and
 * `onFailure('ice_timeout')` when its ICE has not connected within `iceConnectTimeoutMs` of now.
 */
export function watchLegTransport(transport: WebRtcTransport, iceConnectTimeoutMs: number, onFailure: (reason: CloseReason) => void): void {
  transport.on('dtlsstatechange', (state) => {
    if (state === 'failed' || state === 'closed') onFailure('transport_failed');
  });
  transport.on('icestatechange', (state) => {
    if (state === 'disconnected' || state === 'closed') onFailure('transport_failed');
  });
  const timer = setTimeout(() => {
    if (transport.closed) return;
    if (transport.iceState === 'new') {
      log.info({ ...transport.appData, iceConnectTimeoutMs }, 'ICE did not connect in time; closing the leg');
      onFailure('ice_timeout');
    } else if (transport.iceState === 'disconnected') {
      onFailure('transport_failed');
    }
  }, iceConnectTimeoutMs);
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
