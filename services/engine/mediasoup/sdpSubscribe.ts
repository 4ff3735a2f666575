import type { DtlsParameters, MediaKind } from 'mediasoup/types';
import type { ParsedSdp } from './sdp.ts';
import { remoteDtls } from './sdpCodecs.ts';
import { candidateLines, connectionLine, sendSectionLines, sessionHeader, transportLines, type LocalTransport, type SendSection } from './sdpWriter.ts';

/**
 * The subscribe side of the SDP bridge (the engine offers): consumers are created against the
 * router's own capabilities, `buildOffer` writes one sendonly section per consumer, and
 * `parseAnswer` reads the client's DTLS role and which sections it accepted.
 */

/** One section of an engine offer. A closed section keeps its mid and goes inactive with port 0. */
export type OfferSection =
  | { type: 'send'; section: SendSection }
  | { type: 'closed'; mid: string; kind: MediaKind; payloadType: number }
  | { type: 'data'; mid: string };

/**
 * The engine's offer to a subscriber. Sections never move: a departed track's section stays,
 * inactive, so every earlier mid keeps its meaning across renegotiations. (SubscriberLeg reuses
 * such a section for a new track, under a new mid, once the client has answered its closing.)
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
