import type { DtlsParameters, RtpCodecParameters } from 'mediasoup/types';
import { InvalidSdpError } from '../../core/errors.ts';
import { remoteTransport, type ParsedSdp, type SdpCodec } from './sdp.ts';

/**
 * What every side of the SDP bridge (publish, subscribe, WHEP) reads the same way: which header
 * extensions and RTCP feedback go through the SFU, which offered codecs are media codecs, and the
 * remote DTLS parameters.
 */

/** Header extensions forwarded through the SFU. Others are refused in answers. */
export const FORWARDED_EXTENSIONS = new Set<string>([
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'urn:3gpp:video-orientation',
  'urn:ietf:params:rtp-hdrext:toffset',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time',
  'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
]);

/** Names that are not media codecs: repair, redundancy and comfort-noise formats. */
const NON_MEDIA = new Set(['rtx', 'red', 'ulpfec', 'flexfec-03', 'cn', 'telephone-event']);

export function isMediaCodec(c: SdpCodec): boolean {
  return !NON_MEDIA.has(c.name.toLowerCase());
}

export function mimeOf(kind: string, c: SdpCodec): string {
  return `${kind}/${c.name}`;
}

/** RTCP feedback mediasoup takes part in; other offered types are left out of answers. */
export const FEEDBACK_TYPES = new Set(['nack', 'ccm', 'goog-remb', 'transport-cc']);

export function codecParameters(kind: string, c: SdpCodec): RtpCodecParameters {
  return {
    mimeType: mimeOf(kind, c),
    payloadType: c.payloadType,
    clockRate: c.clockRate,
    ...(c.channels !== undefined ? { channels: c.channels } : kind === 'audio' && c.name.toLowerCase() === 'opus' ? { channels: 2 } : {}),
    parameters: { ...c.parameters },
    rtcpFeedback: c.rtcpFeedback.map((f) => ({ ...f })),
  };
}

/** Codec name of a MIME type, e.g. "VP8" for "video/VP8" ("unknown" without one). */
export function codecName(mimeType: string | undefined): string {
  return mimeType ? mimeType.slice(mimeType.indexOf('/') + 1) : 'unknown';
}

/**
 * Whether an answer to `offer` may name extension `uri` with `id`: the offer gives that id to the
 * same URI, or to no URI in any section (under BUNDLE the sections share one id space). Moving an
 * offered id onto another URI is refused by Chromium ("RTP extension ID reassignment not
 * supported") and would make any receiver misread the packets.
 */
export function declarableExtension(offer: ParsedSdp, id: number, uri: string): boolean {
  for (const m of offer.media) {
    if (m.port === 0) continue;
    for (const e of m.extensions) if (e.id === id && e.uri !== uri) return false;
  }
  return true;
}

/** The remote DTLS parameters for `transport.connect`, from an offer or an answer. */
export function remoteDtls(parsed: ParsedSdp, weAreAnswering: boolean): DtlsParameters {
  const t = remoteTransport(parsed);
  // When we answer we are always the DTLS server (a=setup:passive), so the client is the DTLS
  // client. When we offered actpass, the client's answer decides.
  let role: DtlsParameters['role'];
  if (weAreAnswering) {
    if (t.setup === 'passive') throw new InvalidSdpError('offer with a=setup:passive is not supported; offer actpass or active');
    role = 'client';
  } else {
    role = t.setup === 'passive' ? 'server' : 'client';
  }
  return {
    role,
    fingerprints: t.fingerprints.map((f) => ({ algorithm: f.algorithm as DtlsParameters['fingerprints'][number]['algorithm'], value: f.value })),
  };
}
