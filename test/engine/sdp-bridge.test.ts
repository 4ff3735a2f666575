/**
 * The SDP ↔ mediasoup bridge (services/engine/mediasoup/sdpBridge.ts) against real offers: the
 * fixtures in test/fixtures/sdp (Chromium captures and Firefox-format offers), mediasoup's own
 * ORTC functions as the judge of the parameters it produces (no worker needed), and, at the end,
 * Debian's Chromium as the judge of the SDP it writes.
 *
 * Run: node scripts/test.mjs test/engine/sdp-bridge.test.ts
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as mediasoup from 'mediasoup';
import type { RouterRtpCodecCapability, RtpCapabilities, RtpParameters } from 'mediasoup/types';
import type { Page } from 'playwright-core';
import { InvalidSdpError } from '../../services/core/errors.ts';
import { parseSdp, type ParsedSdp, type SdpMedia } from '../../services/engine/mediasoup/sdp.ts';
import {
  buildAnswer,
  buildOffer,
  capabilitiesFromOffer,
  offersPayloadType,
  orderRids,
  parseAnswer,
  producerFromOffer,
  declarableExtension,
  receiverEstimate,
  receiverNumbering,
  remoteDtls,
  renumberedCodecs,
  type LocalTransport,
  type OfferedProducer,
  type OfferSection,
  type SendSection,
} from '../../services/engine/mediasoup/sdpBridge.ts';
import { MEDIA_CODECS } from '../../services/engine/mediasoup/RouterSet.ts';
import { serveBlankPage } from '../support/blankPage.ts';
import { launchChromium, type LaunchedChromium } from '../support/chromium.ts';
import { installScenarioPeerConnection, type OfferScenario, type ScenarioWindow } from '../support/sdpScenarios.ts';

const { ortc } = mediasoup;

/** The engine's own router codecs, so that payload types are the ones the engine really uses. */
const ROUTER_CODECS: RouterRtpCodecCapability[] = MEDIA_CODECS;
const routerCaps = ortc.generateRouterRtpCapabilities(ROUTER_CODECS);
const vp8OnlyRouterCaps = ortc.generateRouterRtpCapabilities(ROUTER_CODECS.filter((c) => !/H264|VP9/.test(c.mimeType)));

/** A mediasoup WebRtcTransport's side as the engine would pass it (ICE-lite, one UDP and one TCP candidate). */
const LOCAL: LocalTransport = {
  iceParameters: { usernameFragment: 'msufrag0123456789', password: 'mspassword0123456789abcdef', iceLite: true },
  iceCandidates: [
    { foundation: 'udpcandidate', priority: 1076302079, address: '127.0.0.1', ip: '127.0.0.1', protocol: 'udp', port: 40_001, type: 'host' },
    { foundation: 'tcpcandidate', priority: 1076276479, address: '127.0.0.1', ip: '127.0.0.1', protocol: 'tcp', port: 40_002, type: 'host', tcpType: 'passive' },
  ],
  dtlsParameters: {
    role: 'auto',
    fingerprints: [{ algorithm: 'sha-256', value: Array.from({ length: 32 }, (_, i) => (i * 7 + 16).toString(16).toUpperCase().padStart(2, '0')).join(':') }],
  },
};

const fixture = (name: string) => readFileSync(new URL(`../fixtures/sdp/${name}.sdp`, import.meta.url), 'utf8');
const PUBLISH_FIXTURES = ['chrome-publish-simulcast', 'chrome-publish-single', 'chrome-publish-h264', 'firefox-publish-simulcast', 'firefox-publish-single'];

function section(parsed: ParsedSdp, kind: string): SdpMedia {
  const m = parsed.media.find((x) => x.kind === kind);
  assert.ok(m, `no ${kind} section`);
  return m;
}

function accept(media: SdpMedia, caps: RtpCapabilities = routerCaps): OfferedProducer {
  const result = producerFromOffer(media, caps);
  assert.ok(!('rejected' in result), `section ${media.mid} rejected: ${'rejected' in result ? result.rejected : ''}`);
  return result;
}

/** The first media codec of the m= line: the client's preference. */
function preferredCodec(media: SdpMedia, caps: RtpCapabilities) {
  for (const format of media.formats) {
    const codec = media.codecs.find((c) => c.payloadType === Number(format))!;
    if (caps.codecs!.some((c) => c.mimeType.toLowerCase() === `${media.kind}/${codec.name}`.toLowerCase())) return codec;
  }
  return undefined;
}

/**
 * Runs a producer's parameters through everything mediasoup does with them when a producer is
 * created and consumed; any step throwing means mediasoup would refuse them.
 */
function throughMediasoup(kind: 'audio' | 'video', rtpParameters: RtpParameters, consumerCaps: RtpCapabilities = routerCaps, router: RtpCapabilities = routerCaps) {
  const params = structuredClone(rtpParameters);
  ortc.validateAndNormalizeRtpParameters(params);
  const mapping = ortc.getProducerRtpParametersMapping(params, router);
  const consumable = ortc.getConsumableRtpParameters(kind, params, router, mapping);
  assert.ok(ortc.canConsume(consumable, consumerCaps), 'mediasoup would not let this consumer consume the producer');
  const consumer = ortc.getConsumerRtpParameters({ consumableRtpParameters: consumable, remoteRtpCapabilities: consumerCaps, pipe: false, enableRtx: true });
  return { mapping, consumable, consumer };
}

describe('SDP bridge: client offers to producer parameters', () => {
  for (const name of [...PUBLISH_FIXTURES, 'chrome-whep-recvonly']) {
    it(`parses ${name}`, () => {
      const parsed = parseSdp(fixture(name));
      assert.deepEqual(
        parsed.media.map((m) => m.kind),
        ['audio', 'video'],
      );
      assert.ok(parsed.media.every((m) => m.mid !== undefined && m.codecs.length > 0));
    });
  }

  it('Chrome simulcast: rids lowest first, rid header extensions, no SSRCs; mediasoup maps three layers', () => {
    const offer = parseSdp(fixture('chrome-publish-simulcast'));
    const audio = accept(section(offer, 'audio'));
    const video = accept(section(offer, 'video'));

    assert.equal(audio.rtpParameters.codecs[0]!.mimeType, 'audio/opus');
    assert.equal(audio.rtpParameters.codecs[0]!.payloadType, 111);
    assert.equal(audio.rtpParameters.encodings![0]!.ssrc, section(offer, 'audio').ssrcs[0]!.ssrc);

    assert.deepEqual(video.rids, ['q', 'h', 'f']);
    assert.deepEqual(
      video.rtpParameters.encodings!.map((e) => [e.rid, e.ssrc]),
      [
        ['q', undefined],
        ['h', undefined],
        ['f', undefined],
      ],
    );
    assert.deepEqual(
      video.rtpParameters.codecs.map((c) => [c.mimeType, c.payloadType]),
      [
        ['video/VP8', 96],
        ['video/rtx', 97],
      ],
    );
    const ids = Object.fromEntries(video.rtpParameters.headerExtensions!.map((h) => [h.uri, h.id]));
    assert.equal(ids['urn:ietf:params:rtp-hdrext:sdes:mid'], 4);
    assert.equal(ids['urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id'], 10);
    assert.equal(ids['urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id'], 11);
    assert.equal(video.streamId, section(offer, 'video').msid!.streamId);

    const { mapping, consumer } = throughMediasoup('video', video.rtpParameters);
    assert.deepEqual(
      mapping.encodings.map((e) => e.rid),
      ['q', 'h', 'f'],
    );
    // Three spatial layers, each with the three temporal layers browsers send for VP8.
    assert.equal(consumer.encodings![0]!.scalabilityMode, 'L3T3');
    throughMediasoup('audio', audio.rtpParameters);
  });

  it('Chrome single: the FID group gives the media and RTX SSRCs', () => {
    const offer = parseSdp(fixture('chrome-publish-single'));
    const media = section(offer, 'video');
    const video = accept(media);
    const fid = media.ssrcGroups.find((g) => g.semantics === 'FID')!;
    assert.deepEqual(
      video.rtpParameters.encodings!.map((e) => [e.ssrc, e.rtx?.ssrc, e.rid]),
      [[fid.ssrcs[0], fid.ssrcs[1], undefined]],
    );
    assert.equal(video.rtpParameters.rtcp!.cname, media.ssrcs.find((s) => s.attribute === 'cname')!.value);
    assert.deepEqual(video.rids, []);
    const { mapping } = throughMediasoup('video', video.rtpParameters);
    assert.equal(mapping.encodings[0]!.ssrc, fid.ssrcs[0]);
  });

  it('Chrome H264 first: the client preference wins when the router has that profile, else the next codec', () => {
    const media = section(parseSdp(fixture('chrome-publish-h264')), 'video');
    const h264 = accept(media);
    assert.deepEqual(
      h264.rtpParameters.codecs.map((c) => [c.mimeType, c.payloadType]),
      [
        ['video/H264', 108],
        ['video/rtx', 109],
      ],
    );
    assert.equal(h264.rtpParameters.codecs[0]!.parameters!['packetization-mode'], 1);
    throughMediasoup('video', h264.rtpParameters);

    const vp8 = accept(media, vp8OnlyRouterCaps);
    assert.equal(vp8.rtpParameters.codecs[0]!.mimeType, 'video/VP8');
    assert.equal(vp8.rtpParameters.codecs[0]!.payloadType, 96);
  });

  it('Firefox simulcast: rids offered high→low become lowest-first encodings; the answer keeps the offered order', () => {
    const offer = parseSdp(fixture('firefox-publish-simulcast'));
    const audio = accept(section(offer, 'audio'));
    const video = accept(section(offer, 'video'));
    assert.equal(audio.rtpParameters.codecs[0]!.payloadType, 109);
    assert.equal(audio.rtpParameters.rtcp!.cname, section(offer, 'audio').ssrcs[0]!.value);
    assert.deepEqual(video.rids, ['f', 'h', 'q']);
    assert.deepEqual(
      video.rtpParameters.encodings!.map((e) => e.rid),
      ['q', 'h', 'f'],
    );
    const ids = Object.fromEntries(video.rtpParameters.headerExtensions!.map((h) => [h.uri, h.id]));
    assert.equal(ids['urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id'], 8);
    assert.equal(ids['urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id'], 9);
    throughMediasoup('video', video.rtpParameters);
    throughMediasoup('audio', audio.rtpParameters);
  });

  for (const name of PUBLISH_FIXTURES) {
    it(
      `${name}: the codec chosen is the client's first preference on the m= line`,
      // Firefox writes every a=fmtp before any a=rtpmap: the m= line's order must still win.
      {},
      () => {
        const media = section(parseSdp(fixture(name)), 'video');
        const expected = preferredCodec(media, routerCaps)!;
        assert.equal(accept(media).rtpParameters.codecs[0]!.payloadType, expected.payloadType);
      },
    );
  }

  it('Firefox single: FID SSRCs, no rids, no rid header extensions', () => {
    const media = section(parseSdp(fixture('firefox-publish-single')), 'video');
    const video = accept(media);
    const fid = media.ssrcGroups.find((g) => g.semantics === 'FID')!;
    assert.deepEqual(video.rids, []);
    assert.equal(video.rtpParameters.encodings![0]!.ssrc, fid.ssrcs[0]);
    assert.equal(video.rtpParameters.encodings![0]!.rtx?.ssrc, fid.ssrcs[1]);
    assert.ok(!video.rtpParameters.headerExtensions!.some((h) => h.uri.includes('rtp-stream-id')));
    throughMediasoup('video', video.rtpParameters);
  });

  it('no a=ssrc lines and no rids (some WHIP clients): one encoding, matched by MID', () => {
    const sdp = fixture('chrome-publish-single').replace(/^a=ssrc(-group)?:.*\r\n/gm, '');
    const video = accept(section(parseSdp(sdp), 'video'));
    assert.equal(video.rtpParameters.encodings!.length, 1);
    assert.equal(video.rtpParameters.encodings![0]!.ssrc, undefined);
    assert.ok(video.rtpParameters.headerExtensions!.some((h) => h.uri === 'urn:ietf:params:rtp-hdrext:sdes:mid'));
    throughMediasoup('video', video.rtpParameters);
  });

  it('recvonly sections (a WHEP offer) are not producers', () => {
    for (const media of parseSdp(fixture('chrome-whep-recvonly')).media) {
      const result = producerFromOffer(media, routerCaps);
      assert.ok('rejected' in result);
      assert.match(result.rejected, /recvonly/);
    }
  });

  it('simulcast without the rtp-stream-id extension is refused', () => {
    const sdp = fixture('chrome-publish-simulcast').replace(/^a=extmap:10 .*\r\n/m, '');
    assert.throws(() => producerFromOffer(section(parseSdp(sdp), 'video'), routerCaps), InvalidSdpError);
  });

  it('a section offering no codec the router has is rejected with the codecs named', () => {
    const audioOnlyRouter = ortc.generateRouterRtpCapabilities([ROUTER_CODECS[0]!]);
    const result = producerFromOffer(section(parseSdp(fixture('chrome-publish-single')), 'video'), audioOnlyRouter);
    assert.ok('rejected' in result);
    assert.match(result.rejected, /VP8/);
  });

  it('orderRids sorts well-known names lowest first and leaves unknown sets alone', () => {
    assert.deepEqual(orderRids(['f', 'h', 'q']), ['q', 'h', 'f']);
    assert.deepEqual(orderRids(['h', 'm', 'l']), ['l', 'm', 'h']);
    assert.deepEqual(orderRids(['high', 'mid', 'low']), ['low', 'mid', 'high']);
    assert.deepEqual(orderRids(['b', 'a', 'c']), ['b', 'a', 'c']);
  });

  it('remoteDtls: the offerer is the DTLS client when we answer; passive offers are refused', () => {
    const offer = parseSdp(fixture('firefox-publish-single'));
    const dtls = remoteDtls(offer, true);
    assert.equal(dtls.role, 'client');
    assert.equal(dtls.fingerprints[0]!.algorithm, 'sha-256');
    assert.equal(dtls.fingerprints[0]!.value, offer.fingerprints[0]!.value);
    const passive = parseSdp(fixture('chrome-publish-single').replaceAll('a=setup:actpass', 'a=setup:passive'));
    assert.throws(() => remoteDtls(passive, true), InvalidSdpError);
  });
});

/** The answer the engine would give a publisher that offered `sdp`. */
function publishAnswer(sdp: string, caps: RtpCapabilities = routerCaps) {
  const offer = parseSdp(sdp);
  const accepted = new Map<string, { receive: OfferedProducer }>();
  for (const media of offer.media) {
    const result = producerFromOffer(media, caps);
    if (!('rejected' in result)) accepted.set(result.mid, { receive: result });
  }
  return { offer, accepted, answer: buildAnswer({ offer, local: LOCAL, accepted, sessionId: '1234567890' }) };
}

describe('SDP bridge: answers to publishers, round trip', () => {
  for (const name of PUBLISH_FIXTURES) {
    it(`${name}: the answer parses back to the chosen codecs, extension ids and rids`, () => {
      const { offer, accepted, answer } = publishAnswer(fixture(name));
      const parsed = parseSdp(answer);
      assert.ok(parsed.iceLite);
      assert.deepEqual(parsed.bundle, [...accepted.keys()]);
      assert.deepEqual(
        parsed.media.map((m) => m.mid),
        offer.media.map((m) => m.mid),
        'sections stay in offer order',
      );
      for (const m of parsed.media) {
        const { receive } = accepted.get(m.mid!)!;
        assert.equal(m.direction, 'recvonly');
        assert.equal(m.setup, 'passive');
        assert.equal(m.iceUfrag, LOCAL.iceParameters.usernameFragment);
        assert.deepEqual(
          m.codecs.map((c) => [c.payloadType, c.name]),
          receive.rtpParameters.codecs.map((c) => [c.payloadType, c.mimeType.split('/')[1]]),
        );
        assert.deepEqual(
          m.extensions.map((e) => [e.id, e.uri]),
          receive.rtpParameters.headerExtensions!.map((h) => [h.id, h.uri]),
        );
        if (receive.rids.length > 0) {
          assert.deepEqual(m.simulcast, { direction: 'recv', rids: receive.rids });
          assert.deepEqual(
            m.rids.map((r) => [r.id, r.direction]),
            receive.rids.map((r) => [r, 'recv']),
          );
        }
        assert.ok(m.rtcpMux);
      }
      const dtls = remoteDtls(parsed, false);
      assert.equal(dtls.role, 'server', 'an answer with a=setup:passive makes the engine the DTLS server');
    });
  }

  it('Firefox simulcast: answer extmaps respect the offered directions', () => {
    // Firefox offers 8/sendonly rtp-stream-id and 6/recvonly playout-delay; RFC 8285 wants the
    // answer to say recvonly (or leave the extension out) and sendonly (or leave it out).
    const { answer } = publishAnswer(fixture('firefox-publish-simulcast'));
    const video = section(parseSdp(answer), 'video');
    for (const e of video.extensions) {
      if (e.uri.endsWith('rtp-stream-id')) assert.equal(e.direction, 'recvonly', e.uri);
      assert.ok(!e.uri.endsWith('playout-delay') || e.direction === 'sendonly', 'playout-delay offered recvonly is answered as sendrecv');
    }
  });

  it('sections that are not accepted are rejected with port 0, keep their mid and leave the bundle', () => {
    const offer = parseSdp(fixture('chrome-publish-single'));
    const video = accept(section(offer, 'video'));
    const answer = parseSdp(buildAnswer({ offer, local: LOCAL, accepted: new Map([[video.mid, { receive: video }]]), sessionId: '1' }));
    const audio = section(answer, 'audio');
    assert.equal(audio.port, 0);
    assert.equal(audio.mid, section(offer, 'audio').mid);
    assert.deepEqual(answer.bundle, [video.mid]);
  });
});

/**
 * Producers from the Chromium simulcast fixture, as consumable parameters (what every consumer
 * starts from) on a router with `router`'s capabilities (a pipe producer is mapped as any other).
 */
function consumables(router: RtpCapabilities = routerCaps) {
  const offer = parseSdp(fixture('chrome-publish-simulcast'));
  const audio = throughMediasoup('audio', accept(section(offer, 'audio')).rtpParameters, router, router);
  const video = throughMediasoup('video', accept(section(offer, 'video')).rtpParameters, router, router);
  return { audio: audio.consumable, video: video.consumable };
}

function consumerFor(consumable: RtpParameters, caps: RtpCapabilities, enableRtx = true): RtpParameters {
  return ortc.getConsumerRtpParameters({ consumableRtpParameters: consumable, remoteRtpCapabilities: caps, pipe: false, enableRtx });
}

/**
 * Consumers as the engine creates them (always `enableRtx`): towards its own offers with the
 * router's capabilities, towards WHEP offers with `capabilitiesFromOffer` (no rtx in them).
 */
function sendSections(caps: RtpCapabilities, mids: { audio: string; video: string }, router: RtpCapabilities = routerCaps): SendSection[] {
  const c = consumables(router);
  return [
    { mid: mids.audio, kind: 'audio', rtpParameters: consumerFor(c.audio, caps), streamId: 'alice', trackId: 'alice-audio' },
    { mid: mids.video, kind: 'video', rtpParameters: consumerFor(c.video, caps), streamId: 'alice', trackId: 'alice-video' },
  ];
}

describe('SDP bridge: engine offers to subscribers, round trip', () => {
  it('every consumer section parses back to the consumer parameters', () => {
    const sends = sendSections(routerCaps, { audio: '0', video: '1' });
    const sections: OfferSection[] = [
      ...sends.map((section) => ({ type: 'send' as const, section })),
      { type: 'closed', mid: '2', kind: 'video', payloadType: 101 },
      { type: 'data', mid: '3' },
    ];
    const parsed = parseSdp(buildOffer({ local: LOCAL, sections, sessionId: '42', version: 3 }));
    assert.ok(parsed.iceLite);
    assert.deepEqual(parsed.bundle, ['0', '1', '3']);
    for (const s of sends) {
      const m = parsed.media.find((x) => x.mid === s.mid)!;
      assert.equal(m.direction, 'sendonly');
      assert.equal(m.setup, 'actpass');
      assert.deepEqual(m.msid, { streamId: 'alice', trackId: s.trackId });
      assert.deepEqual(
        m.codecs.map((c) => [c.payloadType, c.name, c.parameters]),
        s.rtpParameters.codecs.map((c) => [c.payloadType, c.mimeType.split('/')[1], c.parameters]),
      );
      assert.deepEqual(
        m.extensions.map((e) => [e.id, e.uri]),
        s.rtpParameters.headerExtensions!.map((h) => [h.id, h.uri]),
      );
      const enc = s.rtpParameters.encodings![0]!;
      assert.equal(m.ssrcs[0]!.ssrc, enc.ssrc);
      if (enc.rtx) assert.deepEqual(m.ssrcGroups, [{ semantics: 'FID', ssrcs: [enc.ssrc, enc.rtx.ssrc] }]);
    }
    const closed = parsed.media.find((m) => m.mid === '2')!;
    assert.equal(closed.port, 0);
    assert.equal(closed.direction, 'inactive');
    assert.equal(parsed.media.find((m) => m.mid === '3')!.sctpPort, 5000);
  });

  it('parseAnswer: the DTLS role follows the answer and inactive or rejected sections are not accepted', () => {
    const answer = [
      'v=0',
      'o=- 1 2 IN IP4 127.0.0.1',
      's=-',
      't=0 0',
      'a=group:BUNDLE 0',
      'm=audio 9 UDP/TLS/RTP/SAVPF 100',
      'c=IN IP4 0.0.0.0',
      'a=ice-ufrag:abcd',
      'a=ice-pwd:abcdefghijklmnopqrstuvwx',
      `a=fingerprint:sha-256 ${LOCAL.dtlsParameters.fingerprints[0]!.value}`,
      'a=setup:active',
      'a=mid:0',
      'a=recvonly',
      'a=rtpmap:100 opus/48000/2',
      'm=video 9 UDP/TLS/RTP/SAVPF 101',
      'c=IN IP4 0.0.0.0',
      'a=mid:1',
      'a=inactive',
      'a=rtpmap:101 VP8/90000',
      'm=video 0 UDP/TLS/RTP/SAVPF 101',
      'c=IN IP4 0.0.0.0',
      'a=mid:2',
      'a=rtpmap:101 VP8/90000',
      '',
    ].join('\r\n');
    const { dtlsParameters, accepted } = parseAnswer(parseSdp(answer));
    assert.equal(dtlsParameters.role, 'client');
    assert.deepEqual([...accepted], ['0']);
    const passive = parseAnswer(parseSdp(answer.replace('a=setup:active', 'a=setup:passive')));
    assert.equal(passive.dtlsParameters.role, 'server');
  });
});

const TRANSPORT_CC = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
const ABS_SEND_TIME = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time';

/** mediasoup's id for an extension: the one it writes on the wire, whatever a receiver offered. */
function mediasoupId(kind: 'audio' | 'video', uri: string): number {
  const ext = routerCaps.headerExtensions!.find((h) => h.kind === kind && h.uri === uri);
  assert.ok(ext, `mediasoup has no ${kind} ${uri}`);
  return ext.preferredId;
}

/**
 * `sdp` with extension `uri` moved to id `id` (in every section), and whatever extension had `id`
 * moved to `uri`'s old id: a receiver that numbers extensions differently.
 */
function swapExtensionIds(sdp: string, uri: string, id: number): string {
  const old = Number(sdp.split('\r\n').find((l) => l.startsWith('a=extmap:') && l.endsWith(` ${uri}`))!.slice('a=extmap:'.length).split(' ')[0]);
  return sdp.replace(/a=extmap:(\d+)( \S+)/g, (line, n: string, rest: string) => {
    if (rest === ` ${uri}`) return `a=extmap:${id}${rest}`;
    if (Number(n) === id) return `a=extmap:${old}${rest}`;
    return line;
  });
}

/** A Firefox-numbered receiver (opus 109, VP8 120, H264 126), as a WHEP offer. */
const firefoxWhep = () => parseSdp(fixture('firefox-publish-single').replaceAll('a=sendonly', 'a=recvonly'));

describe('SDP bridge: WHEP receivers', () => {
  const offer = parseSdp(fixture('chrome-whep-recvonly'));
  const caps = capabilitiesFromOffer(offer, routerCaps);

  it('capabilities are valid, carry no rtx or repair formats, and let the receiver consume audio and simulcast video', () => {
    const checked = structuredClone(caps);
    ortc.validateAndNormalizeRtpCapabilities(checked);
    const c = consumables();
    assert.ok(ortc.canConsume(c.audio, caps));
    assert.ok(ortc.canConsume(c.video, caps));
    assert.ok(caps.codecs!.every((codec) => !/^(audio|video)\/(rtx|red|ulpfec|flexfec-03|telephone-event|cn)$/i.test(codec.mimeType)), JSON.stringify(caps.codecs!.map((x) => x.mimeType)));
  });

  it('consumers keep NACK without rtx and send with the offered payload types', () => {
    const video = consumerFor(consumables().video, caps);
    assert.deepEqual(video.codecs.map((codec) => codec.mimeType), ['video/VP8'], 'no rtx towards a WHEP receiver');
    assert.equal(video.encodings![0]!.rtx, undefined);
    const feedback = video.codecs[0]!.rtcpFeedback!;
    assert.ok(feedback.some((f) => f.type === 'nack' && !f.parameter), `plain NACK kept: ${JSON.stringify(feedback)}`);
    assert.ok(feedback.some((f) => f.type === 'nack' && f.parameter === 'pli'));
    assert.ok(offersPayloadType(section(offer, 'video'), video.codecs[0]!), `video as ${video.codecs[0]!.payloadType}`);
    const audio = consumerFor(consumables().audio, caps);
    assert.ok(offersPayloadType(section(offer, 'audio'), audio.codecs[0]!), `audio as ${audio.codecs[0]!.payloadType}`);
  });

  it("Chromium's ids give mediasoup's transport-cc and abs-send-time ids to other extensions: no estimate is negotiated, and the answer moves no offered id", () => {
    assert.equal(declarableExtension(offer, mediasoupId('video', TRANSPORT_CC), TRANSPORT_CC), false);
    assert.equal(declarableExtension(offer, mediasoupId('video', ABS_SEND_TIME), ABS_SEND_TIME), false);
    const video = consumerFor(consumables().video, caps);
    const feedback = video.codecs[0]!.rtcpFeedback!.map((f) => f.type);
    assert.ok(!feedback.includes('goog-remb') && !feedback.includes('transport-cc'), JSON.stringify(feedback));
    assert.equal(receiverEstimate(video), undefined);
    const mids = { audio: section(offer, 'audio').mid!, video: section(offer, 'video').mid! };
    const answer = parseSdp(buildAnswer({ offer, local: LOCAL, accepted: new Map(sendSections(caps, mids).map((send) => [send.mid, { send }])), sessionId: '5' }));
    for (const m of answer.media) {
      for (const e of m.extensions) assert.ok(declarableExtension(offer, e.id, e.uri), `the answer names ${e.uri} as ${e.id}, an id the offer gives another extension`);
    }
  });

  it("a receiver whose ids leave mediasoup's abs-send-time id to it, without transport-cc, gets REMB", () => {
    const lines = swapExtensionIds(fixture('chrome-whep-recvonly'), ABS_SEND_TIME, mediasoupId('video', ABS_SEND_TIME))
      .split('\r\n')
      .filter((l) => !l.includes(TRANSPORT_CC) && !/^a=rtcp-fb:\d+ transport-cc/.test(l));
    const remb = parseSdp(lines.join('\r\n'));
    const video = consumerFor(consumables().video, capabilitiesFromOffer(remb, routerCaps));
    assert.equal(receiverEstimate(video), 'remb');
    assert.ok(video.headerExtensions!.some((h) => h.uri === ABS_SEND_TIME && h.id === mediasoupId('video', ABS_SEND_TIME)));
  });

  it("a receiver whose ids leave mediasoup's transport-cc id to it gets transport-cc, named in the answer", () => {
    const free = parseSdp(swapExtensionIds(fixture('chrome-whep-recvonly'), TRANSPORT_CC, mediasoupId('video', TRANSPORT_CC)));
    assert.ok(declarableExtension(free, mediasoupId('video', TRANSPORT_CC), TRANSPORT_CC));
    const freeCaps = capabilitiesFromOffer(free, routerCaps);
    const video = consumerFor(consumables().video, freeCaps);
    const feedback = video.codecs[0]!.rtcpFeedback!.map((f) => f.type);
    assert.ok(feedback.includes('transport-cc') && !feedback.includes('goog-remb'), JSON.stringify(feedback));
    assert.equal(receiverEstimate(video), 'transport-cc');
    assert.ok(video.headerExtensions!.some((h) => h.uri === TRANSPORT_CC && h.id === mediasoupId('video', TRANSPORT_CC)));
    const mids = { audio: section(free, 'audio').mid!, video: section(free, 'video').mid! };
    const answer = parseSdp(buildAnswer({ offer: free, local: LOCAL, accepted: new Map(sendSections(freeCaps, mids).map((send) => [send.mid, { send }])), sessionId: '6' }));
    assert.ok(section(answer, 'video').extensions.some((e) => e.uri === TRANSPORT_CC && e.id === mediasoupId('video', TRANSPORT_CC)));
  });

  it('a Chromium receiver numbers every codec as the room does: it needs no router of its own', () => {
    const numbering = receiverNumbering(offer, routerCaps);
    for (const codec of routerCaps.codecs!.filter((c) => !/rtx/i.test(c.mimeType))) {
      assert.equal(numbering.get(codec.preferredPayloadType!), codec.preferredPayloadType, codec.mimeType);
    }
    assert.equal(renumberedCodecs(ROUTER_CODECS, numbering), undefined);
  });

  it('a receiver numbering codecs its own way (Firefox) gets a router with its numbers, and consumers there send them', () => {
    const ff = firefoxWhep();
    const numbering = receiverNumbering(ff, routerCaps);
    const codecs = renumberedCodecs(ROUTER_CODECS, numbering);
    assert.ok(codecs, 'a router of its own');
    assert.deepEqual(
      codecs.map((c) => [c.mimeType, c.preferredPayloadType]),
      [
        ['audio/opus', 109],
        ['video/VP8', 120],
        ['video/H264', 126],
      ],
    );
    const ffRouter = ortc.generateRouterRtpCapabilities(codecs);
    const ffCaps = capabilitiesFromOffer(ff, ffRouter);
    const c = consumables(ffRouter);
    const video = consumerFor(c.video, ffCaps);
    assert.ok(offersPayloadType(section(ff, 'video'), video.codecs[0]!), `video as ${video.codecs[0]!.payloadType}`);
    assert.ok(video.codecs[0]!.rtcpFeedback!.some((f) => f.type === 'nack' && !f.parameter));
    const audio = consumerFor(c.audio, ffCaps);
    assert.ok(offersPayloadType(section(ff, 'audio'), audio.codecs[0]!), `audio as ${audio.codecs[0]!.payloadType}`);
    // On the room's own router the same receiver would be sent numbers it gave other codecs, or none.
    assert.equal(offersPayloadType(section(ff, 'video'), consumerFor(consumables().video, capabilitiesFromOffer(ff, routerCaps)).codecs[0]!), false);
  });

  it('a codec the receiver lacks keeps its number, unless the receiver uses that number for another codec', () => {
    // VP8 at 111 (the room's opus number), no opus and no H264: opus moves to a free number.
    const codecs = renumberedCodecs(ROUTER_CODECS, new Map([[96, 111]]))!;
    assert.deepEqual(
      codecs.map((c) => [c.mimeType, c.preferredPayloadType]),
      [
        ['audio/opus', 96],
        ['video/VP8', 111],
        ['video/H264', 108],
      ],
    );
    assert.doesNotThrow(() => ortc.generateRouterRtpCapabilities(codecs));
  });
});

// ---- Chromium: does a real RTCPeerConnection take what the bridge writes? ---------------------

type Scenario = OfferScenario;

/** Installs page functions that keep each RTCPeerConnection by name between calls. */
async function installPage(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as Record<string, unknown>;
    const pcs = new Map<string, RTCPeerConnection>();
    const describe = (pc: RTCPeerConnection) =>
      pc.getTransceivers().map((t) => ({
        mid: t.mid,
        kind: t.receiver.track.kind,
        currentDirection: t.currentDirection,
        sendEncodings: t.sender.getParameters().encodings.map((e) => e.rid ?? null),
        sendCodecs: t.sender.getParameters().codecs.map((c) => [c.payloadType, c.mimeType]),
        receiveCodecs: t.receiver.getParameters().codecs.map((c) => [c.payloadType, c.mimeType]),
        receiveExtensions: t.receiver.getParameters().headerExtensions.map((h) => [h.id, h.uri]),
      }));
    w.__offer = async (name: string, scenario: 'simulcast' | 'single' | 'h264' | 'whep') => {
      const pc = await (w as unknown as ScenarioWindow).__scenarioPeerConnection(scenario, { width: 640, height: 360 });
      pcs.set(name, pc);
      return pc.localDescription!.sdp;
    };
    // A WHEP receiver's offer, not yet applied, so that the test can renumber it first.
    w.__unappliedWhepOffer = async (name: string) => {
      const pc = new RTCPeerConnection({ iceServers: [] });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
      pcs.set(name, pc);
      return (await pc.createOffer()).sdp!;
    };
    w.__setLocalOffer = async (name: string, sdp: string) => {
      await pcs.get(name)!.setLocalDescription({ type: 'offer', sdp });
    };
    w.__applyAnswer = async (name: string, sdp: string) => {
      const pc = pcs.get(name)!;
      await pc.setRemoteDescription({ type: 'answer', sdp });
      return describe(pc);
    };
    w.__answer = async (name: string, sdp: string) => {
      let pc = pcs.get(name);
      if (!pc) {
        pc = new RTCPeerConnection({ iceServers: [] });
        pcs.set(name, pc);
      }
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      return { sdp: pc.localDescription!.sdp, transceivers: describe(pc) };
    };
    w.__closeAll = () => {
      for (const pc of pcs.values()) {
        for (const s of pc.getSenders()) s.track?.stop();
        pc.close();
      }
      pcs.clear();
    };
  });
}

interface TransceiverInfo {
  mid: string | null;
  kind: string;
  currentDirection: string | null;
  sendEncodings: (string | null)[];
  sendCodecs: [number, string][];
  receiveCodecs: [number, string][];
  receiveExtensions: [number, string][];
}

describe('SDP bridge in Chromium', () => {
  let chromium: LaunchedChromium;
  let blank: Awaited<ReturnType<typeof serveBlankPage>>;
  let page: Page;

  before(async () => {
    chromium = await launchChromium();
    blank = await serveBlankPage();
    page = await chromium.context.newPage();
    await page.goto(blank.url);
    await installScenarioPeerConnection(page);
    await installPage(page);
  });
  after(async () => {
    await page?.evaluate(() => (window as unknown as { __closeAll(): void }).__closeAll()).catch(() => {});
    await chromium?.close();
    await blank?.close();
  });

  const offerFrom = (name: string, scenario: Scenario) =>
    page.evaluate(([n, s]) => (window as unknown as { __offer(n: string, s: string): Promise<string> }).__offer(n, s), [name, scenario] as const);
  const unappliedWhepOffer = (name: string) => page.evaluate((n) => (window as unknown as { __unappliedWhepOffer(n: string): Promise<string> }).__unappliedWhepOffer(n), name);
  const setLocalOffer = (name: string, sdp: string) =>
    page.evaluate(([n, s]) => (window as unknown as { __setLocalOffer(n: string, s: string): Promise<void> }).__setLocalOffer(n, s), [name, sdp] as const);
  const applyAnswer = (name: string, sdp: string) =>
    page.evaluate(([n, s]) => (window as unknown as { __applyAnswer(n: string, s: string): Promise<TransceiverInfo[]> }).__applyAnswer(n, s), [name, sdp] as const);
  const answerOffer = (name: string, sdp: string) =>
    page.evaluate(
      ([n, s]) => (window as unknown as { __answer(n: string, s: string): Promise<{ sdp: string; transceivers: TransceiverInfo[] }> }).__answer(n, s),
      [name, sdp] as const,
    );

  for (const scenario of ['simulcast', 'single', 'h264'] as const) {
    it(`publish (${scenario}): Chromium accepts the bridge's answer and keeps what was negotiated`, async () => {
      const { accepted, answer } = publishAnswer(await offerFrom(`pub-${scenario}`, scenario));
      assert.equal(accepted.size, 2);
      const transceivers = await applyAnswer(`pub-${scenario}`, answer);
      const video = transceivers.find((t) => t.kind === 'video')!;
      assert.equal(video.currentDirection, 'sendonly');
      const chosen = accepted.get(video.mid!)!.receive.rtpParameters.codecs[0]!;
      assert.deepEqual(video.sendCodecs[0], [chosen.payloadType, chosen.mimeType]);
      if (scenario === 'simulcast') assert.deepEqual(video.sendEncodings, ['q', 'h', 'f']);
      if (scenario === 'h264') assert.equal(chosen.mimeType, 'video/H264');
    });
  }

  for (const variant of ['own ids', "transport-cc moved to mediasoup's id"] as const) {
    it(`WHEP (${variant}): Chromium accepts the bridge answer and receives with its payload types and every extension id it names`, async () => {
      let offerSdp: string;
      if (variant === 'own ids') offerSdp = await offerFrom(`whep-${variant}`, 'whep');
      else {
        // A receiver whose numbering leaves mediasoup's transport-cc id free: Chromium takes the renumbered offer as its own.
        offerSdp = swapExtensionIds(await unappliedWhepOffer(`whep-${variant}`), TRANSPORT_CC, mediasoupId('video', TRANSPORT_CC));
        await setLocalOffer(`whep-${variant}`, offerSdp);
      }
      const offer = parseSdp(offerSdp);
      const caps = capabilitiesFromOffer(offer, routerCaps);
      const mids = { audio: section(offer, 'audio').mid!, video: section(offer, 'video').mid! };
      const sends = sendSections(caps, mids);
      const answerSdp = buildAnswer({ offer, local: LOCAL, accepted: new Map(sends.map((send) => [send.mid, { send }])), sessionId: '77' });
      const transceivers = await applyAnswer(`whep-${variant}`, answerSdp);
      assert.deepEqual(
        transceivers.map((t) => t.currentDirection),
        ['recvonly', 'recvonly'],
      );
      const answer = parseSdp(answerSdp);
      for (const send of sends) {
        const t = transceivers.find((x) => x.mid === send.mid)!;
        const media = send.rtpParameters.codecs[0]!;
        assert.ok(
          t.receiveCodecs.some(([pt, mime]) => pt === media.payloadType && mime.toLowerCase() === media.mimeType.toLowerCase()),
          `${send.kind}: consumer sends ${media.mimeType} as ${media.payloadType}; Chromium receives ${JSON.stringify(t.receiveCodecs)}`,
        );
        // mediasoup writes its own ids on the wire: each extension the answer names must be read under that id.
        for (const e of answer.media.find((m) => m.mid === send.mid)!.extensions) {
          assert.ok(
            t.receiveExtensions.some(([id, uri]) => id === e.id && uri === e.uri),
            `${send.kind}: the answer names ${e.uri} as ${e.id}; Chromium reads ${JSON.stringify(t.receiveExtensions)}`,
          );
        }
      }
      const videoExtensions = section(answer, 'video').extensions.map((e) => e.uri);
      assert.equal(videoExtensions.includes(TRANSPORT_CC), variant !== 'own ids', `video extensions named: ${JSON.stringify(videoExtensions)}`);
    });
  }

  it('subscribe: Chromium answers the engine offer, and the bridge reads the answer back', async () => {
    const sends = sendSections(routerCaps, { audio: '0', video: '1' });
    const first: OfferSection[] = [...sends.map((section) => ({ type: 'send' as const, section })), { type: 'data', mid: '2' }];
    const a1 = await answerOffer('sub', buildOffer({ local: LOCAL, sections: first, sessionId: '99', version: 1 }));
    const r1 = parseAnswer(parseSdp(a1.sdp));
    assert.equal(r1.dtlsParameters.role, 'client', 'Chromium answers actpass with active');
    assert.deepEqual([...r1.accepted].sort(), ['0', '1', '2']);
    assert.deepEqual(
      a1.transceivers.map((t) => [t.mid, t.currentDirection]),
      [
        ['0', 'recvonly'],
        ['1', 'recvonly'],
      ],
    );
    const video = a1.transceivers.find((t) => t.mid === '1')!;
    const consumerVideo = sends[1]!.rtpParameters.codecs[0]!;
    assert.ok(video.receiveCodecs.some(([pt, mime]) => pt === consumerVideo.payloadType && mime === consumerVideo.mimeType));

    // Renegotiation: audio leaves (its section closes in place), a new video section is appended.
    const more = sendSections(routerCaps, { audio: 'unused', video: '3' })[1]!;
    const second: OfferSection[] = [
      { type: 'closed', mid: '0', kind: 'audio', payloadType: sends[0]!.rtpParameters.codecs[0]!.payloadType },
      { type: 'send', section: sends[1]! },
      { type: 'data', mid: '2' },
      { type: 'send', section: { ...more, trackId: 'bob-video', streamId: 'bob' } },
    ];
    const a2 = await answerOffer('sub', buildOffer({ local: LOCAL, sections: second, sessionId: '99', version: 2 }));
    const r2 = parseAnswer(parseSdp(a2.sdp));
    assert.deepEqual([...r2.accepted].sort(), ['1', '2', '3']);

    // Recycling: a new audio track takes the closed audio m-line's place, under a new mid (as the
    // engine does once the closing was answered), and Chromium receives it there.
    const carol = sendSections(routerCaps, { audio: '4', video: 'unused' })[0]!;
    const third: OfferSection[] = [
      { type: 'send', section: { ...carol, trackId: 'carol-audio', streamId: 'carol' } },
      { type: 'send', section: sends[1]! },
      { type: 'data', mid: '2' },
      { type: 'send', section: { ...more, trackId: 'bob-video', streamId: 'bob' } },
    ];
    const a3 = await answerOffer('sub', buildOffer({ local: LOCAL, sections: third, sessionId: '99', version: 3 }));
    const answer3 = parseSdp(a3.sdp);
    assert.deepEqual(
      answer3.media.map((m) => m.mid),
      ['4', '1', '2', '3'],
      'the answer keeps four m-lines, the first now carrying mid 4',
    );
    assert.deepEqual([...parseAnswer(answer3).accepted].sort(), ['1', '2', '3', '4']);
    assert.ok(a3.transceivers.some((t) => t.mid === '4' && t.currentDirection === 'recvonly' && t.kind === 'audio'));
  });
});
