import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { Page } from 'playwright-core';
import { clickGoLive, openPlayerPage, usePlayerRoom, waitForStatus } from '../support/pages.ts';
import { startS3Server, type TestS3Server } from '../support/s3server.ts';
import { startReceiver, type TestReceiver } from '../support/webhookReceiver.ts';
import { sleep, waitFor } from '../support/wait.ts';

/**
 * Recordings end to end: a room set to record goes live from the studio, a viewer watches the
 * LL-HLS broadcast, the broadcast stops, and the same watch page plays the recording (VOD,
 * ENDLIST) in hls.js to its `ended` event. The recording is listed, announced by the
 * `recording.ready` webhook, and erased object by object: on disk here, on the S3 test
 * server below. Ids with path tricks are refused with `bad_request`.
 */

type RecordingListing = { recordings: { id: string; state: string; startedAt: string; durationSec: number; playlist: string }[] };
type WatchWindow = {
  __watch: {
    recording: { state: string; id: string | null; currentTime: number; duration: number; ended: boolean; fatalErrors: string[] } | null;
    hls: { state: string } | null;
  };
};

const WEBHOOK_SECRET = 'recordings-test-secret-0123456789';

/** A DELETE whose path goes on the wire exactly as written. */
function rawDelete(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(ctxUrl);
    const req = request({ host: url.hostname, port: url.port, method: 'DELETE', path, headers: { authorization: `Bearer ${ctxKey}` } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
let ctxUrl = '';
let ctxKey = '';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** A recording's media playlists as the origin serves them (for a failure's message). */
async function recordingPlaylists(base: string, room: string, id: string): Promise<string> {
  const url = `${base}/hls/${encodeURIComponent(room)}/recordings/${id}/index.m3u8`;
  const multivariant = await (await fetch(url)).text();
  const media = multivariant.split('\n').filter((l) => l && !l.startsWith('#'));
  const texts = await Promise.all(media.map(async (uri) => `${uri}:\n${await (await fetch(new URL(uri, url))).text()}`));
  return texts.join('\n');
}

/** Goes live from a studio page, broadcasts for `seconds` of playable HLS, then stops through the API. */
async function recordBroadcast(ctx: ReturnType<typeof usePlayerRoom>, seconds: number): Promise<Page> {
  const studio = await openPlayerPage(ctx, '/studio', 'alice', 'presenter');
  await clickGoLive(studio);
  await waitForStatus(studio, 'live', ctx.pageErrors);
  const playlist = `${ctx.svc.url}/hls/${encodeURIComponent(ctx.room)}/index.m3u8`;
  await waitFor('the live playlist', 30000, async () => (await fetch(playlist)).status === 200);
  await sleep(seconds * 1000);
  return studio;
}

describe('recordings: record, play after the live, list, erase (disk)', () => {
  const storageDir = mkdtempSync(join(tmpdir(), 'stagecast-rec-e2e-'));
  const env: Record<string, string> = { STORAGE_DIR: storageDir, WEBHOOK_SECRET };
  let receiver: TestReceiver;
  before(async () => {
    receiver = await startReceiver(WEBHOOK_SECRET);
    env.WEBHOOK_URLS = receiver.url;
  });
  const ctx = usePlayerRoom({ env });
  after(async () => {
    await receiver?.close();
    await rm(storageDir, { recursive: true, force: true });
  });
  const api = (path: string, init?: RequestInit) => ctx.svc.api(`/api/rooms/${encodeURIComponent(ctx.room)}${path}`, init);
  const json = (body: unknown): RequestInit => ({ method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  let viewer: Page;
  let recordingId: string;

  it('the room setting: RECORD off by default, PATCH turns it on, bad bodies are refused', async () => {
    assert.deepEqual(await (await api('/settings')).json(), { record: false });
    const bad = await api('/settings', json({ record: 'yes' }));
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'bad_request');
    const unknownKey = await api('/settings', json({ record: true, extra: 1 }));
    assert.equal(unknownKey.status, 400);
    const ok = await api('/settings', json({ record: true }));
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { record: true });
    const missing = await ctx.svc.api('/api/rooms/no-such-room/settings', json({ record: true }));
    assert.equal(missing.status, 404);
  });

  it('a viewer watches the live; after it stops, the same page plays the recording to its end (ENDLIST, ended)', async () => {
    viewer = await openPlayerPage(ctx, '/watch', 'vic', 'viewer');
    await waitForStatus(viewer, 'waiting for broadcast', ctx.pageErrors, 15000);
    const studio = await recordBroadcast(ctx, 5);
    await waitForStatus(viewer, 'playing', ctx.pageErrors, 30000);
    const live = (await (await api('/broadcast')).json()) as { state: string; recordingId?: string };
    assert.equal(live.state, 'live');
    assert.ok(live.recordingId, 'the live broadcast names its recording');
    recordingId = live.recordingId;
    const during = (await (await api('/recordings')).json()) as RecordingListing;
    assert.deepEqual(during.recordings.map((r) => [r.id, r.state]), [[recordingId, 'recording']], 'listed while it records');
    const deleteLive = await api(`/recordings/${recordingId}`, { method: 'DELETE' });
    assert.equal(deleteLive.status, 409, 'a recording being written is not erased');

    const stopped = await api('/broadcast', { method: 'DELETE' });
    assert.equal(stopped.status, 200);
    await studio.close();
    // The viewer watches in the tab in front: Chromium defers starting media in a background tab.
    await viewer.bringToFront();

    const snap = () => viewer.evaluate(() => (window as unknown as WatchWindow).__watch.recording);
    // A wait that fails says what the recording holds.
    const withPlaylists = async (err: Error): Promise<never> => {
      throw new Error(`${err.message}\nthe recording's playlists:\n${await recordingPlaylists(ctx.svc.url, ctx.room, recordingId)}`);
    };
    const playing = await waitFor('the recording to play on the watch page', 40000, snap, { until: (s) => s?.state === 'playing' || s?.state === 'ended' }).catch(withPlaylists);
    assert.equal(playing?.id, recordingId, 'the latest recording');
    const done = await waitFor('the recording to play to its end', 60000, snap, { until: (s) => s?.ended === true, stepMs: 500 }).catch(withPlaylists);
    assert.equal(done?.state, 'ended');
    // 5 s of wall time on air; a loaded machine stalls ffmpeg now and then, so ask for less media.
    assert.ok(done!.duration >= 2, `the recording lasts ${done!.duration} s`);
    assert.ok(done!.currentTime >= done!.duration - 0.5, `played to the end: ${done!.currentTime} of ${done!.duration} s`);
    assert.deepEqual(done!.fatalErrors, []);
    assert.deepEqual(ctx.pageErrors, []);
  });

  it('lists it with start, duration and a playlist URL that is VOD with ENDLIST; recording.ready was sent', async () => {
    const listing = (await (await api('/recordings')).json()) as RecordingListing;
    assert.equal(listing.recordings.length, 1);
    const [rec] = listing.recordings;
    assert.equal(rec!.id, recordingId);
    assert.equal(rec!.state, 'ready');
    assert.ok(rec!.durationSec >= 2, `duration ${rec!.durationSec}`);
    assert.ok(!Number.isNaN(Date.parse(rec!.startedAt)));
    assert.equal(rec!.playlist, `/hls/${ctx.room}/recordings/${recordingId}/index.m3u8`);
    const multivariant = await (await fetch(`${ctx.svc.url}${rec!.playlist}`)).text();
    const media = multivariant.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.ok(media.length >= 1, multivariant);
    for (const uri of media) {
      const text = await (await fetch(new URL(uri, `${ctx.svc.url}${rec!.playlist}`))).text();
      assert.match(text, /#EXT-X-PLAYLIST-TYPE:VOD/);
      assert.match(text, /#EXT-X-ENDLIST\n$/);
    }
    const event = await waitFor('the recording.ready webhook', 20000, () => receiver.received.find((r) => r.event.type === 'recording.ready'));
    assert.equal(event!.verified, true);
    assert.equal(event!.event.room, ctx.room);
    assert.equal(event!.event.data.recordingId, recordingId);
    assert.equal(event!.event.data.playlist, rec!.playlist);
  });

  it('refuses ids with path tricks (bad_request) and unknown ids (404)', async () => {
    ctxUrl = ctx.svc.url;
    ctxKey = ctx.svc.apiKey;
    for (const id of ['..%2F..%2Fhls', '%2e%2e', 'a%2Fb', `${recordingId}%2F..`, 'UPPERCASE1']) {
      const res = await api(`/recordings/${id}`, { method: 'DELETE' });
      assert.ok(res.status === 400 || res.status === 404, `${id}: ${res.status}`);
      if (res.status === 400) assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'bad_request', id);
    }
    // Raw requests: fetch's URL parser would resolve `..` and `%2e%2e` before sending.
    // A dot segment, plain or encoded, is resolved before routing: it never reaches the route (404).
    for (const id of ['..', '%2e%2e']) {
      const res = await rawDelete(`/api/rooms/${ctx.room}/recordings/${id}`);
      assert.ok(res.status === 400 || res.status === 404, `${id} → ${res.status}`);
    }
    // Encoded slashes reach it as part of the id: refused.
    for (const id of ['..%2F..%2Fhls', 'a%2Fb', '%2E%2E%2F%2E%2E']) {
      const res = await rawDelete(`/api/rooms/${ctx.room}/recordings/${id}`);
      assert.equal(res.status, 400, `${id} is refused as an id: ${res.body}`);
      assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'bad_request', id);
    }
    const unknown = await api('/recordings/mfx0abcd99999999', { method: 'DELETE' });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'not_found');
    assert.ok((await filesUnder(join(storageDir, ctx.room, 'recordings', recordingId))).length > 0, 'nothing was deleted by the refused requests');
  });

  it('DELETE erases every object of the recording and nothing else; then 404', async () => {
    const liveBefore = (await filesUnder(join(storageDir, ctx.room))).filter((f) => !f.includes('/recordings/'));
    const res = await api(`/recordings/${recordingId}`, { method: 'DELETE' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: recordingId, deleted: true });
    assert.deepEqual(await filesUnder(join(storageDir, ctx.room, 'recordings', recordingId)), [], 'no file of the recording is left on disk');
    const liveAfter = (await filesUnder(join(storageDir, ctx.room))).filter((f) => !f.includes('/recordings/'));
    assert.deepEqual(liveAfter, liveBefore, 'the live objects are untouched');
    assert.deepEqual(((await (await api('/recordings')).json()) as RecordingListing).recordings, []);
    assert.equal((await fetch(`${ctx.svc.url}/hls/${ctx.room}/recordings/${recordingId}/index.m3u8`)).status, 404);
    assert.equal((await fetch(`${ctx.svc.url}/hls/${ctx.room}/recordings/latest`)).status, 404);
    assert.equal((await api(`/recordings/${recordingId}`, { method: 'DELETE' })).status, 404, 'a second delete finds nothing');
  });
});

describe('recordings on S3 (RECORD=true): erasure leaves no object in the bucket', () => {
  let s3: TestS3Server;
  const env: Record<string, string> = { STORAGE: 's3', RECORD: 'true' };
  before(async () => {
    s3 = await startS3Server({ bucket: 'rec-e2e' });
    Object.assign(env, {
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: s3.bucket,
      S3_REGION: s3.region,
      S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    });
  });
  const ctx = usePlayerRoom({ env });
  after(async () => {
    await s3?.close();
  });

  async function bucketKeys(prefix: string): Promise<string[]> {
    const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: s3.credentials });
    try {
      const res = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
      return (res.Contents ?? []).map((o) => o.Key!);
    } finally {
      client.destroy();
    }
  }

  it('records to the bucket, lists it, and DELETE removes every object of it', async () => {
    const api = (path: string, init?: RequestInit) => ctx.svc.api(`/api/rooms/${encodeURIComponent(ctx.room)}${path}`, init);
    const studio = await recordBroadcast(ctx, 3);
    assert.equal((await api('/broadcast', { method: 'DELETE' })).status, 200);
    await studio.close();
    const listing = await waitFor('the recording to be ready', 20000, async () => ((await (await api('/recordings')).json()) as RecordingListing).recordings, {
      until: (list) => list.length === 1 && list[0]!.state === 'ready',
    });
    const id = listing[0]!.id;
    const prefix = `${ctx.room}/recordings/${id}/`;
    const keys = await bucketKeys(prefix);
    assert.ok(keys.some((k) => k.endsWith('.m4s')) && keys.some((k) => k.endsWith('/index.m3u8')) && keys.includes(`${prefix}recording.json`), keys.join(' '));
    const vod = await (await fetch(`${ctx.svc.url}${listing[0]!.playlist}`)).text();
    assert.match(vod, /#EXT-X-STREAM-INF/);

    const res = await api(`/recordings/${id}`, { method: 'DELETE' });
    assert.equal(res.status, 200);
    assert.deepEqual(await bucketKeys(prefix), [], 'no object of the recording is left in the bucket');
    assert.ok((await bucketKeys(`${ctx.room}/`)).length > 0, 'the live objects are still there');
    assert.equal((await api(`/recordings/${id}`, { method: 'DELETE' })).status, 404);
  });
});
