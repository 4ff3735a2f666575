import type { DtlsParameters, IceCandidate, IceParameters, MediaKind, RtpParameters, SctpParameters } from 'mediasoup/types';
import { formatFmtp, type ParsedSdp, type SdpMedia } from './sdp.ts';
import { codecName, declarableExtension } from './sdpCodecs.ts';
import type { OfferedProducer } from './sdpPublish.ts';

/**
 * Writing SDP for mediasoup transports: the lines an answer and an offer share, and `buildAnswer`,
 * the answer to a client's offer (publish or WHEP). The mediasoup side is ICE-lite and always the
 * DTLS server when it answers.
 */

/** The local (mediasoup transport) side of an SDP. */
export interface LocalTransport {
  iceParameters: IceParameters;
  iceCandidates: IceCandidate[];
  dtlsParameters: DtlsParameters;
  sctpParameters?: SctpParameters | undefined;
}

export function candidateLines(local: LocalTransport): string[] {
  return local.iceCandidates.map((c) => {
    let line = `a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.address ?? c.ip} ${c.port} typ ${c.type}`;
    if (c.protocol === 'tcp') line += ` tcptype ${c.tcpType ?? 'passive'}`;
    return line;
  });
}

export function connectionLine(local: LocalTransport): string {
  const address = local.iceCandidates[0]?.address ?? local.iceCandidates[0]?.ip ?? '0.0.0.0';
  return address.includes(':') ? `c=IN IP6 ${address}` : `c=IN IP4 ${address}`;
}

export function transportLines(local: LocalTransport, setup: 'actpass' | 'passive' | 'active'): string[] {
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

export function sessionHeader(sessionId: string, version: number, bundle: string[], extmapAllowMixed: boolean): string[] {
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

/** What the engine sends on one section: a consumer's parameters and the ids the receiver sees. */
export interface SendSection {
  mid: string;
  kind: MediaKind;
  rtpParameters: RtpParameters;
  streamId: string;
  trackId: string;
}
/** `offer`: when answering, only the extensions its ids allow are named (`declarableExtension`). */
export function sendSectionLines(s: SendSection, offer?: ParsedSdp): string[] {
  const codecs = s.rtpParameters.codecs;
  const out = codecLines(
    s.kind,
    codecs.map((c) => ({ payloadType: c.payloadType, name: codecName(c.mimeType), clockRate: c.clockRate, channels: c.channels, parameters: c.parameters, rtcpFeedback: c.rtcpFeedback })),
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
