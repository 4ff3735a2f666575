import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HlsPackager } from '../../services/packager/index.ts';
import { S3Storage } from '../../services/storage/S3Storage.ts';
import { startS3Server, type TestS3Server } from '../support/s3server.ts';
import { startFfmpegSource, type FfmpegSource } from '../support/ffmpegSource.ts';
import { parseMedia, parseMultivariant } from '../support/hlsCheck.ts';
import { msFromEnv } from '../support/env.ts';
import { sleep } from '../support/wait.ts';

const ROOM = 's3room';
const RENDITIONS = ['hi', 'lo'];
const DEFAULT_OUTAGE_MS = 20_000;
/** How long the S3 server is down; 20 s unless TEST_S3_OUTAGE_MS says otherwise. */
const OUTAGE_MS = msFromEnv('TEST_S3_OUTAGE_MS', DEFAULT_OUTAGE_MS);
/** A count demanded over a 20 s outage, demanded at the same rate (rounded up) over this run's outage. */
const overOutage = (countIn20s: number) => Math.ceil((countIn20s * OUTAGE_MS) / DEFAULT_OUTAGE_MS);

/**
 * The packager against a real S3-compatible HTTP server, with a 20 s outage (TEST_S3_OUTAGE_MS) in the middle.
 * A poller reads every stored playlist as often as it can and checks that each object it
 * names is already in the bucket (record mode: nothing is ever deleted, so a later listing
 * must contain everything an earlier playlist named).
 */
describe('HlsPackager on S3 storage, through an outage', () => {
  let s3: TestS3Server;
  let storage: S3Storage;
  let packager: HlsPackager;
  const sources: FfmpegSource[] = [];
  const violations: string[] = [];
  let checks = 0;
  let polling = true;
  let poller: Promise<void>;
  const liveMsnDuringOutage: { before: number; after: number } = { before: 0, after: 0 };

  async function checkOrdering(): Promise<void> {
    const playlists = [`${ROOM}/index.m3u8`, ...RENDITIONS.map((r) => `${ROOM}/${r}/index.m3u8`)];
    const texts = new Map<string, string>();
    for (const key of playlists) {
      const obj = await storage.get(key);
      if (obj) texts.set(key, obj.body.toString());
    }
    const keys = new Set(await storage.list(`${ROOM}/`));
    for (const [key, text] of texts) {
      const dir = key.slice(0, key.lastIndexOf('/') + 1);
      const referenced: string[] = [];
      if (key === `${ROOM}/index.m3u8`) {
        for (const v of parseMultivariant(text).variants) referenced.push(dir + v.uri);
      } else {
        for (const s of parseMedia(text).segments) {
          referenced.push(dir + s.uri);
          if (s.map?.uri) referenced.push(dir + s.map.uri);
        }
      }
      for (const ref of referenced) if (!keys.has(ref)) violations.push(`${key} names missing ${ref}`);
      checks++;
    }
  }

  before(async () => {
    s3 = await startS3Server();
    storage = new S3Storage({
      endpoint: s3.endpoint,
      region: s3.region,
      bucket: s3.bucket,
      credentials: s3.credentials,
      forcePathStyle: true,
      requestTimeoutMs: 2000,
    });
    packager = new HlsPackager({ roomId: ROOM, storage, record: true, epoch: 's3' });
    for (const name of RENDITIONS) {
      const src = startFfmpegSource({ width: name === 'hi' ? 480 : 320, height: name === 'hi' ? 270 : 180, videoBitrate: '300k' });
      sources.push(src);
      packager.addRendition(name, { bandwidth: name === 'hi' ? 500_000 : 300_000 }, src.stdout);
    }
    poller = (async () => {
      while (polling) {
        if (s3.running) await checkOrdering().catch(() => undefined); // the server may stop mid-check
        await sleep(25);
      }
    })();
  });

  after(async () => {
    polling = false;
    await poller;
    await packager.close();
    for (const s of sources) await s.kill();
    await storage.close();
    await s3.close();
  });

  it(`keeps the live origin going and loses no segment over a ${OUTAGE_MS / 1000} s outage`, async (t) => {
    await new Promise<void>((resolve) => packager.once('ready', resolve));
    await sleep(3000);
    const hi = packager.rendition('hi')!;
    await s3.stop();
    liveMsnDuringOutage.before = hi.position()!.msn;
    await sleep(OUTAGE_MS);
    liveMsnDuringOutage.after = hi.position()!.msn;
    assert.ok(hi.uploadFailures > 0, 'uploads did fail during the outage');
    assert.ok(hi.uploadsPending >= overOutage(15), `backlog held in memory: ${hi.uploadsPending}`);
    t.diagnostic(`outage: ${hi.uploadFailures} failed attempts, ${hi.uploadsPending} uploads held, live msn ${liveMsnDuringOutage.before} -> ${liveMsnDuringOutage.after}`);
    const restartedAt = performance.now();
    // Live playlists are served from memory: they kept advancing while storage was down.
    assert.ok(liveMsnDuringOutage.after - liveMsnDuringOutage.before >= overOutage(17), JSON.stringify(liveMsnDuringOutage));
    await s3.start();
    const deadline = performance.now() + 30_000;
    while (RENDITIONS.some((r) => packager.rendition(r)!.uploadsPending > 0) && performance.now() < deadline) await sleep(100);
    for (const r of RENDITIONS) assert.equal(packager.rendition(r)!.uploadsPending, 0, `${r} caught up`);
    t.diagnostic(`backlog uploaded ${Math.round(performance.now() - restartedAt)} ms after the restart`);
    await sleep(500);
    for (const s of sources) await s.kill();
    await packager.end();

    for (const r of RENDITIONS) {
      const rendition = packager.rendition(r)!;
      assert.equal(rendition.droppedUploads, 0);
      const stored = await storage.get(`${ROOM}/${r}/index.m3u8`);
      assert.ok(stored);
      assert.equal(stored.contentType, 'application/vnd.apple.mpegurl');
      const pl = parseMedia(stored.body.toString());
      assert.equal(pl.endlist, true);
      assert.equal(pl.mediaSequenceBase, 0);
      assert.ok(pl.segments.length >= 24, `${r}: ${pl.segments.length} segments`);
      t.diagnostic(`${r}: ${pl.segments.length} segments stored, msn 0-${pl.segments.at(-1)!.mediaSequenceNumber}, none lost`);
      pl.segments.forEach((s, i) => {
        assert.equal(s.mediaSequenceNumber, i);
        assert.ok(!s.gap, 'no segment lost');
      });
      assert.equal(pl.segments.at(-1)!.mediaSequenceNumber, rendition.lastCompleteMsn());
      for (const s of pl.segments) {
        const obj = await storage.get(`${ROOM}/${r}/${s.uri}`);
        assert.ok(obj, `${s.uri} stored`);
        assert.equal(obj.contentType, 'video/mp4');
        assert.equal(obj.cacheControl, 'public, max-age=31536000, immutable');
      }
    }
    const mv = await storage.get(`${ROOM}/index.m3u8`);
    assert.ok(mv);
    assert.equal(mv.contentType, 'application/vnd.apple.mpegurl');
    await checkOrdering();
  });

  it('never let a stored playlist name an object that was not stored yet', (t) => {
    t.diagnostic(`${checks} playlist checks, ${violations.length} violations`);
    assert.ok(checks > 100, `only ${checks} checks ran`);
    assert.deepEqual(violations, []);
  });
});
