import { InvalidSdpError } from '../core/errors.ts';
import { inspectSdp } from './sdp.ts';

/**
 * The strict check every client SDP passes before an engine sees it (WHIP and WHEP offers,
 * signaling `publish` offers and `subscriberAnswer` answers; `Room` runs it for all of them),
 * so that both engines get the same input and a client gets `invalid_sdp` naming the rule it
 * broke instead of whatever each engine does with it.
 *
 * Every message starts with the attribute or line it is about, quotes at most a few characters
 * of the input, and otherwise describes bytes by position and code point.
 */
export interface SdpRuleOptions {
  /**
   * Most m-sections accepted. The service's value is SDP_MAX_MEDIA_SECTIONS. Undefined: no
   * limit, for answers, whose sections mirror the engine's own offer (one per stage track, so
   * they grow with the stage) and which the engine matches against that offer.
   */
  maxMediaSections?: number;
}

/**
 * Fingerprint hash functions accepted, with their digest length in bytes: the IANA "Hash
 * Function Textual Names" (RFC 8122) that both engines can verify. mediasoup's DTLS transport
 * takes sha-1 … sha-512 only; md2 and md5, though in the registry, are broken hashes that no
 * engine here implements, so an offer using them could never complete DTLS.
 */
export const FINGERPRINT_HASH_BYTES: Readonly<Record<string, number>> = {
  'sha-1': 20,
  'sha-224': 28,
  'sha-256': 32,
  'sha-384': 48,
  'sha-512': 64,
};
const REFUSED_HASHES = new Set(['md2', 'md5']);

/** RFC 8839 §5.4: ice-char = ALPHA / DIGIT / "+" / "/". */
const ICE_CHAR = /^[A-Za-z0-9+/]$/;
const ICE_LIMITS = { 'ice-ufrag': { min: 4, max: 256 }, 'ice-pwd': { min: 22, max: 256 } } as const;

interface MediaSection {
  /** 1-based, as people count lines. */
  index: number;
  kind: string;
  port: number;
  mid: string | undefined;
}

/** Shape check (`inspectSdp`) plus every rule below; throws InvalidSdpError naming the rule. */
export function assertSdpRules(sdp: unknown, opts: SdpRuleOptions = {}): void {
  inspectSdp(sdp);
  const lines = (sdp as string).split(/\r?\n/).filter((l) => l.length > 0);

  const sectionCount = lines.reduce((n, l) => (l.startsWith('m=') ? n + 1 : n), 0);
  if (opts.maxMediaSections !== undefined && sectionCount > opts.maxMediaSections) {
    throw new InvalidSdpError(`SDP has ${sectionCount} m-sections; at most ${opts.maxMediaSections} are accepted`);
  }

  const sections: MediaSection[] = [];
  const bundleGroups: string[][] = [];
  let current: MediaSection | undefined;
  for (const line of lines) {
    if (line.startsWith('m=')) {
      const [kind = '', port = ''] = line.slice(2).split(' ');
      current = { index: sections.length + 1, kind, port: Number.parseInt(port, 10), mid: undefined };
      sections.push(current);
      continue;
    }
    if (!line.startsWith('a=')) continue;
    const colon = line.indexOf(':');
    const name = colon === -1 ? line.slice(2) : line.slice(2, colon);
    const value = colon === -1 ? undefined : line.slice(colon + 1);
    switch (name) {
      case 'fingerprint':
        checkFingerprint(value ?? '');
        break;
      case 'ice-ufrag':
      case 'ice-pwd':
        checkIceCredential(name, value ?? '');
        break;
      case 'mid':
        if (!current) throw new InvalidSdpError('a=mid: found at session level, outside any m-section');
        if (!value) throw new InvalidSdpError(`a=mid: m-section ${current.index} has an empty mid`);
        if (current.mid !== undefined) throw new InvalidSdpError(`a=mid: m-section ${current.index} has more than one a=mid`);
        current.mid = value;
        break;
      case 'group': {
        const [semantics = '', ...tags] = (value ?? '').split(' ');
        if (semantics === 'BUNDLE') bundleGroups.push(tags.filter((t) => t !== ''));
        break;
      }
    }
  }
  checkMids(sections, bundleGroups);
}

function checkFingerprint(value: string): void {
  const m = /^(\S+) (\S+)$/.exec(value);
  if (!m) throw new InvalidSdpError('a=fingerprint: expected "<hash function> <hex pairs>", e.g. "sha-256 AB:CD:…"');
  const hash = m[1]!.toLowerCase();
  const fingerprint = m[2]!;
  const bytes = FINGERPRINT_HASH_BYTES[hash];
  if (bytes === undefined) {
    const accepted = Object.keys(FINGERPRINT_HASH_BYTES).join(', ');
    const why = REFUSED_HASHES.has(hash) ? 'is not accepted (a broken hash)' : 'is not a known hash function';
    throw new InvalidSdpError(`a=fingerprint: ${quote(m[1]!)} ${why}; use one of ${accepted}`);
  }
  if (!/^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})*$/.test(fingerprint)) {
    throw new InvalidSdpError(`a=fingerprint: ${hash} value must be colon-separated hex pairs (${describeFirstBad(fingerprint)})`);
  }
  const got = (fingerprint.length + 1) / 3;
  if (got !== bytes) throw new InvalidSdpError(`a=fingerprint: ${hash} needs ${bytes} bytes, got ${got}`);
}

function checkIceCredential(name: keyof typeof ICE_LIMITS, value: string): void {
  const { min, max } = ICE_LIMITS[name];
  const chars = [...value];
  const bad = chars.findIndex((c) => !ICE_CHAR.test(c));
  if (bad !== -1) {
    throw new InvalidSdpError(`a=${name}: ${codePoint(chars[bad]!)} at position ${bad + 1} is not an ice-char (ALPHA / DIGIT / "+" / "/")`);
  }
  if (chars.length < min || chars.length > max) {
    throw new InvalidSdpError(`a=${name}: must be ${min}–${max} ice-chars, got ${chars.length}`);
  }
}

/**
 * Mids: unique where present. With BUNDLE (every browser's offer) each m-section needs one, as
 * JSEP writes them, and each BUNDLE group may name only mids that exist, once. Without BUNDLE a
 * rejected section (port 0) may go without one, but a live one may not: both engines key a
 * section's track by its mid.
 */
function checkMids(sections: MediaSection[], bundleGroups: string[][]): void {
  const byMid = new Map<string, MediaSection>();
  for (const section of sections) {
    if (section.mid === undefined) {
      if (bundleGroups.length > 0) throw new InvalidSdpError(`a=mid: m-section ${section.index} has none; a BUNDLE offer needs one in every m-section`);
      if (section.port !== 0) throw new InvalidSdpError(`a=mid: m-section ${section.index} has none; every m-section with a port needs one`);
      continue;
    }
    const first = byMid.get(section.mid);
    if (first) throw new InvalidSdpError(`a=mid: ${quote(section.mid)} is used by m-sections ${first.index} and ${section.index}`);
    byMid.set(section.mid, section);
  }
  const grouped = new Set<string>();
  for (const tags of bundleGroups) {
    for (const tag of tags) {
      if (!byMid.has(tag)) throw new InvalidSdpError(`a=group:BUNDLE: names mid ${quote(tag)}, which no m-section has`);
      if (grouped.has(tag)) throw new InvalidSdpError(`a=group:BUNDLE: mid ${quote(tag)} is named more than once`);
      grouped.add(tag);
    }
  }
}

/** A short, printable quotation of client input: at most 24 characters, non-ASCII escaped. */
function quote(s: string): string {
  const chars = [...s];
  const head = chars.slice(0, 24).map((c) => (/^[\x21-\x7e]$/.test(c) ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`)).join('');
  return `"${head}${chars.length > 24 ? '…' : ''}"`;
}

function codePoint(c: string): string {
  const cp = c.codePointAt(0)!;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return /^[\x21-\x7e]$/.test(c) ? `"${c}" (${hex})` : hex;
}

function describeFirstBad(fingerprint: string): string {
  const chars = [...fingerprint];
  for (let i = 0; i < chars.length; i++) {
    const expectColon = i % 3 === 2;
    const ok = expectColon ? chars[i] === ':' : /^[0-9A-Fa-f]$/.test(chars[i]!);
    if (!ok) return `${codePoint(chars[i]!)} at position ${i + 1}`;
  }
  return 'it ends in the middle of a pair';
}
