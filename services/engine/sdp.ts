import { InvalidSdpError } from '../core/errors.ts';

/** Upper bound for any SDP we accept; real offers are a few kilobytes. */
export const MAX_SDP_BYTES = 64 * 1024;

export interface SdpMediaSummary {
  kind: string;
  mid: string | undefined;
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  port: number;
}

/**
 * Checks that `sdp` is a plausible session description before any engine touches it, and
 * summarises its media sections. Engines still do their own full parse; this gives clients a
 * clear `invalid_sdp` for garbage instead of an engine exception.
 */
export function inspectSdp(sdp: unknown): SdpMediaSummary[] {
  if (typeof sdp !== 'string' || sdp.trim() === '') throw new InvalidSdpError('SDP is empty');
  if (sdp.length > MAX_SDP_BYTES) throw new InvalidSdpError(`SDP is larger than ${MAX_SDP_BYTES} bytes`);
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines[0] !== 'v=0') throw new InvalidSdpError('SDP must start with v=0');
  for (const line of lines) {
    if (!/^[a-z]=/.test(line)) throw new InvalidSdpError('SDP has a malformed line');
  }
  const media: SdpMediaSummary[] = [];
  let current: SdpMediaSummary | undefined;
  let sessionDirection: SdpMediaSummary['direction'] = 'sendrecv';
  for (const line of lines) {
    if (line.startsWith('m=')) {
      const m = /^m=(\w+) (\d+)(?:\/\d+)? \S+ ?.*$/.exec(line);
      if (!m) throw new InvalidSdpError('SDP has a malformed m= line');
      current = { kind: m[1]!, mid: undefined, direction: sessionDirection, port: Number(m[2]) };
      media.push(current);
      continue;
    }
    const dir = /^a=(sendrecv|sendonly|recvonly|inactive)$/.exec(line)?.[1] as SdpMediaSummary['direction'] | undefined;
    if (dir) {
      if (current) current.direction = dir;
      else sessionDirection = dir;
      continue;
    }
    const mid = /^a=mid:(\S+)$/.exec(line)?.[1];
    if (mid && current) current.mid = mid;
  }
  if (media.length === 0) throw new InvalidSdpError('SDP has no media section');
  if (!/\r?\na=fingerprint:/.test(sdp)) throw new InvalidSdpError('SDP has no DTLS fingerprint');
  if (!/\r?\na=ice-ufrag:/.test(sdp)) throw new InvalidSdpError('SDP has no ICE credentials');
  return media;
}
