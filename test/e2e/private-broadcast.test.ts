import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import type { Page } from 'playwright-core';
import { describeEngines } from '../support/engines.ts';
import { clickGoLive, openPlayerPage, usePlayerRoom, waitForStatus } from '../support/pages.ts';
import { parseMedia } from '../support/hlsCheck.ts';
import type { HlsViewSnapshot } from '../../player/src/hls/hls-view-types.ts';
import { sleep, waitFor } from '../support/wait.ts';

/**
 * A private broadcast end to end: the room is made private over the API, a presenter's studio
 * goes live, and a viewer's watch page (which exchanges its room token for a playback token and
 * has hls.js put it on every request) plays the LL-HLS broadcast. From outside, playlists and
 * media are refused without a valid playback token of the room, and the room made public again
 * needs none. The origin's own tests (test/origin/private.test.ts) cover every request kind and
 * token fault; this one shows the player and the service together.
 */

type WatchWindow = { __watch: { hls: HlsViewSnapshot | null } };

describeEngines('private broadcast: studio → LL-HLS with playback tokens → watch', (engine) => {
  const ctx = usePlayerRoom({ engine });
  let viewer: Page;
  const hlsRequests: string[] = [];
  const roomPath = () => `/api/rooms/${encodeURIComponent(ctx.room)}`;

  const setPrivate = async (value: boolean) => {
    const res = await ctx.svc.api(roomPath(), { method: 'PATCH', body: JSON.stringify({ private: value }) });
    assert.equal(res.status, 200, `PATCH private ${value}`);
    assert.equal(((await res.json()) as { private: boolean }).private, value);
  };
  const playbackToken = async (room: string, ttlSeconds?: number) => {
    const res = await ctx.svc.api(`/api/rooms/${encodeURIComponent(room)}/playback-tokens`, { method: 'POST', body: JSON.stringify(ttlSeconds ? { ttlSeconds } : {}) });
    assert.equal(res.status, 201);
    return ((await res.json()) as { token: string }).token;
  };
  const get = async (path: string, token?: string) => {
    const url = new URL(path, ctx.svc.url);
    if (token) url.searchParams.set('token', token);
    const res = await fetch(url);
    return { status: res.status, text: await res.text() };
  };

  before(() => setPrivate(true));

  it('the watch page plays the private broadcast with a playback token on every HLS request', async () => {
    const studio = await openPlayerPage(ctx, '/studio', 'alice', 'presenter');
    await clickGoLive(studio);
    await waitForStatus(studio, 'live', ctx.pageErrors);

    viewer = await openPlayerPage(ctx, '/watch', 'vic', 'viewer');
    viewer.on('request', (req) => {
      if (new URL(req.url()).pathname.startsWith('/hls/')) hlsRequests.push(req.url());
    });
    await waitForStatus(viewer, 'playing', ctx.pageErrors, 45000);
    const t0 = (await viewer.evaluate(() => (window as unknown as WatchWindow).__watch.hls))!.currentTime;
    await waitFor('the private broadcast to keep playing', 20000, async () => (await viewer.evaluate(() => (window as unknown as WatchWindow).__watch.hls))?.currentTime ?? 0, {
      until: (t) => t > t0 + 2,
    });
    const snapshot = (await viewer.evaluate(() => (window as unknown as WatchWindow).__watch.hls))!;
    assert.deepEqual(snapshot.fatalErrors, [], 'no fatal hls.js error');
    assert.ok(snapshot.framesDecoded > 0, 'frames decoded');
    const kinds = new Set(hlsRequests.map((u) => (/\.m3u8/.test(u) ? 'playlist' : 'media')));
    assert.deepEqual([...kinds].sort(), ['media', 'playlist'], `playlists and media requested: ${hlsRequests.length}`);
    const bare = hlsRequests.filter((u) => !new URL(u).searchParams.get('token'));
    assert.deepEqual(bare, [], 'every HLS request of the page carries the playback token');
    assert.deepEqual(ctx.pageErrors, []);
  });

  it('refuses playlists and media without a valid playback token of the room', async () => {
    const room = encodeURIComponent(ctx.room);
    const token = await playbackToken(ctx.room);
    const multivariant = await get(`/hls/${room}/index.m3u8`, token);
    assert.equal(multivariant.status, 200);
    const variant = multivariant.text.split('\n').find((l) => l && !l.startsWith('#'))!;
    const mediaPath = `/hls/${room}/${variant}`;
    const media = await get(mediaPath, token);
    assert.equal(media.status, 200);
    const pl = parseMedia(media.text);
    const withParts = pl.segments.find((s) => s.parts.some((p) => !p.hint))!;
    const objectPaths = [withParts.map.uri, withParts.parts[0]!.uri].map((uri) => new URL(uri, new URL(mediaPath, ctx.svc.url)).pathname);
    for (const path of objectPaths) assert.equal((await get(path, token)).status, 200, `${path} with the token`);

    await ctx.svc.createRoom('another');
    const otherRoom = await playbackToken('another');
    const expiring = await playbackToken(ctx.room, 1);
    const viewerRoomToken = await ctx.svc.token(ctx.room, 'eve', 'viewer');
    await sleep(2100);
    for (const path of [`/hls/${room}/index.m3u8`, mediaPath, ...objectPaths]) {
      assert.equal((await get(path)).status, 401, `${path} without a token`);
      assert.equal((await get(path, expiring)).status, 401, `${path} with an expired token`);
      assert.equal((await get(path, viewerRoomToken)).status, 401, `${path} with a room token`);
      assert.equal((await get(path, otherRoom)).status, 403, `${path} with another room's token`);
    }
  });

  it('made public again, the room needs no token', async () => {
    await setPrivate(false);
    const res = await get(`/hls/${encodeURIComponent(ctx.room)}/index.m3u8`);
    assert.equal(res.status, 200);
  });
});
