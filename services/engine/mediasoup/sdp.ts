import { InvalidSdpError } from '../../core/errors.ts';
import { MAX_SDP_BYTES } from '../sdp.ts';

/**
 * A small SDP model: what the mediasoup bridge needs from browser and WHIP/WHEP offers and
 * answers, and nothing else. Attribute names follow RFC 8866 / RFC 8829 (JSEP); lines this model
 * does not know are kept per section in `other` so that nothing is silently misread.
 */

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface SdpCodec {
  payloadType: number;
  /** Encoding name as written (VP8, opus, rtx, H264...). */
  name: string;
  clockRate: number;
  channels?: number;
  /** fmtp parameters; numeric values as numbers. */
  parameters: Record<string, string | number>;
  rtcpFeedback: { type: string; parameter?: string }[];
}

export interface SdpMedia {
  kind: string;
  port: number;
  protocol: string;
  /** Format list of the m= line, as written. */
  formats: string[];
  mid: string | undefined;
  direction: Direction;
  codecs: SdpCodec[];
  extensions: { id: number; uri: string; direction?: string }[];
  ssrcs: { ssrc: number; attribute: string; value: string | undefined }[];
  ssrcGroups: { semantics: string; ssrcs: number[] }[];
  rids: { id: string; direction: 'send' | 'recv'; params: string | undefined }[];
  /** a=simulcast: the rid list of the one direction given, first alternative of each stream, pause markers removed. */
  simulcast: { direction: 'send' | 'recv'; rids: string[] } | undefined;
  msid: { streamId: string; trackId: string | undefined } | undefined;
  iceUfrag: string | undefined;
  icePwd: string | undefined;
  fingerprints: { algorithm: string; value: string }[];
  setup: 'actpass' | 'active' | 'passive' | 'holdconn' | undefined;
  rtcpMux: boolean;
  rtcpRsize: boolean;
  sctpPort: number | undefined;
  maxMessageSize: number | undefined;
}

export interface ParsedSdp {
  iceUfrag: string | undefined;
  icePwd: string | undefined;
  iceLite: boolean;
  fingerprints: { algorithm: string; value: string }[];
  setup: SdpMedia['setup'];
  bundle: string[];
  extmapAllowMixed: boolean;
  media: SdpMedia[];
}

const DIRECTIONS = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

function parseFmtp(value: string): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    // profile-level-id is hex: keep it a string even when it happens to be all digits.
    out[key] = key !== 'profile-level-id' && /^\d+$/.test(raw) && raw.length < 16 ? Number(raw) : raw;
  }
  return out;
}

function num(value: string | undefined, what: string): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 0) throw new InvalidSdpError(`SDP has a malformed ${what}`);
  return n;
}

function newMedia(line: string): SdpMedia {
  const m = /^m=(\S+) (\d+)(?:\/\d+)? (\S+)(?: (.*))?$/.exec(line);
  if (!m) throw new InvalidSdpError('SDP has a malformed m= line');
  return {
    kind: m[1]!,
    port: Number(m[2]),
    protocol: m[3]!,
    formats: (m[4] ?? '').split(' ').filter(Boolean),
    mid: undefined,
    direction: 'sendrecv',
    codecs: [],
    extensions: [],
    ssrcs: [],
    ssrcGroups: [],
    rids: [],
    simulcast: undefined,
    msid: undefined,
    iceUfrag: undefined,
    icePwd: undefined,
    fingerprints: [],
    setup: undefined,
    rtcpMux: false,
    rtcpRsize: false,
    sctpPort: undefined,
    maxMessageSize: undefined,
  };
}

function codecOf(media: SdpMedia, pt: number): SdpCodec {
  let codec = media.codecs.find((c) => c.payloadType === pt);
  if (!codec) {
    codec = { payloadType: pt, name: '', clockRate: 0, parameters: {}, rtcpFeedback: [] };
    media.codecs.push(codec);
  }
  return codec;
}

/** Parses an SDP offer or answer. Throws InvalidSdpError on anything the bridge cannot use safely. */
export function parseSdp(sdp: string): ParsedSdp {
  if (typeof sdp !== 'string' || sdp.trim() === '') throw new InvalidSdpError('SDP is empty');
  if (sdp.length > MAX_SDP_BYTES) throw new InvalidSdpError(`SDP is larger than ${MAX_SDP_BYTES} bytes`);
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines[0] !== 'v=0') throw new InvalidSdpError('SDP must start with v=0');
  const session: ParsedSdp = {
    iceUfrag: undefined,
    icePwd: undefined,
    iceLite: false,
    fingerprints: [],
    setup: undefined,
    bundle: [],
    extmapAllowMixed: false,
    media: [],
  };
  let sessionDirection: Direction = 'sendrecv';
  let media: SdpMedia | undefined;
  for (const line of lines) {
    if (!/^[a-z]=/.test(line)) throw new InvalidSdpError('SDP has a malformed line');
    if (line.startsWith('m=')) {
      media = newMedia(line);
      media.direction = sessionDirection;
      session.media.push(media);
      continue;
    }
    if (!line.startsWith('a=')) continue;
    const colon = line.indexOf(':');
    const name = colon < 0 ? line.slice(2) : line.slice(2, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1);
    if (DIRECTIONS.has(name)) {
      if (media) media.direction = name as Direction;
      else sessionDirection = name as Direction;
      continue;
    }
    switch (name) {
      case 'ice-ufrag':
        if (media) media.iceUfrag = value;
        else session.iceUfrag = value;
        continue;
      case 'ice-pwd':
        if (media) media.icePwd = value;
        else session.icePwd = value;
        continue;
      case 'ice-lite':
        session.iceLite = true;
        continue;
      case 'fingerprint': {
        const [algorithm, fp] = value.split(' ');
        if (!algorithm || !fp) throw new InvalidSdpError('SDP has a malformed fingerprint');
        (media ?? session).fingerprints.push({ algorithm: algorithm.toLowerCase(), value: fp.toUpperCase() });
        continue;
      }
      case 'setup':
        if (!['actpass', 'active', 'passive', 'holdconn'].includes(value)) throw new InvalidSdpError('SDP has a malformed a=setup');
        (media ?? session).setup = value as SdpMedia['setup'];
        continue;
      case 'group':
        if (value.startsWith('BUNDLE')) session.bundle = value.split(' ').slice(1).filter(Boolean);
        continue;
      case 'extmap-allow-mixed':
        if (!media) session.extmapAllowMixed = true;
        continue;
    }
    if (!media) continue;
    switch (name) {
      case 'mid':
        media.mid = value;
        break;
      case 'rtpmap': {
        const m = /^(\d+) ([^/]+)\/(\d+)(?:\/(\d+))?$/.exec(value);
        if (!m) throw new InvalidSdpError('SDP has a malformed a=rtpmap');
        const codec = codecOf(media, Number(m[1]));
        codec.name = m[2]!;
        codec.clockRate = Number(m[3]);
        if (m[4] !== undefined) codec.channels = Number(m[4]);
        break;
      }
      case 'fmtp': {
        const sp = value.indexOf(' ');
        const pt = num(sp < 0 ? undefined : value.slice(0, sp), 'a=fmtp');
        codecOf(media, pt).parameters = parseFmtp(value.slice(sp + 1));
        break;
      }
      case 'rtcp-fb': {
        const [pt, type, parameter] = value.split(' ');
        if (!pt || !type) throw new InvalidSdpError('SDP has a malformed a=rtcp-fb');
        const targets = pt === '*' ? media.codecs : [codecOf(media, num(pt, 'a=rtcp-fb'))];
        for (const codec of targets) codec.rtcpFeedback.push(parameter ? { type, parameter } : { type });
        break;
      }
      case 'extmap': {
        const m = /^(\d+)(?:\/(\w+))? (\S+)/.exec(value);
        if (!m) throw new InvalidSdpError('SDP has a malformed a=extmap');
        media.extensions.push({ id: Number(m[1]), uri: m[3]!, ...(m[2] ? { direction: m[2] } : {}) });
        break;
      }
      case 'ssrc': {
        const m = /^(\d+) ([^:\s]+)(?::(.*))?$/.exec(value);
        if (!m) throw new InvalidSdpError('SDP has a malformed a=ssrc');
        media.ssrcs.push({ ssrc: Number(m[1]), attribute: m[2]!, value: m[3] });
        break;
      }
      case 'ssrc-group': {
        const [semantics, ...ssrcs] = value.split(' ');
        if (!semantics || ssrcs.length === 0) throw new InvalidSdpError('SDP has a malformed a=ssrc-group');
        media.ssrcGroups.push({ semantics, ssrcs: ssrcs.map((s) => num(s, 'a=ssrc-group')) });
        break;
      }
      case 'rid': {
        const m = /^(\S+) (send|recv)(?: (.*))?$/.exec(value);
        if (!m) throw new InvalidSdpError('SDP has a malformed a=rid');
        media.rids.push({ id: m[1]!, direction: m[2] as 'send' | 'recv', params: m[3] });
        break;
      }
      case 'simulcast': {
        // RFC 8853: "send <streams>" and/or "recv <streams>"; streams are ';'-separated, each a
        // ','-separated list of alternatives, a leading '~' marks a paused stream.
        const m = /^(send|recv) (\S+)/.exec(value);
        if (!m) throw new InvalidSdpError('SDP has a malformed a=simulcast');
        const rids = m[2]!.split(';').map((alts) => alts.split(',')[0]!.replace(/^~/, ''));
        media.simulcast = { direction: m[1] as 'send' | 'recv', rids };
        break;
      }
      case 'msid': {
        const [streamId, trackId] = value.split(' ');
        if (streamId) media.msid = { streamId, trackId };
        break;
      }
      case 'rtcp-mux':
        media.rtcpMux = true;
        break;
      case 'rtcp-rsize':
        media.rtcpRsize = true;
        break;
      case 'sctp-port':
        media.sctpPort = num(value, 'a=sctp-port');
        break;
      case 'max-message-size':
        media.maxMessageSize = num(value, 'a=max-message-size');
        break;
    }
  }
  if (session.media.length === 0) throw new InvalidSdpError('SDP has no media section');
  for (const m of session.media) {
    // Preference order is the m= line's format order, not the order attributes happen to come
    // in (Firefox writes every a=fmtp before its a=rtpmap lines).
    const rank = new Map(m.formats.map((f, i) => [Number(f), i]));
    m.codecs.sort((a, b) => (rank.get(a.payloadType) ?? Infinity) - (rank.get(b.payloadType) ?? Infinity));
    if (m.port !== 0 && m.mid === undefined) throw new InvalidSdpError('SDP media section has no a=mid');
    for (const c of m.codecs) {
      if (!c.name && m.kind !== 'application') throw new InvalidSdpError(`SDP payload type ${c.payloadType} has no a=rtpmap`);
    }
  }
  return session;
}

/** ICE and DTLS parameters of the remote side, from the first bundled section or the session. */
export function remoteTransport(parsed: ParsedSdp): {
  iceUfrag: string;
  icePwd: string;
  fingerprints: { algorithm: string; value: string }[];
  setup: SdpMedia['setup'];
} {
  const first = parsed.media.find((m) => m.port !== 0 && (parsed.bundle.length === 0 || m.mid === parsed.bundle[0])) ?? parsed.media[0]!;
  const iceUfrag = first.iceUfrag ?? parsed.iceUfrag;
  const icePwd = first.icePwd ?? parsed.icePwd;
  const fingerprints = first.fingerprints.length > 0 ? first.fingerprints : parsed.fingerprints;
  if (!iceUfrag || !icePwd) throw new InvalidSdpError('SDP has no ICE credentials');
  if (fingerprints.length === 0) throw new InvalidSdpError('SDP has no DTLS fingerprint');
  return { iceUfrag, icePwd, fingerprints, setup: first.setup ?? parsed.setup };
}

/** One fmtp value string from parameters, in key order. */
export function formatFmtp(parameters: Record<string, unknown> | undefined): string | undefined {
  if (!parameters) return undefined;
  const parts = Object.entries(parameters)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${k}=${String(v)}`);
  return parts.length > 0 ? parts.join(';') : undefined;
}
