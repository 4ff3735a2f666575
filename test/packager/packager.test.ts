import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HlsPackager, type HlsResumePoint } from '../../services/packager/index.ts';
import { DiskStorage } from '../../services/storage/DiskStorage.ts';
import { startFfmpegSource, type FfmpegSource } from '../support/ffmpegSource.ts';
import { parseMedia, parseMultivariant, startsWithKeyFrame } from '../support/hlsCheck.ts';
import { sleep } from '../support/wait.ts';

/**
 * A live run with real ffmpeg: two renditions for a few seconds, an ffmpeg crash and restart
 * of one of them, then end(). Every live playlist the packager produced along the way goes
 * through hls-parser in strict mode, and the media is checked with ffprobe.
 */
describe('HlsPackager with live ffmpeg input', () => {
  let dir: string;
  let storage: DiskStorage;
  let packager: HlsPackager;
  const sources: FfmpegSource[] = [];
  const snapshots: { rendition: string; text: string }[] = [];
  const partEvents: { rendition: string; id: number; independent: boolean; durationSec: number }[] = [];
  let readyAt = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stagecast-pk-'));
    storage = new DiskStorage({ rootDir: dir });
    packager = new HlsPackager({ roomId: 'room1', storage, windowSegments: 4, epoch: 'test' });
    packager.on('part', (rendition, part) => {
      partEvents.push({ rendition, id: part.id, independent: part.independent, durationSec: part.durationSec });
      const text = packager.rendition(rendition)!.playlist();
      if (text) snapshots.push({ rendition, text });
    });
    packager.once('ready', () => (readyAt = performance.now()));
    const hi = startFfmpegSource({ width: 640, height: 360 });
    const lo = startFfmpegSource({ width: 320, height: 180, videoBitrate: '200k' });
    sources.push(hi, lo);
    packager.addRendition('hi', { bandwidth: 900_000 }, hi.stdout);
    packager.addRendition('lo', { bandwidth: 300_000 }, lo.stdout);
    await sleep(4500);
    // ffmpeg dies; the transcoder starts a new one for the same rendition.
    await hi.kill();
    await sleep(300);
    const hi2 = startFfmpegSource({ width: 640, height: 360 });
    sources.push(hi2);
    packager.addRendition('hi', { bandwidth: 900_000 }, hi2.stdout);
    await sleep(3500);
  });

  after(async () => {
    await packager.close();
    for (const s of sources) await s.kill();
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('became ready and lists both renditions with CODECS, BANDWIDTH and RESOLUTION', () => {
    assert.ok(readyAt > 0, 'ready was emitted');
    const mv = parseMultivariant(packager.multivariantPlaylist()!);
    assert.equal(mv.variants.length, 2);
    const hi = mv.variants.find((v) => v.uri === 'hi/index.m3u8')!;
    assert.equal(hi.bandwidth, 900_000);
    assert.match(hi.codecs!, /^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/);
    assert.deepEqual(hi.resolution, { width: 640, height: 360 });
    const lo = mv.variants.find((v) => v.uri === 'lo/index.m3u8')!;
    assert.deepEqual(lo.resolution, { width: 320, height: 180 });
  });

  it('produces live playlists that hls-parser accepts in strict mode, with the LL-HLS tags', () => {
    assert.ok(snapshots.length > 40, `only ${snapshots.length} snapshots`);
    for (const { text } of snapshots) {
      const pl = parseMedia(text);
      assert.ok(pl.partTargetDuration! >= 0.2 && pl.partTargetDuration! <= 0.5, `PART-TARGET ${pl.partTargetDuration}`);
      assert.equal(pl.lowLatencyCompatibility?.canBlockReload, true);
      assert.ok(pl.lowLatencyCompatibility!.partHoldBack >= 3 * pl.partTargetDuration! - 1e-3, 'PART-HOLD-BACK >= 3 x PART-TARGET');
      assert.ok(pl.targetDuration >= 1 && pl.targetDuration <= 2);
      assert.match(text, /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-test-\d+\.m4s"/);
      assert.match(text, /#EXT-X-RENDITION-REPORT:URI="\.\.\/(hi|lo)\/index\.m3u8",LAST-MSN=\d+,LAST-PART=\d+/);
      assert.ok(pl.segments.length <= 4 + 1, 'sliding window of 4 complete segments plus the open one');
      for (const seg of pl.segments) {
        assert.ok(seg.programDateTime instanceof Date, 'PROGRAM-DATE-TIME on every segment');
        // hls-parser leaves `map` unset on the trailing parts-only segment unless a MAP precedes it.
        if (seg.uri) assert.ok(seg.map?.uri, 'EXT-X-MAP applies to every segment');
        if (seg.uri) assert.ok(Math.round(seg.duration) <= pl.targetDuration, 'EXTINF within TARGETDURATION');
        for (const part of seg.parts) {
          if (part.hint) continue;
          const duration = part.duration!;
          assert.ok(duration <= pl.partTargetDuration! + 1e-6, `part ${part.uri} ${duration} > PART-TARGET`);
          assert.ok(duration >= 0.1 - 1e-6 && duration <= 0.5, `part duration ${duration}`);
        }
        if (seg.parts.length > 0) assert.equal(seg.parts[0]!.independent, true, 'each segment starts with an independent part');
      }
    }
  });

  it('cuts segments of 1 s (the GOP), each starting on an IDR', () => {
    const hi = packager.rendition('hi')!;
    const pl = parseMedia(hi.playlist()!);
    const complete = pl.segments.filter((s) => s.uri);
    assert.ok(complete.length >= 3);
    complete.forEach((s, i) => {
      // The segment cut short by the ffmpeg kill (followed by a discontinuity) may be shorter.
      const cutShort = pl.segments[pl.segments.indexOf(s) + 1]?.discontinuity === true;
      if (!cutShort) assert.ok(Math.abs(s.duration - 1) < 0.05, `segment ${i} ${s.uri} ${s.duration}`);
      assert.ok(s.duration <= 1.05);
    });
  });

  it('marks INDEPENDENT=YES exactly on parts that start with a key frame (checked with ffprobe)', () => {
    for (const name of ['hi', 'lo']) {
      const r = packager.rendition(name)!;
      const pl = parseMedia(r.playlist()!);
      let checked = 0;
      let mapUri = '';
      for (const seg of pl.segments) {
        mapUri = seg.map?.uri ?? mapUri;
        const generation = Number(/-(\d+)\.mp4$/.exec(mapUri)![1]);
        const init = r.getInit(generation)!;
        for (const part of seg.parts) {
          if (part.hint) continue;
          const id = Number(/-(\d+)\.m4s$/.exec(part.uri)![1]);
          const data = r.getPart(id);
          if (!data) continue;
          assert.equal(startsWithKeyFrame(init, data), part.independent === true, `${name} ${part.uri}`);
          checked++;
        }
      }
      assert.ok(checked >= 10, `checked ${checked} parts`);
    }
    const independent = partEvents.filter((p) => p.independent).length;
    assert.ok(independent > 0 && independent < partEvents.length);
  });

  it('keeps media sequence numbers continuous across refreshes and across the restart', () => {
    for (const name of ['hi', 'lo']) {
      const seen = new Map<number, string>();
      let lastFirst = -1;
      for (const { rendition, text } of snapshots) {
        if (rendition !== name) continue;
        const pl = parseMedia(text);
        assert.ok(pl.mediaSequenceBase! >= lastFirst, 'MEDIA-SEQUENCE never goes back');
        lastFirst = pl.mediaSequenceBase!;
        pl.segments.forEach((s, i) => {
          assert.equal(s.mediaSequenceNumber, pl.mediaSequenceBase! + i);
          if (!s.uri) return;
          const prior = seen.get(s.mediaSequenceNumber);
          if (prior) assert.equal(prior, s.uri, 'a sequence number always names the same segment');
          seen.set(s.mediaSequenceNumber, s.uri);
        });
      }
      const msns = [...seen.keys()].sort((a, b) => a - b);
      for (let i = 1; i < msns.length; i++) assert.equal(msns[i], msns[i - 1]! + 1, `${name}: gap in sequence numbers`);
    }
  });

  it('puts EXT-X-DISCONTINUITY and a new EXT-X-MAP after the ffmpeg restart, on that rendition only', () => {
    const hi = parseMedia(packager.rendition('hi')!.playlist()!);
    const idx = hi.segments.findIndex((s) => s.discontinuity);
    assert.ok(idx > 0, 'a discontinuity inside the window');
    assert.equal(hi.segments[idx]!.map.uri, 'init-test-1.mp4');
    assert.equal(hi.segments[idx - 1]!.map.uri, 'init-test-0.mp4');
    assert.equal(hi.segments[idx]!.discontinuitySequence, hi.segments[idx - 1]!.discontinuitySequence + 1);
    assert.equal(hi.segments[idx]!.parts[0]?.independent ?? true, true);
    const lo = parseMedia(packager.rendition('lo')!.playlist()!);
    assert.ok(lo.segments.every((s) => !s.discontinuity));
  });

  it('ends with ENDLIST in the live and the stored playlists; stored ones name only stored objects', async () => {
    await packager.end();
    for (const name of ['hi', 'lo']) {
      const live = parseMedia(packager.rendition(name)!.playlist()!);
      assert.equal(live.endlist, true);
      const stored = await storage.get(`room1/${name}/index.m3u8`);
      assert.ok(stored);
      assert.equal(stored.contentType, 'application/vnd.apple.mpegurl');
      const pl = parseMedia(stored.body.toString());
      assert.equal(pl.endlist, true);
      for (const s of pl.segments) {
        const seg = await storage.get(`room1/${name}/${s.uri}`);
        assert.ok(seg, `${s.uri} stored`);
        assert.equal(seg.contentType, 'video/mp4');
        assert.equal(seg.cacheControl, 'public, max-age=31536000, immutable');
        assert.ok(await storage.get(`room1/${name}/${s.map.uri}`), `${s.map.uri} stored`);
      }
    }
    const mv = await storage.get('room1/index.m3u8');
    assert.ok(mv);
    assert.equal(parseMultivariant(mv.body.toString()).variants.length, 2);
  });
});

describe('HlsPackager sliding window in storage', () => {
  it('deletes segments a window after they leave the stored playlist, keeps all with record', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stagecast-pk-'));
    const storage = new DiskStorage({ rootDir: dir });
    const live = new HlsPackager({ roomId: 'live', storage, windowSegments: 3, epoch: 'w' });
    const rec = new HlsPackager({ roomId: 'rec', storage, windowSegments: 3, record: true, epoch: 'w' });
    // Not paced: 12 s of media arrive as fast as ffmpeg encodes them.
    const a = startFfmpegSource({ width: 320, height: 180, durationSec: 12, realtime: false });
    const b = startFfmpegSource({ width: 320, height: 180, durationSec: 12, realtime: false });
    try {
      live.addRendition('v', { bandwidth: 300_000 }, a.stdout);
      rec.addRendition('v', { bandwidth: 300_000 }, b.stdout);
      await Promise.all([a.exited, b.exited]);
      await sleep(200);
      await live.end();
      await rec.end();
      const liveKeys = (await storage.list('live/v/')).filter((k) => k.includes('/seg-'));
      const recKeys = (await storage.list('rec/v/')).filter((k) => k.includes('/seg-'));
      assert.equal(recKeys.length, 12, `record keeps all: ${recKeys.join(' ')}`);
      const livePl = parseMedia((await storage.get('live/v/index.m3u8'))!.body.toString());
      assert.equal(livePl.segments.length, 3);
      const first = livePl.mediaSequenceBase!;
      const msns = liveKeys.map((k) => Number(/-(\d+)\.m4s$/.exec(k)![1]));
      assert.ok(Math.min(...msns) >= first - 3, `old segments deleted: ${msns.join(',')}`);
      assert.ok(liveKeys.length <= 6);
      const recPl = parseMedia((await storage.get('rec/v/index.m3u8'))!.body.toString());
      assert.equal(recPl.segments.length, 12);
      assert.equal(recPl.playlistType, 'VOD', 'EVENT while recording, VOD once ended');
      assert.equal(recPl.endlist, true);
    } finally {
      await live.close();
      await rec.close();
      await a.kill();
      await b.kill();
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('HlsPackager taking over a room whose packager is gone', () => {
  it("carries on the numbering it is given: the first segment follows it, with a discontinuity", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'stagecast-pk-'));
    const storage = new DiskStorage({ rootDir: dir });
    const packagers: HlsPackager[] = [];
    const sources: FfmpegSource[] = [];
    t.after(async () => {
      for (const p of packagers) await p.close();
      for (const src of sources) await src.kill();
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    });
    /** A packager of the room, fed 5 s of media as fast as ffmpeg makes it. */
    const packageFiveSeconds = async (epoch: string, resume?: HlsResumePoint) => {
      const packager = new HlsPackager({ roomId: 'moved', storage, windowSegments: 3, epoch, ...(resume ? { resume } : {}) });
      const source = startFfmpegSource({ width: 320, height: 180, durationSec: 5, realtime: false });
      packagers.push(packager);
      sources.push(source);
      packager.addRendition('v', { bandwidth: 300_000 }, source.stdout);
      await source.exited;
      await sleep(200);
      return packager;
    };
    const first = await packageFiveSeconds('a');
    {
      const left = first.numbering()!;
      assert.ok(left.nextMsn >= 4, `the first packager cut segments: ${JSON.stringify(left)}`);
      assert.equal(left.discontinuitySequence, 0);
      // Its node died: nothing ends it. Another takes the room over with the numbering it left.
      const second = await packageFiveSeconds('b', left);
      const text = second.rendition('v')!.playlist()!;
      // Read by hand: with its input over, every listed segment still has parts, which strict hls-parser refuses.
      const base = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1]);
      const discontinuityBase = Number(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
      const msns = [...text.matchAll(/^seg-b-(\d+)\.m4s$/gm)].map((m) => Number(m[1]));
      assert.ok(msns.length >= 2, text);
      assert.equal(msns[0], base, text);
      assert.ok(msns.every((n, i) => n === base + i), `consecutive: ${msns.join(',')}`);
      assert.ok(msns.at(-1)! >= left.nextMsn + 3, `numbers follow the first packager's (${left.nextMsn}): ${msns.join(',')}`);
      // The window may have slid past the first segment; its discontinuity is then counted in the sequence.
      if (base === left.nextMsn) {
        assert.match(text, /#EXT-X-DISCONTINUITY\n(#EXT-X-[A-Z-]+:.*\n)*#EXT-X-PROGRAM-DATE-TIME/, 'the first segment carries EXT-X-DISCONTINUITY');
        assert.equal(discontinuityBase, left.discontinuitySequence, text);
      } else {
        assert.equal(discontinuityBase, left.discontinuitySequence + 1, text);
      }
      assert.deepEqual(second.numbering(), { nextMsn: msns.at(-1)! + 1, discontinuitySequence: left.discontinuitySequence + 1 });
      assert.throws(() => new HlsPackager({ roomId: 'x', storage, resume: { nextMsn: -1, discontinuitySequence: 0 } }), /resume/);
    }
  });
});
