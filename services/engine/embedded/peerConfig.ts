import {
  RTCRtpCodecParameters,
  useAbsSendTime,
  useNACK,
  usePLI,
  useREMB,
  useSdesMid,
  type PeerConfig,
} from 'werift';
import type { EngineOptions } from '../EngineTypes.ts';

/**
 * One codec table for every leg. Publisher and subscriber legs must agree exactly on payload
 * types and parameters: werift forwards packets unchanged and would silently mislabel a
 * stream whose payload type meant something else on the other leg.
 *
 * Video feedback is NACK + PLI + REMB. No transport-cc: werift's TWCC feedback is too weak
 * for Chromium's send-side estimator, so the engine sends REMB itself (see PublisherLeg).
 */
export const CODECS = {
  audio: [
    new RTCRtpCodecParameters({
      mimeType: 'audio/opus',
      clockRate: 48000,
      channels: 2,
      payloadType: 111,
      parameters: 'minptime=10;useinbandfec=1',
      rtcpFeedback: [],
    }),
  ],
  video: [
    new RTCRtpCodecParameters({
      mimeType: 'video/VP8',
      clockRate: 90000,
      payloadType: 96,
      rtcpFeedback: [useNACK(), usePLI(), useREMB()],
    }),
    new RTCRtpCodecParameters({
      mimeType: 'video/H264',
      clockRate: 90000,
      payloadType: 102,
      parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
      rtcpFeedback: [useNACK(), usePLI(), useREMB()],
    }),
  ],
};

export function peerConfig(opts: EngineOptions): Partial<PeerConfig> {
  const v6 = opts.listenIp.includes(':');
  return {
    codecs: CODECS,
    headerExtensions: {
      audio: [useSdesMid()],
      video: [useSdesMid(), useAbsSendTime()],
    },
    bundlePolicy: 'max-bundle',
    // Never the library's default public STUN server: this engine talks only to what we configure.
    iceServers: opts.iceServers ?? [],
    iceUseIpv4: !v6,
    iceUseIpv6: v6,
    iceUseTcp: false,
    iceInterfaceAddresses: v6 ? { udp6: opts.listenIp } : { udp4: opts.listenIp },
    iceAdditionalHostAddresses: [opts.listenIp],
    icePortRange: opts.portRange,
  };
}

/**
 * Keeps only candidates on the configured address (werift also lists the machine's other
 * interfaces, whose sockets are not bound) and rewrites them to the announced address.
 */
export function restrictCandidates(sdp: string, opts: EngineOptions): string {
  const announced = opts.announcedIp ?? opts.listenIp;
  return sdp
    .split('\r\n')
    .filter((line) => {
      if (!line.startsWith('a=candidate:')) return true;
      const address = line.split(' ')[4];
      return address === opts.listenIp || address === announced;
    })
    .map((line) => {
      if (!line.startsWith('a=candidate:') || announced === opts.listenIp) return line;
      const parts = line.split(' ');
      parts[4] = announced;
      return parts.join(' ');
    })
    .join('\r\n');
}
