import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HlsPackager } from '../../services/packager/index.ts';
import type { RecordingInfo } from '../../services/packager/recording.ts';
import { RecordingStore } from '../../services/packager/recordingStore.ts';
import { DiskStorage } from '../../services/storage/DiskStorage.ts';
import { startFfmpegSource } from '../support/ffmpegSource.ts';
import { parseMedia, parseMultivariant } from '../support/hlsCheck.ts';
import { parseMediaPlaylist } from './playlistParser.ts';
import { sleep, waitFor } from '../support/wait.ts';

const RID = 'mfx0abcd12345678';

describe('HlsPackager recording (VOD copy beside the live window)', () => {
  it('keeps every segment under <room>/recordings/<id>/ while the live window expires its own, ends VOD, lists and erases', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stagecast-rec-'));
    const storage = new DiskStorage({ rootDir: dir });
    const packager = new HlsPackager({ roomId: 'r1', storage, windowSegments: 3, recordingId: RID, epoch: 'rec' });
    const recorded: RecordingInfo[] = [];
    packager.on('recorded', (info) => recorded.push(info));
    // Not paced: 10 s of media arrive as fast as ffmpeg encodes them.
    const source = startFfmpegSource({ width: 320, height: 180, durationSec: 10, realtime: false });
    const store = new RecordingStore(storage);
    try {
      packager.addRendition('v', { bandwidth: 300_000 }, source.stdout);
      await source.exited;
      await sleep(200);
      const listedWhileLive = await store.list('r1');
      assert.deepEqual(listedWhileLive.map((r) => [r.id, r.state]), [[RID, 'recording']]);
      await packager.end();
      await waitFor('the recorded event', 10_000, () => recorded.length === 1);

      const liveSegments = (await storage.list('r1/v/')).filter((k) => k.includes('/seg-'));
      assert.ok(liveSegments.length <= 6, `the live window expired its segments: ${liveSegments.length}`);
      const recSegments = (await storage.list(`r1/recordings/${RID}/v/`)).filter((k) => k.includes('/seg-'));
      assert.equal(recSegments.length, 10, 'the recording keeps every segment');

      const mediaText = (await storage.get(`r1/recordings/${RID}/v/index.m3u8`))!.body.toString();
      const media = parseMedia(mediaText);
      assert.equal(media.playlistType, 'VOD');
      assert.equal(media.endlist, true);
      assert.equal(media.segments.length, 10);
      assert.equal(parseMediaPlaylist(mediaText).segments.length, 10, 'our own strict reader agrees');
      const multivariant = parseMultivariant((await storage.get(`r1/recordings/${RID}/index.m3u8`))!.body.toString());
      assert.deepEqual(multivariant.variants.map((v) => v.uri), ['v/index.m3u8']);

      const [info] = recorded;
      assert.equal(info!.id, RID);
      assert.equal(info!.state, 'ready');
      assert.ok(Math.abs(info!.durationSec - 10) < 0.5, `duration ${info!.durationSec}`);
      const listed = await store.list('r1');
      assert.deepEqual(listed.map((r) => [r.id, r.state]), [[RID, 'ready']]);

      assert.equal(await store.delete('r1', 'mfx0abcd99999999'), false, 'an unknown id is no deletion');
      assert.equal(await store.delete('r1', RID), true);
      assert.deepEqual(await storage.list(`r1/recordings/${RID}/`), [], 'no object of the recording is left');
      assert.deepEqual(await store.list('r1'), []);
      assert.ok((await storage.list('r1/v/')).length > 0, 'the live objects are untouched');
    } finally {
      await packager.close();
      await source.kill();
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('HlsPackager timed metadata (EXT-X-DATERANGE)', () => {
  it('inserts a DATERANGE at the live edge of every rendition, listed live and kept in the recording', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stagecast-dr-'));
    const storage = new DiskStorage({ rootDir: dir });
    const packager = new HlsPackager({ roomId: 'r2', storage, windowSegments: 4, recordingId: RID, epoch: 'dr', partTargetSec: 0.2 });
    const a = startFfmpegSource({ width: 320, height: 180, durationSec: 6 });
    const b = startFfmpegSource({ width: 160, height: 90, durationSec: 6 });
    try {
      assert.equal(packager.insertDateRange({ id: 'm-0', classId: 'c', payload: '' }), undefined, 'no media yet: nothing to attach to');
      packager.addRendition('hi', { bandwidth: 300_000 }, a.stdout);
      packager.addRendition('lo', { bandwidth: 100_000 }, b.stdout);
      await waitFor('both renditions playable', 20_000, () => packager.rendition('hi')!.playable && packager.rendition('lo')!.playable);
      await sleep(500);
      const hi = packager.rendition('hi')!;
      const payload = Buffer.from('{"q":"why?"}').toString('base64');
      const at = packager.insertDateRange({ id: 'm-1', classId: 'com.stagecast.metadata', payload });
      assert.ok(at, 'attached');

      // At the live edge: the end of the newest part, on the PROGRAM-DATE-TIME timeline of its segment.
      const model = parseMediaPlaylist(hi.playlist()!);
      const holder = model.segments.find((s) => s.dateRanges?.some((d) => d.id === 'm-1'));
      assert.ok(holder, `a segment lists it:\n${hi.playlist()}`);
      assert.equal(holder, model.segments.at(-1), 'in the newest segment');
      const edgeMs = holder.programDateTime.getTime() + Math.round(holder.durationSec * 1000);
      assert.equal(at.getTime(), edgeMs, 'START-DATE is the end of the newest part');
      assert.deepEqual(holder.dateRanges![0], { id: 'm-1', classId: 'com.stagecast.metadata', startDate: at, payload });
      parseMedia(hi.playlist()!);
      assert.match(packager.rendition('lo')!.playlist()!, /#EXT-X-DATERANGE:ID="m-1"/, 'every rendition carries it');

      await Promise.all([a.exited, b.exited]);
      await packager.end();
      const recorded = (await storage.get(`r2/recordings/${RID}/hi/index.m3u8`))!.body.toString();
      assert.match(recorded, /#EXT-X-DATERANGE:ID="m-1",CLASS="com.stagecast.metadata"/, 'the recording replays it');
      assert.equal(packager.insertDateRange({ id: 'm-2', classId: 'c', payload: '' }), undefined, 'ended: nothing is attached');
    } finally {
      await packager.close();
      await a.kill();
      await b.kill();
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
