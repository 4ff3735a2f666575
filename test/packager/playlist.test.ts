import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  dateRange,
  discontinuity,
  discontinuitySequence,
  endlist,
  extinf,
  extM3u,
  gap,
  independentSegments,
  map,
  mediaPlaylist,
  mediaSequence,
  multivariantPlaylist,
  part,
  partInf,
  playlistType,
  preloadHint,
  programDateTime,
  renditionReport,
  serverControl,
  streamInf,
  targetDuration,
  version,
  type MediaPlaylistModel,
  type PlaylistSegment,
  type VariantModel,
} from '../../services/packager/playlist.ts';
import { parseMedia, parseMultivariant } from '../support/hlsCheck.ts';
import { asWritten, parseMediaPlaylist, parseMultivariantPlaylist } from './playlistParser.ts';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');

function segment(msn: number, overrides: Partial<PlaylistSegment> = {}): PlaylistSegment {
  return {
    msn,
    uri: `seg-e-${msn}.m4s`,
    durationSec: 1.00133,
    programDateTime: new Date(T0 + msn * 1001),
    discontinuity: false,
    discontinuitySequence: 0,
    initUri: 'init-e-0.mp4',
    parts: [],
    complete: true,
    ...overrides,
  };
}

function playlist(overrides: Partial<MediaPlaylistModel> = {}): MediaPlaylistModel {
  return { version: 6, targetDurationSec: 1, mediaSequence: 0, segments: [segment(0), segment(1)], ended: false, ...overrides };
}

const LOW_LATENCY = { partTargetSec: 0.2, partHoldBackSec: 0.6, renditionReports: [] };

/**
 * Writes the model, checks that `line` (the tag under test, from its own writer function) is
 * in the text `times` times, reads the text back and expects the model. Every playlist also
 * goes through hls-parser in strict mode, an independent check of the syntax.
 */
function roundTrip(model: MediaPlaylistModel, line: string, times = 1): string {
  const text = mediaPlaylist(model);
  const lines = text.split('\n');
  assert.equal(lines.filter((l) => l === line).length, times, `${line} in\n${text}`);
  assert.deepEqual(parseMediaPlaylist(text), asWritten(model), text);
  parseMedia(text);
  return text;
}

describe('playlist writer: one tag per function, each read back (media playlist)', () => {
  it('EXTM3U and EXT-X-VERSION open the playlist', () => {
    assert.equal(extM3u(), '#EXTM3U');
    assert.equal(version(6), '#EXT-X-VERSION:6');
    const text = roundTrip(playlist({ version: 7 }), version(7));
    assert.deepEqual(text.split('\n').slice(0, 2), ['#EXTM3U', '#EXT-X-VERSION:7']);
  });

  it('EXT-X-TARGETDURATION', () => {
    assert.equal(targetDuration(2), '#EXT-X-TARGETDURATION:2');
    roundTrip(playlist({ targetDurationSec: 2, segments: [segment(0, { durationSec: 1.6 })] }), targetDuration(2));
  });

  it('EXT-X-SERVER-CONTROL (blocking reload, PART-HOLD-BACK)', () => {
    assert.equal(serverControl(0.999), '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.999');
    roundTrip(playlist({ lowLatency: { ...LOW_LATENCY, partTargetSec: 0.333, partHoldBackSec: 0.999 } }), serverControl(0.999));
  });

  it('EXT-X-PART-INF', () => {
    assert.equal(partInf(0.33367), '#EXT-X-PART-INF:PART-TARGET=0.33367');
    roundTrip(playlist({ lowLatency: { ...LOW_LATENCY, partTargetSec: 0.33367, partHoldBackSec: 1.002 } }), partInf(0.33367));
  });

  it('EXT-X-PLAYLIST-TYPE, EVENT and VOD', () => {
    assert.equal(playlistType('EVENT'), '#EXT-X-PLAYLIST-TYPE:EVENT');
    roundTrip(playlist({ playlistType: 'EVENT' }), playlistType('EVENT'));
    roundTrip(playlist({ playlistType: 'VOD', ended: true }), playlistType('VOD'));
  });

  it('EXT-X-MEDIA-SEQUENCE numbers the segments from the first listed', () => {
    assert.equal(mediaSequence(1234), '#EXT-X-MEDIA-SEQUENCE:1234');
    roundTrip(playlist({ mediaSequence: 1234, segments: [segment(1234), segment(1235), segment(1236)] }), mediaSequence(1234));
  });

  it('EXT-X-DISCONTINUITY-SEQUENCE, counting a DISCONTINUITY on the first segment', () => {
    assert.equal(discontinuitySequence(4), '#EXT-X-DISCONTINUITY-SEQUENCE:4');
    roundTrip(playlist({ segments: [segment(0, { discontinuitySequence: 4 }), segment(1, { discontinuitySequence: 4 })] }), discontinuitySequence(4));
    // The first segment carries its DISCONTINUITY: the header counts it out.
    const first = segment(0, { discontinuity: true, discontinuitySequence: 5, initUri: 'init-e-3.mp4' });
    roundTrip(playlist({ segments: [first, segment(1, { discontinuitySequence: 5, initUri: 'init-e-3.mp4' })] }), discontinuitySequence(4));
  });

  it('EXT-X-MAP, written again only when the init segment changes', () => {
    assert.equal(map('init-e-0.mp4'), '#EXT-X-MAP:URI="init-e-0.mp4"');
    const segments = [segment(0), segment(1), segment(2, { initUri: 'init-e-1.mp4' }), segment(3, { initUri: 'init-e-1.mp4' })];
    roundTrip(playlist({ segments }), map('init-e-0.mp4'));
    roundTrip(playlist({ segments }), map('init-e-1.mp4'));
  });

  it('EXT-X-DISCONTINUITY, with the sequence of the segments after it', () => {
    assert.equal(discontinuity(), '#EXT-X-DISCONTINUITY');
    const after = { discontinuity: true, discontinuitySequence: 1, initUri: 'init-e-1.mp4' };
    const segments = [segment(0), segment(1, after), segment(2, { ...after, discontinuity: false }), segment(3, { ...after, discontinuity: true, discontinuitySequence: 2, initUri: 'init-e-2.mp4' })];
    roundTrip(playlist({ segments }), discontinuity(), 2);
  });

  it('EXT-X-PROGRAM-DATE-TIME, to the millisecond', () => {
    const date = new Date('2026-03-01T12:00:00.123Z');
    assert.equal(programDateTime(date), '#EXT-X-PROGRAM-DATE-TIME:2026-03-01T12:00:00.123Z');
    roundTrip(playlist({ segments: [segment(0, { programDateTime: date })] }), programDateTime(date));
  });

  it('EXT-X-GAP', () => {
    assert.equal(gap(), '#EXT-X-GAP');
    roundTrip(playlist({ version: 8, segments: [segment(0), segment(1, { gap: true }), segment(2, { gap: false })] }), gap());
    // EXT-X-GAP is version 8's: a version 6 model that carries it is written as version 8.
    const text = mediaPlaylist(playlist({ version: 6, segments: [segment(0), segment(1, { gap: true })] }));
    assert.equal(text.split('\n')[1], version(8));
    assert.equal(mediaPlaylist(playlist({ version: 6 })).split('\n')[1], version(6), 'without a gap it stays 6');
  });

  it('EXT-X-DATERANGE after the PROGRAM-DATE-TIME of its segment, payload as base64', () => {
    const payload = Buffer.from(JSON.stringify({ q: 'say "hi"\n<b>?</b>' })).toString('base64');
    const d = { id: 'm-1', classId: 'com.stagecast.metadata', startDate: new Date(T0 + 1001 + 400), payload };
    assert.equal(dateRange(d), `#EXT-X-DATERANGE:ID="m-1",CLASS="com.stagecast.metadata",START-DATE="2026-03-01T12:00:01.401Z",X-PAYLOAD="${payload}"`);
    const text = roundTrip(playlist({ segments: [segment(0), segment(1, { dateRanges: [d] })] }), dateRange(d));
    const lines = text.split('\n');
    assert.equal(lines[lines.indexOf(dateRange(d)) - 1], programDateTime(new Date(T0 + 1001)), 'right after the PDT of the segment it starts in');
    // In the open segment of a live LL-HLS playlist, before its parts; two in one segment.
    const d2 = { ...d, id: 'm-2', startDate: new Date(T0 + 1001 + 600) };
    const open = segment(1, { complete: false, dateRanges: [d, d2], parts: [{ uri: 'part-e-5.m4s', durationSec: 0.2, independent: true }] });
    roundTrip(playlist({ lowLatency: { ...LOW_LATENCY, preloadHintUri: 'part-e-6.m4s' }, segments: [segment(0), open] }), dateRange(d2));
  });

  it('a VOD recording playlist: PLAYLIST-TYPE:VOD, every segment, ENDLIST, date ranges kept', () => {
    const payload = Buffer.from('{"a":1}').toString('base64');
    const segments = Array.from({ length: 30 }, (_, i) =>
      segment(i, i === 7 ? { dateRanges: [{ id: 'm-7', classId: 'com.stagecast.metadata', startDate: new Date(T0 + 7 * 1001 + 10), payload }] } : {}),
    );
    const text = roundTrip({ version: 6, targetDurationSec: 1, playlistType: 'VOD', mediaSequence: 0, segments, ended: true }, playlistType('VOD'));
    assert.equal(text.split('\n').at(-2), endlist());
    const parsed = parseMedia(text);
    assert.equal(parsed.playlistType, 'VOD');
    assert.equal(parsed.endlist, true);
    assert.equal(parsed.segments.length, 30);
  });

  it('EXTINF and the segment URI', () => {
    assert.equal(extinf(1.00133), '#EXTINF:1.00133,');
    assert.equal(extinf(2), '#EXTINF:2.0,');
    const text = roundTrip(playlist({ targetDurationSec: 2, segments: [segment(0, { durationSec: 2 }), segment(1, { durationSec: 0.96 })] }), extinf(2));
    assert.deepEqual(text.split('\n').slice(-3), ['#EXTINF:0.96,', 'seg-e-1.m4s', '']);
  });

  it('EXT-X-PART, independent or not, on complete and open segments', () => {
    const parts = [
      { uri: 'part-e-10.m4s', durationSec: 0.2, independent: true },
      { uri: 'part-e-11.m4s', durationSec: 0.20033, independent: false },
    ];
    assert.equal(part(parts[0]!), '#EXT-X-PART:DURATION=0.2,URI="part-e-10.m4s",INDEPENDENT=YES');
    assert.equal(part(parts[1]!), '#EXT-X-PART:DURATION=0.20033,URI="part-e-11.m4s"');
    const open = segment(2, { parts: [{ uri: 'part-e-12.m4s', durationSec: 0.2, independent: true }], complete: false });
    const lowLatency = { ...LOW_LATENCY, partTargetSec: 0.20033, partHoldBackSec: 0.601, preloadHintUri: 'part-e-13.m4s' };
    const model = playlist({ lowLatency, segments: [segment(0), segment(1, { parts, durationSec: 0.40033 }), open] });
    roundTrip(model, part(parts[1]!));
  });

  it('EXT-X-PRELOAD-HINT for the next part', () => {
    assert.equal(preloadHint('part-e-13.m4s'), '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-e-13.m4s"');
    const open = segment(2, { parts: [{ uri: 'part-e-12.m4s', durationSec: 0.2, independent: true }], complete: false });
    roundTrip(playlist({ lowLatency: { ...LOW_LATENCY, preloadHintUri: 'part-e-13.m4s' }, segments: [segment(0), segment(1), open] }), preloadHint('part-e-13.m4s'));
  });

  it('EXT-X-RENDITION-REPORT, one per sibling rendition', () => {
    const reports = [
      { uri: '../hi/index.m3u8', lastMsn: 41, lastPart: 3 },
      { uri: '../lo/index.m3u8', lastMsn: 42, lastPart: 0 },
    ];
    assert.equal(renditionReport(reports[0]!), '#EXT-X-RENDITION-REPORT:URI="../hi/index.m3u8",LAST-MSN=41,LAST-PART=3');
    roundTrip(playlist({ lowLatency: { ...LOW_LATENCY, renditionReports: reports } }), renditionReport(reports[1]!));
  });

  it('EXT-X-ENDLIST, which drops the LL-HLS live-edge tags', () => {
    assert.equal(endlist(), '#EXT-X-ENDLIST');
    const text = roundTrip(playlist({ ended: true }), endlist());
    assert.ok(text.endsWith('#EXT-X-ENDLIST\n'));
    const reports = [{ uri: '../hi/index.m3u8', lastMsn: 1, lastPart: 4 }];
    const ll = roundTrip(playlist({ ended: true, lowLatency: { ...LOW_LATENCY, preloadHintUri: 'part-e-9.m4s', renditionReports: reports } }), endlist());
    assert.doesNotMatch(ll, /PRELOAD-HINT|RENDITION-REPORT/);
  });

  it('a whole live LL-HLS playlist: restart, parts near the edge, open segment, hint and reports', () => {
    const p = (id: number, independent = false) => ({ uri: `part-e-${id}.m4s`, durationSec: 0.2, independent });
    const restarted = { discontinuitySequence: 1, initUri: 'init-e-1.mp4' };
    const model = playlist({
      targetDurationSec: 1,
      mediaSequence: 7,
      lowLatency: { partTargetSec: 0.2, partHoldBackSec: 0.6, preloadHintUri: 'part-e-48.m4s', renditionReports: [{ uri: '../lo/index.m3u8', lastMsn: 11, lastPart: 2 }] },
      segments: [
        segment(7),
        segment(8, { durationSec: 0.6 }),
        segment(9, { ...restarted, discontinuity: true, parts: [p(40, true), p(41), p(42), p(43), p(44)], durationSec: 1 }),
        segment(10, { ...restarted, parts: [p(45, true), p(46), p(47)], complete: false }),
      ],
    });
    roundTrip(model, discontinuity());
  });
});

describe('playlist writer: the multivariant playlist, read back', () => {
  const variants: VariantModel[] = [
    { uri: 'lo/index.m3u8', bandwidth: 300_000, codecs: 'avc1.64000d,mp4a.40.2', width: 320, height: 180 },
    { uri: 'hi/index.m3u8', bandwidth: 2_500_000, codecs: 'avc1.64001f,mp4a.40.2', width: 1280, height: 720, frameRate: 29.97 },
    { uri: 'audio/index.m3u8', bandwidth: 96_000, codecs: 'mp4a.40.2' },
  ];

  it('EXTM3U, EXT-X-VERSION and EXT-X-INDEPENDENT-SEGMENTS', () => {
    assert.equal(independentSegments(), '#EXT-X-INDEPENDENT-SEGMENTS');
    const text = multivariantPlaylist(variants);
    assert.deepEqual(text.split('\n').slice(0, 3), [extM3u(), version(6), independentSegments()]);
    const read = parseMultivariantPlaylist(text);
    assert.equal(read.version, 6);
    assert.equal(read.independentSegments, true);
  });

  it('EXT-X-STREAM-INF and its URI, one per rendition, highest bandwidth first', () => {
    assert.equal(
      streamInf(variants[1]!),
      '#EXT-X-STREAM-INF:BANDWIDTH=2500000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=29.970',
    );
    assert.equal(streamInf(variants[2]!), '#EXT-X-STREAM-INF:BANDWIDTH=96000,CODECS="mp4a.40.2"');
    const text = multivariantPlaylist(variants);
    assert.deepEqual(parseMultivariantPlaylist(text).variants, [...variants].sort((a, b) => b.bandwidth - a.bandwidth));
    assert.equal(parseMultivariant(text).variants.length, 3);
  });
});
