import type { IceServerInfo } from '../signaling/signaling-types.ts';

/**
 * Resolves when ICE gathering is complete, or after `timeoutMs` (then the description holds
 * whatever was gathered so far). The server does not trickle: every candidate must be in the
 * SDP that is sent.
 */
export function iceGatheringComplete(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function check() {
      if (pc.iceGatheringState === 'complete') done();
    }
    function done() {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    }
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** The `joined` message's servers as RTCIceServer; an empty list means host candidates only. */
export function toRtcIceServers(servers: IceServerInfo[] | undefined): RTCIceServer[] {
  return (servers ?? []).map((s) => ({
    urls: s.urls,
    ...(s.username !== undefined ? { username: s.username } : {}),
    ...(s.credential !== undefined ? { credential: s.credential } : {}),
  }));
}

/**
 * Resolves when the connection is `connected`; rejects on `failed`/`closed`, after
 * `timeoutMs`, or with the signal's reason once aborted.
 */
export function connected(pc: RTCPeerConnection, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (pc.connectionState === 'connected') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`connection not established in ${timeoutMs} ms (${pc.connectionState})`)), timeoutMs);
    function check() {
      if (pc.connectionState === 'connected') finish();
      else if (pc.connectionState === 'failed' || pc.connectionState === 'closed') finish(new Error(`connection ${pc.connectionState}`));
    }
    function onAbort() {
      finish(signal!.reason instanceof Error ? signal!.reason : new Error(String(signal!.reason)));
    }
    function finish(err?: Error) {
      clearTimeout(timer);
      pc.removeEventListener('connectionstatechange', check);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    }
    pc.addEventListener('connectionstatechange', check);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
