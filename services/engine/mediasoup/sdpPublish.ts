import { ortc } from 'mediasoup';
import type {
  MediaKind,
  RtpCapabilities,
  RtpEncodingParameters,
  RtpHeaderExtensionParameters,
  RtpHeaderExtensionUri,
  RtpParameters,
} from 'mediasoup/types';
import { InvalidSdpError } from '../../core/errors.ts';
import type { ParsedSdp, SdpCodec, SdpMedia } from './sdp.ts';
import { codecParameters, FEEDBACK_TYPES, FORWARDED_EXTENSIONS, isMediaCodec } from './sdpCodecs.ts';

/**
 * The publish side of the SDP bridge (the client offers): each offered send section becomes
 * producer parameters (codec chosen against the router, rids for simulcast, SSRCs otherwise);
 * `buildAnswer` (sdpWriter.ts) writes the answer from them.
 */

function answerCodec(c: SdpCodec): SdpCodec {
  return { ...c, rtcpFeedback: c.rtcpFeedback.filter((f) => FEEDBACK_TYPES.has(f.type)) };
}

/** The rtx codec that repairs payload type `pt`, if the section has one. */
function rtxFor(media: SdpMedia, pt: number): SdpCodec | undefined {
  return media.codecs.find((c) => c.name.toLowerCase() === 'rtx' && Number(c.parameters['apt']) === pt);
}

// Well-known simulcast rid names, lowest quality first.
const RID_RANKS: Record<string, number> = { q: 0, l: 0, low: 0, lo: 0, '0': 0, h: 1, m: 1, mid: 1, med: 1, '1': 1, f: 2, high: 2, hi: 2, '2': 2 };

/**
 * mediasoup wants simulcast encodings lowest quality first. SDP does not say which stream is
 * which quality, so the offered order is kept unless every rid is a well-known name (q/h/f,
 * l/m/h, low/mid/high, 0/1/2), which are ordered by rank. ("h" is "half" among q/h/f but "high"
 * among l/m/h; the set decides.)
 */
export function orderRids(rids: string[]): string[] {
  const set = new Set(rids.map((r) => r.toLowerCase()));
  const ranks: Record<string, number> =
    set.has('l') || set.has('m') ? { ...RID_RANKS, h: 2 } : RID_RANKS;
  if (!rids.every((r) => ranks[r.toLowerCase()] !== undefined)) return [...rids];
  return [...rids].sort((a, b) => ranks[a.toLowerCase()]! - ranks[b.toLowerCase()]!);
}

export interface OfferedProducer {
  mid: string;
  kind: MediaKind;
  rtpParameters: RtpParameters;
  /** Stream and track ids the client gave (a=msid), used to group a publisher's tracks. */
  streamId: string | undefined;
  trackId: string | undefined;
  /** The codec chosen for the answer (media codec first, then its rtx). */
  answerCodecs: SdpCodec[];
  answerExtensions: { id: number; uri: string; direction?: string }[];
  /** rids in offered order, for the answer's a=simulcast:recv. */
  rids: string[];
}

/**
 * Producer parameters for one offered send section, or a reason it cannot be received. The codec
 * is the first offered one mediasoup's router can take (its own matching decides, including H264
 * profiles), so the client's preference order is kept.
 */
export function producerFromOffer(media: SdpMedia, routerCaps: RtpCapabilities): OfferedProducer | { rejected: string } {
  if (media.kind !== 'audio' && media.kind !== 'video') return { rejected: `${media.kind} sections are not received` };
  if (media.port === 0) return { rejected: 'section is disabled' };
  if (media.direction !== 'sendonly' && media.direction !== 'sendrecv') return { rejected: `direction ${media.direction} sends nothing` };
  if (!media.protocol.includes('SAVPF')) return { rejected: `protocol ${media.protocol} is not WebRTC` };
  const kind = media.kind;
  const mid = media.mid!;
  // An extension the client only receives (a=extmap:N/recvonly) never arrives from a publisher.
  const headerExtensions: RtpHeaderExtensionParameters[] = media.extensions
    .filter((e) => e.direction !== 'recvonly' && e.direction !== 'inactive')
    .filter((e) => FORWARDED_EXTENSIONS.has(e.uri) && (routerCaps.headerExtensions ?? []).some((h) => h.kind === kind && h.uri === e.uri))
    .map((e) => ({ uri: e.uri as RtpHeaderExtensionUri, id: e.id, encrypt: false, parameters: {} }));

  const cname = media.ssrcs.find((s) => s.attribute === 'cname')?.value;
  const rids = media.simulcast?.direction === 'send' ? media.simulcast.rids : media.rids.filter((r) => r.direction === 'send').map((r) => r.id);
  let encodings: RtpEncodingParameters[];
  if (rids.length > 0) {
    if (!media.extensions.some((e) => e.uri === 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id')) {
      throw new InvalidSdpError(`section ${mid} offers simulcast without the rtp-stream-id header extension`);
    }
    // Browsers send VP8 and H264 simulcast with three temporal layers; saying so lets each
    // subscriber's consumer switch temporal layers as well as spatial ones.
    encodings = orderRids(rids).map((rid) => (kind === 'video' ? { rid, scalabilityMode: 'L1T3' } : { rid }));
  } else {
    const fid = media.ssrcGroups.find((g) => g.semantics === 'FID');
    const first = media.ssrcs[0]?.ssrc;
    const main = fid?.ssrcs[0] ?? first;
    const rtx = fid?.ssrcs[1];
    // No SSRC at all (some WHIP clients): mediasoup then matches the stream by its MID.
    encodings = main === undefined ? [{}] : [{ ssrc: main, ...(rtx !== undefined ? { rtx: { ssrc: rtx } } : {}) }];
  }

  for (const codec of media.codecs.filter(isMediaCodec)) {
    const rtx = kind === 'video' ? rtxFor(media, codec.payloadType) : undefined;
    const rtpParameters: RtpParameters = {
      mid,
      codecs: [
        codecParameters(kind, codec),
        ...(rtx ? [{ mimeType: `${kind}/rtx`, payloadType: rtx.payloadType, clockRate: rtx.clockRate, parameters: { apt: codec.payloadType }, rtcpFeedback: [] }] : []),
      ],
      headerExtensions,
      encodings: encodings.map((e) => ({ ...e })),
      rtcp: { ...(cname ? { cname } : {}), reducedSize: media.rtcpRsize },
    };
    if (!rtx) for (const e of rtpParameters.encodings!) delete e.rtx;
    try {
      ortc.validateAndNormalizeRtpParameters(rtpParameters);
      // Throws when the router has no matching codec (mediasoup's own matching rules).
      ortc.getProducerRtpParametersMapping(rtpParameters, routerCaps);
    } catch {
      continue;
    }
    return {
      mid,
      kind,
      rtpParameters,
      streamId: media.msid?.streamId === '-' ? undefined : media.msid?.streamId,
      trackId: media.msid?.trackId,
      answerCodecs: (rtx ? [codec, rtx] : [codec]).map(answerCodec),
      // We only receive: a sendonly offer is answered recvonly (RFC 8285 section 6).
      answerExtensions: headerExtensions.map((h) => {
        const offered = media.extensions.find((e) => e.id === h.id)?.direction;
        return { id: h.id, uri: h.uri, ...(offered === 'sendonly' ? { direction: 'recvonly' } : {}) };
      }),
      rids,
    };
  }
  return { rejected: `no offered ${kind} codec is supported (${media.codecs.filter(isMediaCodec).map((c) => c.name).join(', ') || 'none'})` };
}

/**
 * Producer parameters for every offered section that can be published, in offer order. Throws
 * InvalidSdpError, naming each section's reason, when there is none.
 */
export function producersFromOffer(parsed: ParsedSdp, routerCaps: RtpCapabilities): OfferedProducer[] {
  const offered: OfferedProducer[] = [];
  const reasons: string[] = [];
  for (const media of parsed.media) {
    const r = producerFromOffer(media, routerCaps);
    if ('rejected' in r) reasons.push(`${media.mid ?? '?'}: ${r.rejected}`);
    else offered.push(r);
  }
  if (offered.length === 0) throw new InvalidSdpError(`offer has nothing to publish (${reasons.join('; ')})`);
  return offered;
}
