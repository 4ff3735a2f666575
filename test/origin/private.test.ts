/**
 * Private broadcasts at the origin: a live packager fed by ffmpeg, the origin with its playback
 * gate wired as services/server/main.ts wires it (PrivateBroadcasts + PlaybackTokenService).
 * Every kind of request of a private room (multivariant, media playlist, blocking reload, init,
 * part, segment) is refused without a valid playback token (missing, expired, forged, a room
 * token, another room's) and served with one, with the same bytes and cache headers as a public
 * room's; a public room needs none.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Server } from 'node:http';
import { PlaybackTokenService } from '../../services/auth/playbackTokens.ts';
import { TokenService } from '../../services/auth/tokens.ts';
import { createOriginApp } from '../../services/origin/index.ts';
import { HlsPackager } from '../../services/packager/index.ts';
import { PrivateBroadcasts } from '../../services/stage/PrivateBroadcasts.ts';
import { DiskStorage } from '../../services/storage/DiskStorage.ts';
import { startFfmpegSource, type FfmpegSource } from '../support/ffmpegSource.ts';
import { parseMedia } from '../support/hlsCheck.ts';
import { listenWithLane } from '../support/originServer.ts';

const SECRET = 'private-origin-test-secret-0123456789';
const ROOM = 'room1';

describe('HLS origin: private broadcasts', () => {
  let dir: string;
  let storage: DiskStorage;
  let packager: HlsPackager;
  let source: FfmpegSource;
  let server: Server;
  let base: string;
  const privacy = new PrivateBroadcasts();
  const playbackTokens = new PlaybackTokenService({ secret: SECRET, ttlSeconds: 60 });
  /** Paths of every kind of request, filled once the packager has a segment with parts. */
  let paths: { name: string; path: string }[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stagecast-private-'));
    storage = new DiskStorage({ rootDir: join(dir, 'hls') });
    packager = new HlsPackager({ roomId: ROOM, epoch: 'p', storage });
    const app = createOriginApp({
      getPackager: (room) => (room === ROOM ? packager : undefined),
      storage,
      playback: { isPrivate: (room) => privacy.isPrivate(room), verify: (token, room) => playbackTokens.verify(token, room) },
    });
    let port: number;
    ({ server, port } = await listenWithLane(app.fetch, { getPackager: (room) => (room === ROOM ? packager : undefined), isPrivate: (room) => privacy.isPrivate(room) }));
    base = `http://127.0.0.1:${port}`;
    source = startFfmpegSource({ width: 320, height: 180 });
    packager.addRendition('v', { bandwidth: 300_000 }, source.stdout);
    await new Promise<void>((resolve) => packager.once('ready', resolve));
    // Wait for a full segment with parts, so that every object kind exists.
    let pl = parseMedia(await (await fetch(`${base}/hls/${ROOM}/v/index.m3u8`)).text());
    for (let i = 0; i < 100 && !pl.segments.some((s) => s.uri && s.parts.length); i++) {
      await new Promise((r) => setTimeout(r, 100));
      pl = parseMedia(await (await fetch(`${base}/hls/${ROOM}/v/index.m3u8`)).text());
    }
    const seg = pl.segments.find((s) => s.uri && s.parts.length)!;
    assert.ok(seg, 'a segment with parts');
    const last = pl.segments.at(-1)!;
    paths = [
      { name: 'access check', path: `/hls/${ROOM}/access` },
      { name: 'multivariant', path: `/hls/${ROOM}/index.m3u8` },
      { name: 'media playlist', path: `/hls/${ROOM}/v/index.m3u8` },
      { name: 'blocking reload', path: `/hls/${ROOM}/v/index.m3u8?_HLS_msn=${seg.mediaSequenceNumber}&_HLS_part=0` },
      { name: 'init', path: `/hls/${ROOM}/v/${seg.map.uri}` },
      { name: 'part', path: `/hls/${ROOM}/v/${seg.parts[0]!.uri}` },
      { name: 'segment', path: `/hls/${ROOM}/v/${seg.uri}` },
    ];
    assert.ok(last, 'a live playlist');
  });

  after(async () => {
    await packager.close();
    await source.kill();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** `path` with `token` added to its query. */
  const withToken = (path: string, token: string) => `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;

  async function expectRefused(path: string, status: 401 | 403, message: RegExp, init?: RequestInit): Promise<void> {
    const res = await fetch(`${base}${path}`, init);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(res.status, status, `${path}: ${JSON.stringify(body)}`);
    assert.equal(body.error.code, status === 401 ? 'unauthorized' : 'forbidden', path);
    assert.match(body.error.message, message, path);
    assert.equal(res.headers.get('cache-control'), 'no-store', `${path}: a refusal is never cached`);
    assert.equal(res.headers.get('access-control-allow-origin'), '*', `${path}: a browser player can read the refusal`);
  }

  it('a public room needs no token', async () => {
    privacy.set(ROOM, false);
    for (const { name, path } of paths) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, name === 'access check' ? 204 : 200, name);
      await res.body?.cancel();
    }
  });

  it('a private room refuses every playlist and media request without a valid playback token', async () => {
    privacy.set(ROOM, true);
    const expired = (await playbackTokens.issue(ROOM, 60, Date.now() - 120_000)).token;
    const otherRoom = (await playbackTokens.issue('room2')).token;
    const roomToken = (await new TokenService({ secret: SECRET, ttlSeconds: 60 }).issue(ROOM, 'alice', 'viewer')).token;
    const forged = (await new PlaybackTokenService({ secret: 'another-secret-another-secret-0123', ttlSeconds: 60 }).issue(ROOM)).token;
    for (const { path } of paths) {
      await expectRefused(path, 401, /playback token required/);
      await expectRefused(withToken(path, expired), 401, /token expired/);
      await expectRefused(withToken(path, forged), 401, /signature invalid/);
      await expectRefused(withToken(path, roomToken), 401, /not a playback token/);
      await expectRefused(withToken(path, 'not-a-jwt'), 401, /malformed/);
      await expectRefused(withToken(path, otherRoom), 403, /another room/);
      await expectRefused(path, 403, /another room/, { headers: { authorization: `Bearer ${otherRoom}` } });
    }
  });

  it('a valid playback token, in the query or as a Bearer header, gets the same answers a public room gets', async () => {
    privacy.set(ROOM, true);
    const { token } = await playbackTokens.issue(ROOM);
    for (const { name, path } of paths) {
      const ok = name === 'access check' ? 204 : 200;
      const byQuery = await fetch(`${base}${withToken(path, token)}`);
      assert.equal(byQuery.status, ok, name);
      const body = Buffer.from(await byQuery.arrayBuffer());
      assert.ok(body.byteLength > 0 || ok === 204, name);
      const byHeader = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(byHeader.status, ok, name);
      await byHeader.body?.cancel();
      if (name === 'init' || name === 'part' || name === 'segment') {
        // The edge keys media without the token (README, Private broadcasts): same immutable object.
        assert.equal(byQuery.headers.get('cache-control'), 'public, max-age=31536000, immutable', name);
        privacy.set(ROOM, false);
        const pub = Buffer.from(await (await fetch(`${base}${path}`)).arrayBuffer());
        privacy.set(ROOM, true);
        assert.ok(pub.equals(body), `${name}: the same bytes with and without the token`);
      }
      if (name === 'media playlist' || name === 'blocking reload') {
        // Nothing is rewritten: relative URLs carry no token.
        assert.doesNotMatch(body.toString(), /token=/, name);
      }
    }
    const preflight = await fetch(`${base}${paths[0]!.path}`, { method: 'OPTIONS' });
    assert.equal(preflight.status, 204, 'CORS preflight needs no token');
  });

  it('a token that expires stops working at its expiry, even after it was accepted', async () => {
    privacy.set(ROOM, true);
    const { token } = await playbackTokens.issue(ROOM, 1);
    const path = withToken(paths.find((p) => p.name === 'init')!.path, token);
    const ok = await fetch(`${base}${path}`);
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    await new Promise((r) => setTimeout(r, 2100));
    await expectRefused(path, 401, /token expired/);
  });
});
