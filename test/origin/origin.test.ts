import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Hono } from 'hono';
import { notFound, onError } from '../../services/api/middleware/errorHandler/index.ts';
import { requestId } from '../../services/api/middleware/requestId/index.ts';
import { HlsPackager, type HlsPackagerOptions } from '../../services/packager/index.ts';
import { advancePartLimit } from '../../services/origin/blockingReload.ts';
import { createOriginApp } from '../../services/origin/index.ts';
import { DiskStorage } from '../../services/storage/DiskStorage.ts';
import { startFfmpegSource, type FfmpegSource, type FfmpegSourceOptions } from '../support/ffmpegSource.ts';
import { parseMedia } from '../support/hlsCheck.ts';
import { listenWithLane } from '../support/originServer.ts';
import { sleep } from '../support/wait.ts';

/** Sends a raw request line, so that the path reaches the server exactly as written. */
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    let data = '';
    socket.on('data', (d) => (data += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
  });
}

/**
 * A live packager with one rendition `v` fed by ffmpeg, storage in a temporary folder and an
 * origin over them on a free loopback port. `close()` undoes it all.
 */
interface LiveOrigin {
  /** The app the server runs; `app.request()` answers through hono alone, never Node's response. */
  app: Hono;
  dir: string;
  storage: DiskStorage;
  packager: HlsPackager;
  port: number;
  source: FfmpegSource | undefined;
  /** Starts ffmpeg and feeds rendition `v` with it. */
  feed(options: FfmpegSourceOptions): FfmpegSource;
  close(): Promise<void>;
}

async function startLiveOrigin(options: Omit<HlsPackagerOptions, 'storage'>): Promise<LiveOrigin> {
  const dir = await mkdtemp(join(tmpdir(), 'stagecast-origin-'));
  const storage = new DiskStorage({ rootDir: join(dir, 'hls') });
  const packager = new HlsPackager({ ...options, storage });
  const getPackager = (room: string) => (room === options.roomId ? packager : undefined);
  // As the service mounts it: behind the request-id middleware, in an app with the service's error answers.
  const app = new Hono();
  app.use('*', requestId());
  app.onError(onError);
  app.notFound(notFound);
  app.route('/', createOriginApp({ getPackager, storage }));
  const { server, port } = await listenWithLane(app.fetch, { getPackager });
  const origin: LiveOrigin = {
    app,
    dir,
    storage,
    packager,
    port,
    source: undefined,
    feed(sourceOptions) {
      origin.source = startFfmpegSource(sourceOptions);
      packager.addRendition('v', { bandwidth: 300_000 }, origin.source.stdout);
      return origin.source;
    },
    async close() {
      await packager.close();
      await origin.source?.kill();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return origin;
}

async function expectBadRequest(url: string, message: RegExp): Promise<void> {
  const t0 = performance.now();
  const res = await fetch(url);
  assert.equal(res.status, 400, url);
  assert.ok(performance.now() - t0 < 200, `${url} answered at once`);
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'bad_request');
  assert.match(body.error.message, message);
}

describe('HLS origin over HTTP with a live packager', () => {
  let origin: LiveOrigin;
  let packager: HlsPackager;
  let source: FfmpegSource;
  let base: string;
  let port: number;
  const published = new Map<string, number>();

  before(async () => {
    origin = await startLiveOrigin({ roomId: 'room1', epoch: 'o' });
    ({ packager, port } = origin);
    await writeFile(join(origin.dir, 'secret.txt'), 'TOP-SECRET-OUTSIDE-ROOT');
    packager.on('part', (_r, part) => published.set(`${part.msn}/${part.index}`, performance.now()));
    source = origin.feed({ width: 320, height: 180 });
    base = `http://127.0.0.1:${port}`;
    await new Promise<void>((resolve) => packager.once('ready', resolve));
  });

  after(() => origin.close());

  it('serves playlists and media with their content types, cache headers and CORS', async () => {
    const mv = await fetch(`${base}/hls/room1/index.m3u8`);
    assert.equal(mv.status, 200);
    assert.equal(mv.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(mv.headers.get('access-control-allow-origin'), '*');
    assert.match(await mv.text(), /v\/index\.m3u8/);

    const res = await fetch(`${base}/hls/room1/v/index.m3u8`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const pl = parseMedia(await res.text());
    const seg = pl.segments.find((s) => s.uri)!;
    const withParts = pl.segments.find((s) => s.parts.some((p) => !p.hint))!;
    for (const uri of [seg.map.uri, seg.uri, withParts.parts[0]!.uri]) {
      const media = await fetch(`${base}/hls/room1/v/${uri}`);
      assert.equal(media.status, 200, uri);
      assert.equal(media.headers.get('content-type'), 'video/mp4');
      assert.equal(media.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.equal(media.headers.get('access-control-allow-origin'), '*');
      assert.ok((await media.arrayBuffer()).byteLength > 100);
    }
    const pre = await fetch(`${base}/hls/room1/index.m3u8`, { method: 'OPTIONS' });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /GET/);
  });

  it('answers live objects straight to Node (the lane, a released wait) with the headers hono would send, the request id among them, on a connection that stays usable', async () => {
    const pos = packager.rendition('v')!.position()!;
    const listing = parseMedia(await (await fetch(`${base}/hls/room1/v/index.m3u8`)).text());
    const part = listing.segments.flatMap((s) => s.parts).find((p) => !p.hint)!;
    const segment = listing.segments.find((s) => s.uri)!;
    // What Node adds to either (date, connection, and content-length, which app.request lacks) aside.
    const nodeOwn = new Set(['date', 'x-request-id', 'connection', 'keep-alive', 'content-length']);
    const headersOf = (res: Response) => Object.fromEntries([...res.headers].filter(([k]) => !nodeOwn.has(k)));
    const immutable = [`/hls/room1/v/${part.uri}`, `/hls/room1/v/${segment.uri}`, `/hls/room1/v/${segment.map.uri}`];
    const playlists = ['/hls/room1/v/index.m3u8', `/hls/room1/v/index.m3u8?_HLS_msn=${pos.msn}&_HLS_part=${pos.part}`];
    for (const path of [...immutable, ...playlists]) {
      const direct = await fetch(`${base}${path}`, { headers: { 'x-request-id': 'trace-1' } });
      const viaHono = await origin.app.request(path);
      assert.equal(direct.status, 200, path);
      assert.equal(viaHono.status, 200, path);
      assert.equal(direct.headers.get('x-request-id'), 'trace-1', 'the caller\'s request id comes back');
      assert.match(viaHono.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      const bytes = Buffer.from(await direct.arrayBuffer());
      const same = immutable.includes(path);
      if (same) assert.ok(bytes.equals(Buffer.from(await viaHono.arrayBuffer())), 'the same part bytes');
      else await viaHono.body?.cancel();
      const d = headersOf(direct);
      const h = headersOf(viaHono);
      if (!same) {
        // The playlist may have moved on between the two requests: its revision, not its headers' set.
        assert.match(d.etag ?? '', /^"o-\d+"$/);
        delete d.etag;
        delete h.etag;
      }
      assert.deepEqual(d, h, path);
      assert.equal(direct.headers.get('content-length'), String(bytes.byteLength), path);
    }
    // HEAD goes through hono (no body); then the same keep-alive connection answers a GET again.
    const head = await fetch(`${base}/hls/room1/v/${part.uri}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    const res = await rawGet(port, `/hls/room1/v/${part.uri}`);
    assert.equal(res.status, 200);
  });

  it('sends cache headers an edge can follow: blocking playlists briefly, media immutable, 404 briefly, other errors never', async () => {
    const cacheControl = async (path: string, status: number) => {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, status, path);
      await res.body?.cancel();
      return res.headers.get('cache-control');
    };
    const pos = packager.rendition('v')!.position()!;
    assert.equal(await cacheControl(`/hls/room1/v/index.m3u8?_HLS_msn=${pos.msn}&_HLS_part=${pos.part}`, 200), 'public, max-age=1');
    assert.equal(await cacheControl(`/hls/room1/v/index.m3u8?_HLS_msn=${pos.msn - 1}`, 200), 'public, max-age=1');
    assert.equal(await cacheControl('/hls/room1/v/index.m3u8', 200), 'no-cache');
    assert.equal(await cacheControl('/hls/room1/index.m3u8', 200), 'public, max-age=1');
    assert.equal(await cacheControl('/hls/room1/v/init-o-0.mp4', 200), 'public, max-age=31536000, immutable');
    assert.equal(await cacheControl('/hls/room1/v/seg-o-999999.m4s', 404), 'public, max-age=1');
    assert.equal(await cacheControl('/hls/nosuchroom/index.m3u8', 404), 'public, max-age=1');
    assert.equal(await cacheControl('/hls/room1/v/index.m3u8?_HLS_msn=abc', 400), 'no-store');
    assert.equal(await cacheControl(`/hls/room1/v/index.m3u8?_HLS_msn=${pos.msn + 10}`, 400), 'no-store');
  });

  it('tags live playlists with an ETag per revision and answers 304 to a reader that has it', async () => {
    const res = await fetch(`${base}/hls/room1/v/index.m3u8`);
    const etag = res.headers.get('etag');
    assert.match(etag ?? '', /^"o-\d+"$/);
    const text = await res.text();
    const again = await fetch(`${base}/hls/room1/v/index.m3u8`, { headers: { 'if-none-match': etag! } });
    if (again.status === 304) {
      assert.equal(again.headers.get('etag'), etag);
      assert.equal(await again.text(), '');
    } else {
      // A part landed in between: a new revision, new bytes.
      assert.equal(again.status, 200);
      assert.notEqual(again.headers.get('etag'), etag);
      assert.notEqual(await again.text(), text);
    }
    const r = packager.rendition('v')!;
    const pos = r.position()!;
    const next = await fetch(`${base}/hls/room1/v/index.m3u8?_HLS_msn=${pos.msn}&_HLS_part=${pos.part + 1}`, { headers: { 'if-none-match': etag! } });
    assert.equal(next.status, 200, 'a blocking reload answers with the newer revision');
    assert.notEqual(next.headers.get('etag'), etag);
    await next.body?.cancel();
  });

  it('sends the same CORS headers on playlists, media, errors and preflights', async () => {
    const list = (value: string | null) => value?.split(',').map((v) => v.trim()) ?? [];
    const exposed = ['Content-Length', 'Content-Type', 'Cache-Control', 'Age', 'Date'];
    for (const [path, status] of [
      ['/hls/room1/index.m3u8', 200],
      ['/hls/room1/v/index.m3u8', 200],
      ['/hls/room1/v/init-o-0.mp4', 200],
      ['/hls/room1/v/seg-o-999999.m4s', 404],
      ['/hls/room1/v/index.m3u8?_HLS_msn=abc', 400],
      ['/hls/nosuchroom/nosuch/nosuch', 404],
    ] as const) {
      const res = await fetch(`${base}${path}`, { headers: { origin: 'https://player.example' } });
      assert.equal(res.status, status, path);
      assert.equal(res.headers.get('access-control-allow-origin'), '*', path);
      assert.deepEqual(list(res.headers.get('access-control-expose-headers')), exposed, path);
      assert.equal(res.headers.get('access-control-allow-methods'), null, path);
      assert.equal(res.headers.get('access-control-allow-credentials'), null, path);
      await res.body?.cancel();
    }
    for (const path of ['/hls/room1/index.m3u8', '/hls/room1/v/index.m3u8?_HLS_msn=1', '/hls/room1/v/part-o-1.m4s']) {
      const pre = await fetch(`${base}${path}`, {
        method: 'OPTIONS',
        headers: { origin: 'https://player.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' },
      });
      assert.equal(pre.status, 204, path);
      assert.equal(pre.headers.get('access-control-allow-origin'), '*');
      assert.deepEqual(list(pre.headers.get('access-control-allow-methods')), ['GET', 'HEAD', 'OPTIONS']);
      assert.deepEqual(list(pre.headers.get('access-control-allow-headers')), ['Range', 'If-None-Match', 'If-Modified-Since']);
      assert.equal(pre.headers.get('access-control-max-age'), '600');
      assert.deepEqual(list(pre.headers.get('access-control-expose-headers')), exposed);
      assert.equal(pre.headers.get('access-control-allow-credentials'), null);
      assert.equal(pre.headers.get('content-type'), null);
      assert.equal(await pre.text(), '');
    }
  });

  // The outcome is that a blocked request is released by the part it waits for, not by its
  // 503 timeout (3 target durations). Its speed (50 ms on an idle machine) is a benchmark's
  // figure: a unit test's deadline must hold on a loaded 2-core machine.
  it('answers a blocking request for the next part once it is published, long before the blocking timeout', async (t) => {
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = packager.rendition('v')!;
      const pos = r.position()!;
      const want = { msn: pos.msn, part: pos.part + 1 };
      const res = await fetch(`${base}/hls/room1/v/index.m3u8?_HLS_msn=${want.msn}&_HLS_part=${want.part}`);
      const answeredAt = performance.now();
      assert.equal(res.status, 200);
      const pl = parseMedia(await res.text());
      // The part asked for, or (when the segment ended there) the first of the next segment.
      const key = published.has(`${want.msn}/${want.part}`) ? `${want.msn}/${want.part}` : `${want.msn + 1}/0`;
      const at = published.get(key);
      assert.ok(at, `part ${key} was published`);
      const [msn, index] = key.split('/').map(Number) as [number, number];
      const seg = pl.segments.find((s) => s.mediaSequenceNumber === msn)!;
      assert.ok(seg.parts.filter((p) => !p.hint).length > index, 'the playlist holds the requested part');
      delays.push(answeredAt - at);
    }
    t.diagnostic(`answered ${delays.map((d) => d.toFixed(1)).join(', ')} ms after publication`);
    assert.ok(Math.max(...delays) < 1000, `released by the part, not the timeout: ${delays.map((d) => d.toFixed(1)).join(', ')} ms`);
  });

  it('serves the PRELOAD-HINT part as soon as it exists', async () => {
    const text = await (await fetch(`${base}/hls/room1/v/index.m3u8`)).text();
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(text)![1]!;
    const res = await fetch(`${base}/hls/room1/v/${hint}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'video/mp4');
  });

  it('answers 400 at once for requests out of range', async () => {
    const pos = packager.rendition('v')!.position()!;
    for (const q of [
      `_HLS_msn=${pos.msn + 10}`,
      `_HLS_msn=${pos.msn}&_HLS_part=${pos.part + 50}`,
      `_HLS_part=1`,
      `_HLS_msn=abc`,
      `_HLS_msn=-1`,
      `_HLS_msn=1.5`,
    ]) {
      const t0 = performance.now();
      const res = await fetch(`${base}/hls/room1/v/index.m3u8?${q}`);
      assert.equal(res.status, 400, q);
      assert.ok(performance.now() - t0 < 200, `${q} answered at once`);
      const body = (await res.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'bad_request');
    }
    const farPart = await fetch(`${base}/hls/room1/v/part-o-${packager.rendition('v')!.nextPartId + 1000}.m4s`);
    assert.equal(farPart.status, 400);
  });

  it('answers 400 at once for an _HLS_part beyond the Advance Part Limit of a coming segment', async () => {
    const r = packager.rendition('v')!;
    const limit = advancePartLimit(r.partTargetSec!);
    const pos = r.position()!;
    await expectBadRequest(`${base}/hls/room1/v/index.m3u8?_HLS_msn=${pos.msn + 1}&_HLS_part=${limit + 1}`, /beyond the live edge/);
    await expectBadRequest(`${base}/hls/room1/v/index.m3u8?_HLS_msn=${pos.msn + 2}&_HLS_part=${limit + 1}`, /beyond the live edge/);
  });

  it('never serves anything outside the room, whatever the path', async () => {
    const paths = [
      '/hls/../secret.txt',
      '/hls/%2e%2e/secret.txt',
      '/hls/%2e%2e/index.m3u8',
      '/hls/room1/%2e%2e/%2e%2e/secret.txt',
      '/hls/room1/v/..%2f..%2f..%2fsecret.txt',
      '/hls/room1/v/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/hls/room1/v/..%5c..%5csecret.txt',
      '/hls/room1/v/..\\..\\secret.txt',
      '/hls/room1/..%2f..%2fsecret.txt/index.m3u8',
      '/hls/%2fetc%2fpasswd/index.m3u8',
      '/hls/room1/v/%2fetc%2fpasswd',
      '/hls/room1/v/secret.txt',
      '/hls/room1/v/index.json',
      '/hls/room1/v/seg-o-1.m4s%00.txt',
      '/hls/room1/v/seg-o-1.mp4',
      '/hls/room1/nosuch/index.m3u8',
      '/hls/nosuchroom/index.m3u8',
      '//etc/passwd',
    ];
    for (const path of paths) {
      const { status, body } = await rawGet(port, path);
      assert.ok(status === 400 || status === 404, `${path} → ${status}`);
      assert.ok(!body.includes('TOP-SECRET'), path);
      assert.ok(!body.includes('root:'), path);
      // Node's HTTP layer itself refuses some (backslashes) with an empty 400; the rest reach
      // the origin and get its JSON error.
      if (body.replace(/[\r\n0]/g, '').length > 0) assert.match(body, /"error":\{"code":"(bad_request|not_found)"/, path);
    }
  });

  it('answers 503 when a blocked request waits more than three target durations', async () => {
    await source.kill(); // no more parts will come
    const r = packager.rendition('v')!;
    await sleep(100);
    const pos = r.position()!;
    const t0 = performance.now();
    const res = await fetch(`${base}/hls/room1/v/index.m3u8?_HLS_msn=${pos.msn + 1}&_HLS_part=0`);
    const waited = performance.now() - t0;
    assert.equal(res.status, 503);
    assert.ok(waited >= 3 * r.targetDurationSec * 1000 - 50 && waited < 3 * r.targetDurationSec * 1000 + 1000, `waited ${waited} ms`);
    await res.body?.cancel();
  });

  it('wakes blocked requests when the broadcast ends, and falls back to storage once closed', async () => {
    const r = packager.rendition('v')!;
    const pos = r.position()!;
    const pending = fetch(`${base}/hls/room1/v/index.m3u8?_HLS_msn=${pos.msn + 1}&_HLS_part=0`);
    await sleep(100);
    await packager.end();
    const res = await pending;
    assert.equal(res.status, 200);
    assert.match(await res.text(), /#EXT-X-ENDLIST/);
    await packager.close();
    const stored = await fetch(`${base}/hls/room1/v/index.m3u8`);
    assert.equal(stored.status, 200);
    const pl = parseMedia(await stored.text());
    assert.equal(pl.endlist, true);
    const seg = await fetch(`${base}/hls/room1/v/${pl.segments[0]!.uri}`);
    assert.equal(seg.status, 200);
    assert.equal(seg.headers.get('content-type'), 'video/mp4');
    const part = await fetch(`${base}/hls/room1/v/part-o-1.m4s`);
    assert.equal(part.status, 404);
    await part.body?.cancel();
  });
});

/**
 * Read with a regular expression: hls-parser (strict) refuses these playlists, whose input is
 * over but not ended (parts on the last three segments, plus a PRELOAD-HINT that it counts as
 * a fourth segment).
 */
const mediaSequenceOf = (text: string): number => Number(/^#EXT-X-MEDIA-SEQUENCE:(\d+)$/m.exec(text)?.[1]);

describe('HLS origin: blocking requests below the playlist window', () => {
  let origin: LiveOrigin;
  let packager: HlsPackager;
  let base: string;

  before(async () => {
    origin = await startLiveOrigin({ roomId: 'room2', windowSegments: 3, epoch: 'b' });
    packager = origin.packager;
    base = `http://127.0.0.1:${origin.port}/hls/room2/v/index.m3u8`;
    // Not paced: 8 s of media arrive as fast as ffmpeg encodes them, and the window slides.
    const source = origin.feed({ width: 320, height: 180, durationSec: 8, realtime: false });
    await source.exited;
    const r = packager.rendition('v')!;
    const deadline = performance.now() + 5000;
    while (r.mediaSequence() < 4 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  });

  after(() => origin.close());

  it('answers 400 with a stable code for an _HLS_msn older than the oldest listed segment', async () => {
    const first = packager.rendition('v')!.mediaSequence();
    assert.ok(first >= 4, `the window slid (MEDIA-SEQUENCE ${first})`);
    assert.equal(mediaSequenceOf(await (await fetch(base)).text()), first);
    for (const q of [`_HLS_msn=${first - 1}`, `_HLS_msn=${first - 1}&_HLS_part=0`, '_HLS_msn=0', '_HLS_msn=0&_HLS_part=99']) {
      await expectBadRequest(`${base}?${q}`, /older than the playlist window/);
    }
  });

  it('still answers the oldest listed segment at once', async () => {
    const first = packager.rendition('v')!.mediaSequence();
    for (const q of [`_HLS_msn=${first}`, `_HLS_msn=${first}&_HLS_part=0`]) {
      const t0 = performance.now();
      const res = await fetch(`${base}?${q}`);
      assert.equal(res.status, 200, q);
      assert.ok(performance.now() - t0 < 200, `${q} answered at once`);
      assert.equal(mediaSequenceOf(await res.text()), first);
    }
  });

  it('answers 400 below the window after the broadcast ended too', async () => {
    await packager.end();
    const first = packager.rendition('v')!.mediaSequence();
    await expectBadRequest(`${base}?_HLS_msn=${first - 1}`, /older than the playlist window/);
    const res = await fetch(`${base}?_HLS_msn=${first}`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /#EXT-X-ENDLIST/);
  });
});
