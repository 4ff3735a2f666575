import { ortc } from 'mediasoup';
import type {
  RtpCapabilities,
  RtpCodecCapability,
  RtpCodecParameters,
  RtpHeaderExtension,
  RtpParameters,
  RouterRtpCodecCapability,
} from 'mediasoup/types';
import { UnsupportedError } from '../../core/errors.ts';
import type { ParsedSdp, SdpMedia } from './sdp.ts';
import { codecParameters, declarableExtension, FEEDBACK_TYPES, FORWARDED_EXTENSIONS, isMediaCodec, mimeOf } from './sdpCodecs.ts';

/**
 * The WHEP side of the SDP bridge (the client offers recvonly): `receiverNumbering` says which
 * payload types the receiver gives the router's codecs (the engine consumes on a router numbered
 * that way, `renumberedCodecs`), `capabilitiesFromOffer` gives its capabilities (NACK without
 * rtx, mediasoup's extension ids), and `receiverEstimate` says whether the consumer gets a
 * bandwidth estimate. `buildAnswer` (sdpWriter.ts) writes the sendonly sections.
 */

const TRANSPORT_CC_URI = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
const ABS_SEND_TIME_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time';

/**
 * A receiver's RTP capabilities from its offer's recvonly sections (WHEP), for consuming on a
 * router whose payload types are the receiver's own (see `receiverNumbering`).
 *
 * - Codecs: the offered media codecs with their RTCP feedback, and no rtx. mediasoup picks a
 *   router's rtx payload types itself, so they cannot follow the offer; without rtx in the
 *   capabilities (and `enableRtx: true` when consuming, which keeps plain NACK) a consumer
 *   answers NACKs by resending the lost packet in the media stream itself.
 * - Header extensions: mediasoup writes each extension under one fixed id of its own, whatever a
 *   receiver offered, so an extension is usable only where the answer can name that id
 *   (`declarableExtension`). The bandwidth estimate needs transport-cc, or abs-send-time with
 *   goog-remb; where neither can be named, their feedback goes too (see `receiverEstimate`).
 */
export function capabilitiesFromOffer(parsed: ParsedSdp, routerCaps: RtpCapabilities): RtpCapabilities {
  const codecs: RtpCodecCapability[] = [];
  const headerExtensions: RtpHeaderExtension[] = [];
  for (const media of parsed.media) {
    if ((media.kind !== 'audio' && media.kind !== 'video') || media.port === 0) continue;
    const kind = media.kind;
    for (const e of media.extensions) {
      if (!FORWARDED_EXTENSIONS.has(e.uri) || e.direction === 'sendonly' || e.direction === 'inactive') continue;
      if (headerExtensions.some((h) => h.kind === kind && h.uri === e.uri)) continue;
      const ours = (routerCaps.headerExtensions ?? []).find((h) => h.kind === kind && h.uri === e.uri);
      if (!ours) continue;
      if (!declarableExtension(parsed, ours.preferredId, ours.uri)) continue;
      headerExtensions.push({ kind, uri: ours.uri, preferredId: ours.preferredId, preferredEncrypt: false, direction: 'sendrecv' });
    }
    const transportCc = headerExtensions.some((h) => h.kind === kind && h.uri === TRANSPORT_CC_URI);
    for (const c of media.codecs) {
      if (!isMediaCodec(c)) continue;
      if (codecs.some((x) => x.kind === kind && x.preferredPayloadType === c.payloadType)) continue;
      codecs.push({
        kind,
        mimeType: mimeOf(kind, c),
        preferredPayloadType: c.payloadType,
        clockRate: c.clockRate,
        ...(c.channels !== undefined ? { channels: c.channels } : {}),
        parameters: { ...c.parameters },
        rtcpFeedback: c.rtcpFeedback.filter((f) => FEEDBACK_TYPES.has(f.type) && (transportCc || f.type !== 'transport-cc')).map((f) => ({ ...f })),
      });
    }
  }
  return { codecs, headerExtensions };
}

/**
 * How a consumer made with `capabilitiesFromOffer` gets its receiver's bandwidth estimate:
 * transport-cc feedback, REMB (abs-send-time and goog-remb), or not at all, when the receiver's
 * offer gave mediasoup's ids for both extensions to others (Chromium's does).
 */
export function receiverEstimate(consumer: RtpParameters): 'transport-cc' | 'remb' | undefined {
  const has = (uri: string) => (consumer.headerExtensions ?? []).some((h) => h.uri === uri);
  const feedback = (type: string) => consumer.codecs.some((c) => (c.rtcpFeedback ?? []).some((f) => f.type === type));
  if (has(TRANSPORT_CC_URI) && feedback('transport-cc')) return 'transport-cc';
  if (has(ABS_SEND_TIME_URI) && feedback('goog-remb')) return 'remb';
  return undefined;
}

/**
 * The receiver's payload type for each of the router's media codecs that its offer can receive:
 * router payload type → the offered one, matched by mediasoup's own codec rules (name, clock
 * rate, channels, H264 profile and packetization mode). The first matching offered codec of a
 * section wins, as the receiver prefers it. mediasoup sends with its router's payload types, so
 * a receiver that numbers a codec differently needs a router numbered its way.
 */
export function receiverNumbering(parsed: ParsedSdp, routerCaps: RtpCapabilities): Map<number, number> {
  const numbering = new Map<number, number>();
  for (const media of parsed.media) {
    if ((media.kind !== 'audio' && media.kind !== 'video') || media.port === 0) continue;
    if (media.direction !== 'recvonly' && media.direction !== 'sendrecv') continue;
    for (const c of media.codecs.filter(isMediaCodec)) {
      const rtpParameters: RtpParameters = { mid: media.mid ?? '0', codecs: [codecParameters(media.kind, c)], headerExtensions: [], encodings: [{ ssrc: 1 }], rtcp: {} };
      let routerPt: number | undefined;
      try {
        ortc.validateAndNormalizeRtpParameters(rtpParameters);
        routerPt = ortc.getProducerRtpParametersMapping(rtpParameters, routerCaps).codecs[0]?.mappedPayloadType;
      } catch {
        continue;
      }
      if (routerPt !== undefined && !numbering.has(routerPt)) numbering.set(routerPt, c.payloadType);
    }
  }
  return numbering;
}

/**
 * `codecs` (a router's media codecs) with the receiver's payload types (`receiverNumbering`), or
 * undefined when the receiver numbers every codec it can receive as `codecs` do. A codec the
 * receiver lacks keeps its number unless the receiver uses that number for another codec.
 */
export function renumberedCodecs(codecs: RouterRtpCodecCapability[], receiver: Map<number, number>): RouterRtpCodecCapability[] | undefined {
  if ([...receiver].every(([ours, theirs]) => ours === theirs)) return undefined;
  const taken = new Set(receiver.values());
  const free = (): number => {
    for (let pt = 96; pt <= 127; pt++) if (!taken.has(pt)) return pt;
    throw new UnsupportedError('the offer leaves no dynamic payload type free for the codecs it does not receive');
  };
  return codecs.map((c) => {
    const ours = c.preferredPayloadType;
    let pt = ours === undefined ? undefined : receiver.get(ours);
    if (pt === undefined) pt = ours === undefined || taken.has(ours) ? free() : ours;
    taken.add(pt);
    return { ...c, preferredPayloadType: pt };
  });
}

/** Whether section `media` offers payload type `pt` for the same codec as `codec`. */
export function offersPayloadType(media: SdpMedia, codec: RtpCodecParameters): boolean {
  const offered = media.codecs.find((c) => c.payloadType === codec.payloadType);
  return offered !== undefined && mimeOf(media.kind, offered).toLowerCase() === codec.mimeType.toLowerCase() && offered.clockRate === codec.clockRate;
}
