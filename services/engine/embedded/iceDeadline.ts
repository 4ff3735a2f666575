import type { RTCPeerConnection } from 'werift';
import { CONFIG_DEFAULTS } from '../../core/config.ts';
import { logger } from '../../core/logger.ts';
import type { EngineOptions } from '../EngineTypes.ts';

const log = logger.child({ mod: 'engine.embedded' });

/**
 * Calls `onTimeout` unless `pc`'s ICE is connected `opts.iceConnectTimeoutMs` (default
 * CONFIG_DEFAULTS.ICE_CONNECT_TIMEOUT_MS) from now: a client that got its answer or offer and
 * never started ICE must not hold a leg, and with it a place on the stage, for long. A leg that
 * was connected once is left alone (a later drop is `transport_failed`'s business). werift
 * reports `completed` while gathering, before any check (and keeps it on a leg whose offer was
 * never answered), so neither that nor the ICE state read when the time is up can be trusted:
 * only a `connected` event, or a connected peer connection (ICE and DTLS), counts. Returns the
 * cancel, for the leg's `close()`.
 */
export function iceConnectDeadline(pc: RTCPeerConnection, opts: EngineOptions, what: { peerId: string; leg: 'publisher' | 'subscriber' }, onTimeout: () => void): () => void {
  const timeoutMs = opts.iceConnectTimeoutMs ?? CONFIG_DEFAULTS.ICE_CONNECT_TIMEOUT_MS;
  const timer = setTimeout(() => {
    if (pc.connectionState === 'connected') return;
    log.info({ ...what, iceConnectTimeoutMs: timeoutMs, iceState: pc.iceConnectionState }, 'ICE did not connect in time; closing the leg');
    onTimeout();
  }, timeoutMs);
  timer.unref();
  const { unSubscribe } = pc.iceConnectionStateChange.subscribe((state) => {
    if (state === 'connected') cancel();
  });
  const cancel = () => {
    clearTimeout(timer);
    unSubscribe();
  };
  return cancel;
}
