import { ortc } from 'mediasoup';
import type {
  DtlsParameters,
  IceCandidate,
  IceParameters,
  MediaKind,
  RtpCapabilities,
  RtpCodecCapability,
  RtpCodecParameters,
  RtpEncodingParameters,
  RtpHeaderExtension,
  RtpHeaderExtensionParameters,
  RtpHeaderExtensionUri,
  RtpParameters,
  RouterRtpCodecCapability,
  SctpParameters,
} from 'mediasoup/types';
import { InvalidSdpError, UnsupportedError } from '../../core/errors.ts';
import { formatFmtp, remoteTransport, type ParsedSdp, type SdpCodec, type SdpMedia } from './sdp.ts';

/**
 * The server-side bridge between SDP and mediasoup's RTP parameters. mediasoup speaks ORTC-style
 * parameters, browsers and WHIP/WHEP clients speak SDP, and this module translates in both
 * directions so the engine keeps the project's SDP-level interface:
 *
 * - publish (client offers): `producerFromOffer` turns each offered send section into producer
 *   parameters (codec chosen against the router, rids for simulcast, SSRCs otherwise);
 *   `buildAnswer` writes the answer.
 * - subscribe (engine offers): consumers are created against the router's own capabilities;
 *   `buildOffer` writes one sendonly section per consumer; `parseAnswer` reads the client's DTLS
 *   role and which sections it accepted.
 * - WHEP (client offers recvonly): `receiverNumbering` says which payload types the receiver
 *   gives the router's codecs (the engine consumes on a router numbered that way),
 *   `capabilitiesFromOffer` gives its capabilities (NACK without rtx, mediasoup's extension
 *   ids); `buildAnswer` writes sendonly sections.
 *
 * The mediasoup side is ICE-lite and always the DTLS server when it answers.
 */

/** The local (mediasoup transport) side of an SDP. */
export interface LocalTransport {
  iceParameters: IceParameters;
  iceCandidates: IceCandidate[];
  dtlsParameters: DtlsParameters;
  sctpParameters?: SctpParameters | undefined;
}

/** Header extensions forwarded through the SFU. Others are refused in answers. */
const FORWARDED_EXTENSIONS = new Set<string>([
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

function isMediaCodec(c: SdpCodec): boolean {
  return !NON_MEDIA.has(c.name.toLowerCase());
}

function mimeOf(kind: string, c: SdpCodec): string {
  return `${kind}/${c.name}`;
}

/** RTCP feedback mediasoup takes part in; other offered types are left out of answers. */
const FEEDBACK_TYPES = new Set(['nack', 'ccm', 'goog-remb', 'transport-cc']);

function answerCodec(c: SdpCodec): SdpCodec {
  return { ...c, rtcpFeedback: c.rtcpFeedback.filter((f) => FEEDBACK_TYPES.has(f.type)) };
}

function codecParameters(kind: string, c: SdpCodec): RtpCodecParameters {
  return {
    mimeType: mimeOf(kind, c),
    payloadType: c.payloadType,
    clockRate: c.clockRate,
    ...(c.channels !== undefined ? { channels: c.channels } : kind === 'audio' && c.name.toLowerCase() === 'opus' ? { channels: 2 } : {}),
    parameters: { ...c.parameters },
    rtcpFeedback: c.rtcpFeedback.map((f) => ({ ...f })),
  };
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

const TRANSPORT_CC_URI = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
const ABS_SEND_TIME_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time';

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

// ---- writing ----------------------------------------------------------------------------------

function candidateLines(local: LocalTransport): string[] {
  return local.iceCandidates.map((c) => {
    let line = `a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.address ?? c.ip} ${c.port} typ ${c.type}`;
    if (c.protocol === 'tcp') line += ` tcptype ${c.tcpType ?? 'passive'}`;
    return line;
  });
}

function connectionLine(local: LocalTransport): string {
  const address = local.iceCandidates[0]?.address ?? local.iceCandidates[0]?.ip ?? '0.0.0.0';
  return address.includes(':') ? `c=IN IP6 ${address}` : `c=IN IP4 ${address}`;
}

function transportLines(local: LocalTransport, setup: 'actpass' | 'passive' | 'active'): string[] {
  const fp = local.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? local.dtlsParameters.fingerprints[0];
  if (!fp) throw new Error('local transport has no DTLS fingerprint');
  return [
    `a=ice-ufrag:${local.iceParameters.usernameFragment}`,
    `a=ice-pwd:${local.iceParameters.password}`,
    `a=fingerprint:${fp.algorithm} ${fp.value}`,
    `a=setup:${setup}`,
  ];
}

function codecLines(kind: string, codecs: { payloadType: number; name: string; clockRate: number; channels?: number | undefined; parameters?: Record<string, unknown>; rtcpFeedback?: { type: string; parameter?: string | undefined }[] }[]): string[] {
  const out: string[] = [];
  for (const c of codecs) {
    const channels = kind === 'audio' && c.channels !== undefined && c.channels > 1 ? `/${c.channels}` : '';
    out.push(`a=rtpmap:${c.payloadType} ${c.name}/${c.clockRate}${channels}`);
    for (const fb of c.rtcpFeedback ?? []) out.push(`a=rtcp-fb:${c.payloadType} ${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`);
    const fmtp = formatFmtp(c.parameters);
    if (fmtp) out.push(`a=fmtp:${c.payloadType} ${fmtp}`);
  }
  return out;
}

function sessionHeader(sessionId: string, version: number, bundle: string[], extmapAllowMixed: boolean): string[] {
  return [
    'v=0',
    `o=- ${sessionId} ${version} IN IP4 0.0.0.0`,
    's=-',
    't=0 0',
    'a=ice-lite',
    ...(bundle.length > 0 ? [`a=group:BUNDLE ${bundle.join(' ')}`] : []),
    'a=msid-semantic: WMS *',
    ...(extmapAllowMixed ? ['a=extmap-allow-mixed'] : []),
  ];
}

function rejectedSection(m: SdpMedia): string[] {
  return [`m=${m.kind} 0 ${m.protocol} ${m.formats.join(' ') || '0'}`, 'c=IN IP4 0.0.0.0', ...(m.mid !== undefined ? [`a=mid:${m.mid}`] : []), 'a=inactive'];
}

function nameOf(mimeType: string): string {
  return mimeType.slice(mimeType.indexOf('/') + 1);
}

/** What the engine sends on one section: a consumer's parameters and the ids the receiver sees. */
export interface SendSection {
  mid: string;
  kind: MediaKind;
  rtpParameters: RtpParameters;
  streamId: string;
  trackId: string;
}

/** `offer`: when answering, only the extensions its ids allow are named (`declarableExtension`). */
function sendSectionLines(s: SendSection, offer?: ParsedSdp): string[] {
  const codecs = s.rtpParameters.codecs;
  const out = codecLines(
    s.kind,
    codecs.map((c) => ({ payloadType: c.payloadType, name: nameOf(c.mimeType), clockRate: c.clockRate, channels: c.channels, parameters: c.parameters, rtcpFeedback: c.rtcpFeedback })),
  );
  for (const e of s.rtpParameters.headerExtensions ?? []) {
    if (!offer || declarableExtension(offer, e.id, e.uri)) out.push(`a=extmap:${e.id} ${e.uri}`);
  }
  out.push(`a=msid:${s.streamId} ${s.trackId}`);
  const encoding = s.rtpParameters.encodings?.[0];
  const cname = s.rtpParameters.rtcp?.cname ?? s.streamId;
  if (encoding?.ssrc !== undefined) {
    if (encoding.rtx?.ssrc !== undefined) out.push(`a=ssrc-group:FID ${encoding.ssrc} ${encoding.rtx.ssrc}`);
    out.push(`a=ssrc:${encoding.ssrc} cname:${cname}`, `a=ssrc:${encoding.ssrc} msid:${s.streamId} ${s.trackId}`);
    if (encoding.rtx?.ssrc !== undefined) out.push(`a=ssrc:${encoding.rtx.ssrc} cname:${cname}`, `a=ssrc:${encoding.rtx.ssrc} msid:${s.streamId} ${s.trackId}`);
  }
  return out;
}

/**
 * The answer to a client offer. `accepted` maps mid → what we do on that section: receive a
 * producer (publish) or send a consumer (WHEP). Every other offered section is rejected (port 0).
 */
export function buildAnswer(opts: {
  offer: ParsedSdp;
  local: LocalTransport;
  accepted: Map<string, { receive: OfferedProducer } | { send: SendSection }>;
  sessionId: string;
}): string {
  const { offer, local, accepted } = opts;
  const bundle = offer.media.filter((m) => m.mid !== undefined && accepted.has(m.mid)).map((m) => m.mid!);
  const lines = sessionHeader(opts.sessionId, 1, bundle, offer.extmapAllowMixed);
  for (const m of offer.media) {
    const what = m.mid !== undefined ? accepted.get(m.mid) : undefined;
    if (!what) {
      lines.push(...rejectedSection(m));
      continue;
    }
    const codecPts = 'receive' in what ? what.receive.answerCodecs.map((c) => c.payloadType) : what.send.rtpParameters.codecs.map((c) => c.payloadType);
    lines.push(`m=${m.kind} 7 UDP/TLS/RTP/SAVPF ${codecPts.join(' ')}`, connectionLine(local), 'a=rtcp:9 IN IP4 0.0.0.0');
    lines.push(...transportLines(local, 'passive'), `a=mid:${m.mid}`);
    if ('receive' in what) {
      const p = what.receive;
      lines.push('a=recvonly');
      lines.push(...codecLines(m.kind, p.answerCodecs));
      for (const e of p.answerExtensions) lines.push(`a=extmap:${e.id}${e.direction ? `/${e.direction}` : ''} ${e.uri}`);
      if (p.rids.length > 0) {
        for (const rid of p.rids) lines.push(`a=rid:${rid} recv`);
        lines.push(`a=simulcast:recv ${p.rids.join(';')}`);
      }
    } else {
      lines.push('a=sendonly', ...sendSectionLines(what.send, offer));
    }
    lines.push('a=rtcp-mux', 'a=rtcp-rsize', ...candidateLines(local), 'a=end-of-candidates');
  }
  return lines.join('\r\n') + '\r\n';
}

/** One section of an engine offer. A closed section keeps its mid and goes inactive with port 0. */
export type OfferSection =
  | { type: 'send'; section: SendSection }
  | { type: 'closed'; mid: string; kind: MediaKind; payloadType: number }
  | { type: 'data'; mid: string };

/**
 * The engine's offer to a subscriber. Sections never move or get reused: a departed track's
 * section stays, inactive, so every earlier mid keeps its meaning across renegotiations.
 */
export function buildOffer(opts: { local: LocalTransport; sections: OfferSection[]; sessionId: string; version: number }): string {
  const { local } = opts;
  const open = opts.sections.filter((s) => s.type !== 'closed').map((s) => (s.type === 'send' ? s.section.mid : s.mid));
  const lines = sessionHeader(opts.sessionId, opts.version, open, true);
  for (const s of opts.sections) {
    if (s.type === 'closed') {
      lines.push(`m=${s.kind} 0 UDP/TLS/RTP/SAVPF ${s.payloadType}`, 'c=IN IP4 0.0.0.0', `a=mid:${s.mid}`, 'a=inactive');
      continue;
    }
    if (s.type === 'data') {
      const sctp = local.sctpParameters;
      lines.push('m=application 7 UDP/DTLS/SCTP webrtc-datachannel', connectionLine(local));
      lines.push(...transportLines(local, 'actpass'), `a=mid:${s.mid}`, `a=sctp-port:${sctp?.port ?? 5000}`, `a=max-message-size:${sctp?.maxReceiveMessageSize ?? 262144}`);
      lines.push(...candidateLines(local), 'a=end-of-candidates');
      continue;
    }
    const sec = s.section;
    lines.push(`m=${sec.kind} 7 UDP/TLS/RTP/SAVPF ${sec.rtpParameters.codecs.map((c) => c.payloadType).join(' ')}`, connectionLine(local), 'a=rtcp:9 IN IP4 0.0.0.0');
    lines.push(...transportLines(local, 'actpass'), `a=mid:${sec.mid}`, 'a=sendonly', ...sendSectionLines(sec));
    lines.push('a=rtcp-mux', 'a=rtcp-rsize', ...candidateLines(local), 'a=end-of-candidates');
  }
  return lines.join('\r\n') + '\r\n';
}

/** What a client's answer to an engine offer says: its DTLS role and the mids it accepted. */
export function parseAnswer(parsed: ParsedSdp): { dtlsParameters: DtlsParameters; accepted: Set<string> } {
  const accepted = new Set<string>();
  for (const m of parsed.media) if (m.port !== 0 && m.mid !== undefined && m.direction !== 'inactive') accepted.add(m.mid);
  return { dtlsParameters: remoteDtls(parsed, false), accepted };
}
