import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';

/**
 * Generators for fuzzing the service's SDP and signaling edges with fast-check: mutations of
 * the real offers in test/fixtures/sdp (garbled fingerprints and ICE credentials, duplicated or
 * removed mids, extra m-sections, dropped and duplicated lines, random bytes), and random
 * signaling frames. Plus the seed policy: fixed under CI=true, FUZZ_SEED to replay, random
 * otherwise.
 */

const FIXTURES = new URL('../fixtures/sdp/', import.meta.url);

/** Every fixture offer, by file name. */
export const FIXTURE_OFFERS: ReadonlyMap<string, string> = new Map(
  readdirSync(FIXTURES)
    .filter((n) => n.endsWith('.sdp'))
    .sort()
    .map((n) => [n, readFileSync(new URL(n, FIXTURES), 'utf8')]),
);

/** The seed CI runs with, so that a CI failure replays exactly. */
const CI_SEED = 20261204;

/**
 * The seed of this run: FUZZ_SEED if set, CI_SEED under CI=true, else random. Printed by the
 * caller, so that any run can be replayed with FUZZ_SEED.
 */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): number {
  if (env.FUZZ_SEED) {
    const seed = Number(env.FUZZ_SEED);
    if (!Number.isInteger(seed)) throw new TypeError(`FUZZ_SEED must be an integer, got ${env.FUZZ_SEED}`);
    return seed;
  }
  if (env.CI === 'true') return CI_SEED;
  return Math.floor(Math.random() * 0x7fffffff);
}

/** A mutation of an SDP, applied to its lines; indexes are taken modulo what exists. */
export type SdpMutation =
  | { op: 'fingerprint'; which: number; value: string }
  | { op: 'ice'; attr: 'ice-ufrag' | 'ice-pwd'; which: number; value: string }
  | { op: 'duplicateMid'; from: number; to: number }
  | { op: 'removeMid'; which: number }
  | { op: 'bundle'; mids: string[] }
  | { op: 'extraSections'; count: number; inBundle: boolean }
  | { op: 'dropLine'; at: number }
  | { op: 'duplicateLine'; at: number }
  | { op: 'randomBytes'; at: number; bytes: string };

const hexPairs = (min: number, max: number) =>
  fc.array(fc.integer({ min: 0, max: 255 }), { minLength: min, maxLength: max }).map((bytes) => bytes.map((b) => b.toString(16).padStart(2, '0')).join(':'));

/** Strings whose code units span 0x00–0xFF plus some multi-byte characters, for credential and byte garbage. */
const garbage = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: fc.constantFrom(...'abcXYZ019+/ =:-\t\u0080\u00ff\u00e9'), maxLength }),
  );

const fingerprintValue = fc.oneof(
  fc.tuple(fc.constantFrom('sha-256', 'SHA-256', 'sha-1', 'sha-384', 'sha-512', 'md5', 'md2', 'md9', ''), fc.oneof(hexPairs(0, 70), garbage(40))).map(([h, v]) => `${h} ${v}`),
  fc.constantFrom('sha-256 ZZ:ZZ:ZZ', 'sha-256 AB:CD:EF', 'sha-256', '', ' '),
  garbage(80),
);

const iceValue = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'abcdefXYZ0189+/'), maxLength: 300 }),
  garbage(60),
  fc.integer({ min: 0, max: 300 }).map((n) => 'u'.repeat(n)),
);

export const sdpMutation: fc.Arbitrary<SdpMutation> = fc.oneof(
  fc.record({ op: fc.constant('fingerprint' as const), which: fc.nat(), value: fingerprintValue }),
  fc.record({ op: fc.constant('ice' as const), attr: fc.constantFrom('ice-ufrag' as const, 'ice-pwd' as const), which: fc.nat(), value: iceValue }),
  fc.record({ op: fc.constant('duplicateMid' as const), from: fc.nat(), to: fc.nat() }),
  fc.record({ op: fc.constant('removeMid' as const), which: fc.nat() }),
  fc.record({ op: fc.constant('bundle' as const), mids: fc.array(fc.oneof(fc.constantFrom('0', '1', '2'), garbage(8)), { maxLength: 4 }) }),
  fc.record({ op: fc.constant('extraSections' as const), count: fc.integer({ min: 1, max: 24 }), inBundle: fc.boolean() }),
  fc.record({ op: fc.constant('dropLine' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('duplicateLine' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('randomBytes' as const), at: fc.nat(), bytes: garbage(32) }),
);

/** A fixture offer and 0–4 mutations of it (none: the offer as captured must be accepted). */
export const mutatedOffer = (names: readonly string[] = [...FIXTURE_OFFERS.keys()]) =>
  fc.record({ fixture: fc.constantFrom(...names), mutations: fc.array(sdpMutation, { maxLength: 4 }) });

/** Applies mutations in order; the result keeps the fixture's line ends (CRLF). */
export function applyMutations(sdp: string, mutations: readonly SdpMutation[]): string {
  let lines = sdp.split('\r\n');
  const trailing = lines.at(-1) === '' ? lines.pop() : undefined;
  for (const m of mutations) lines = applyOne(lines, m);
  if (trailing !== undefined) lines.push(trailing);
  return lines.join('\r\n');
}

function applyOne(lines: string[], m: SdpMutation): string[] {
  const indexes = (pred: (l: string) => boolean) => lines.flatMap((l, i) => (pred(l) ? [i] : []));
  const pick = (list: number[], n: number) => (list.length ? list[n % list.length] : undefined);
  const out = [...lines];
  switch (m.op) {
    case 'fingerprint': {
      const i = pick(indexes((l) => l.startsWith('a=fingerprint:')), m.which);
      if (i !== undefined) out[i] = `a=fingerprint:${m.value}`;
      return out;
    }
    case 'ice': {
      const i = pick(indexes((l) => l.startsWith(`a=${m.attr}:`)), m.which);
      if (i !== undefined) out[i] = `a=${m.attr}:${m.value}`;
      return out;
    }
    case 'duplicateMid': {
      const mids = indexes((l) => l.startsWith('a=mid:'));
      const from = pick(mids, m.from);
      const to = pick(mids, m.to);
      if (from !== undefined && to !== undefined) out[to] = out[from]!;
      return out;
    }
    case 'removeMid': {
      const i = pick(indexes((l) => l.startsWith('a=mid:')), m.which);
      if (i !== undefined) out.splice(i, 1);
      return out;
    }
    case 'bundle': {
      const i = pick(indexes((l) => l.startsWith('a=group:BUNDLE')), 0);
      if (i !== undefined) out[i] = ['a=group:BUNDLE', ...m.mids].join(' ');
      return out;
    }
    case 'extraSections': {
      const base = lines.filter((l) => l.startsWith('a=ice-') || l.startsWith('a=fingerprint:')).slice(0, 3);
      const added = Array.from({ length: m.count }, (_, k) => [
        'm=video 9 UDP/TLS/RTP/SAVPF 96',
        'c=IN IP4 0.0.0.0',
        ...base,
        'a=setup:actpass',
        `a=mid:x${k}`,
        'a=recvonly',
        'a=rtcp-mux',
        'a=rtpmap:96 VP8/90000',
      ]).flat();
      if (m.inBundle) {
        const g = pick(indexes((l) => l.startsWith('a=group:BUNDLE')), 0);
        if (g !== undefined) out[g] = `${out[g]} ${Array.from({ length: m.count }, (_, k) => `x${k}`).join(' ')}`;
      }
      return [...out, ...added];
    }
    case 'dropLine':
      if (out.length > 0) out.splice(m.at % out.length, 1);
      return out;
    case 'duplicateLine':
      if (out.length > 0) out.splice(m.at % out.length, 0, out[m.at % out.length]!);
      return out;
    case 'randomBytes': {
      if (out.length === 0) return [m.bytes];
      const i = m.at % out.length;
      const line = out[i]!;
      const at = m.at % (line.length + 1);
      out[i] = line.slice(0, at) + m.bytes + line.slice(at);
      return out;
    }
  }
}

/** A mutated offer as HTTP body bytes: its code units as Latin-1 bytes where under 0x100, UTF-8 otherwise. */
export function toBodyBytes(sdp: string): Uint8Array<ArrayBuffer> {
  // Latin-1 for code units < 0x100 puts raw bytes 0x80–0xFF on the wire (invalid UTF-8 included).
  const latin1 = [...sdp].every((c) => c.charCodeAt(0) < 0x100);
  return new Uint8Array(Buffer.from(sdp, latin1 ? 'latin1' : 'utf8'));
}

/** Client message types of signaling v1 (services/signaling/protocol.ts), plus a few that do not exist. */
const MESSAGE_TYPES = [
  'join', 'publish', 'unpublish', 'subscribe', 'subscriberAnswer', 'unsubscribe', 'ping', 'raiseHand', 'lowerHand', 'promote',
  'demote', 'mute', 'unmute', 'kick', 'unblock', 'endBroadcast', 'setLayers', 'leaveStage', 'publsh', '', '__proto__', 'constructor',
];

/**
 * A random signaling frame: any JSON; an envelope of a known (or near-known) type with random
 * fields; or text that is not JSON. Never `leave` (it ends the session by design).
 */
export const signalingFrame: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
  fc
    .record(
      {
        v: fc.oneof(fc.constant(1), fc.constant(1), fc.jsonValue()),
        type: fc.oneof(fc.constantFrom(...MESSAGE_TYPES), fc.string({ maxLength: 80 })),
        id: fc.oneof(fc.string({ maxLength: 70 }), fc.jsonValue()),
        sdp: fc.oneof(fc.string({ maxLength: 200 }), fc.jsonValue()),
        version: fc.oneof(fc.integer({ min: -2, max: 3 }), fc.double(), fc.jsonValue()),
        participantId: fc.oneof(fc.string({ maxLength: 70 }), fc.jsonValue()),
        trackId: fc.string({ maxLength: 70 }),
        spatialLayer: fc.oneof(fc.integer({ min: -1, max: 10 }), fc.jsonValue()),
        kind: fc.oneof(fc.constantFrom('audio', 'video'), fc.jsonValue()),
        identity: fc.string({ maxLength: 140 }),
        reason: fc.string({ maxLength: 210 }),
        extra: fc.jsonValue(),
      },
      { requiredKeys: ['type'] },
    )
    .map((o) => JSON.stringify(o)),
  fc.string({ unit: 'binary', maxLength: 200 }),
);
