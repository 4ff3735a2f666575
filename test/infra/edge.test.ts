/**
 * infra/nginx/edge.conf and edge-lua.conf: Debian's nginx accepts each, and, run in front of two
 * upstream entries, each collapses identical blocking playlist requests into one origin
 * request, serves a part from its cache the second time, stores a 404 for its second and never
 * a 400, and passes the API, the signaling WebSocket and WHIP through uncached. Skips with the
 * reason without nginx (or, for edge-lua.conf, without its Lua module).
 *
 * Behind the edge: a live origin (a real packager fed by a real ffmpeg, the origin app as the
 * service builds it) for /hls, and the whole server for everything else, both in this process. Two "front" servers join them, one per upstream entry, and log every
 * request that reaches the origin side: that log is what the assertions count.
 *
 * Run: node scripts/test.mjs test/infra/edge.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getRequestListener } from '@hono/node-server';
import { createOriginApp } from '../../services/origin/index.ts';
import { HlsPackager } from '../../services/packager/index.ts';
import { DiskStorage } from '../../services/storage/DiskStorage.ts';
import { startFfmpegSource, type FfmpegSource } from '../support/ffmpegSource.ts';
import { luaMissing, nginxMissing, startEdge, testEdgeConfig, type EdgeVariant, type RunningNginx } from '../support/nginxEdge.ts';
import { startServer, type RunningServer } from '../../services/server/main.ts';
import { inProcessConfig } from '../support/inProcessServer.ts';
import { serviceClient } from '../support/service.ts';
import { waitFor } from '../support/wait.ts';
import { connectClient } from '../support/wsClient.ts';

const ROOM = 'live';
const API_KEY = 'k'.repeat(20);

/** /hls to the in-process origin, the rest (upgrades included) to the service; every request logged. */
function frontServer(origin: ReturnType<typeof getRequestListener>, servicePort: number, log: string[]): Server {
  const server = createServer((req, res) => {
    log.push(`${req.method} ${req.url}`);
    if (req.url!.startsWith('/hls/')) return void origin(req, res);
    const up = request({ host: '127.0.0.1', port: servicePort, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
    log.push(`UPGRADE ${req.url}`);
    const up = connect(servicePort, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      up.write(head);
      socket.pipe(up).pipe(socket);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  return server;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** The newest part a media playlist lists: its (msn, index) and URI. */
function newestPart(text: string): { msn: number; index: number; uri: string } {
  let msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)![1]);
  let index = -1;
  let newest: { msn: number; index: number; uri: string } | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-PART:')) newest = { msn, index: ++index, uri: /URI="([^"]+)"/.exec(line)![1]! };
    else if (line.length > 0 && !line.startsWith('#')) {
      msn++;
      index = -1;
    }
  }
  assert.ok(newest, `a playlist with parts:\n${text}`);
  return newest;
}

describe('nginx caching edge', { skip: nginxMissing() }, () => {
  let dir: string;
  let svc: RunningServer;
  let storage: DiskStorage;
  let packager: HlsPackager;
  let source: FfmpegSource;
  const fronts: Server[] = [];
  const originLog: string[] = [];
  let upstreams: string[];

  const originHits = (pathAndQuery: string) => originLog.filter((l) => l.endsWith(` ${pathAndQuery}`)).length;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stagecast-edge-'));
    svc = await startServer(inProcessConfig({ API_KEY, ENGINE: 'embedded', STORAGE_DIR: join(dir, 'service-hls'), WEBHOOK_DB_PATH: join(dir, 'webhooks.db') }));
    storage = new DiskStorage({ rootDir: join(dir, 'hls') });
    packager = new HlsPackager({ roomId: ROOM, storage });
    const origin = getRequestListener(createOriginApp({ getPackager: (room) => (room === ROOM ? packager : undefined), storage }).fetch);
    source = startFfmpegSource({ width: 320, height: 180 });
    packager.addRendition('v', { bandwidth: 300_000 }, source.stdout);
    const servicePort = Number(new URL(svc.url).port);
    upstreams = [];
    for (let i = 0; i < 2; i++) {
      const front = frontServer(origin, servicePort, originLog);
      fronts.push(front);
      upstreams.push(`127.0.0.1:${await listen(front)}`);
    }
  });

  after(async () => {
    for (const front of fronts) {
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    }
    await packager?.close();
    await source?.kill();
    await storage?.close();
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const variant of ['lock', 'lua'] as EdgeVariant[]) {
    const conf = variant === 'lock' ? 'edge.conf' : 'edge-lua.conf';
    describe(`infra/nginx/${conf}`, { skip: variant === 'lua' ? luaMissing() : false }, () => {
      let edge: RunningNginx | undefined;
      let base: string;
      after(() => edge?.close());

      it('parses with nginx -t', () => {
        const res = testEdgeConfig({ variant, upstreams, dir: join(dir, `check-${variant}`) });
        assert.equal(res.status, 0, res.output);
        assert.match(res.output, /test is successful/);
      });

      it('starts in front of two upstream entries', async () => {
        edge = await startEdge({ variant, upstreams, dir: join(dir, `edge-${variant}`), accessLog: true });
        base = `http://127.0.0.1:${edge.port}`;
        await waitFor('the live playlist through the edge', 20_000, () => fetch(`${base}/hls/${ROOM}/v/index.m3u8`).then((r) => r.status), { until: (s) => s === 200 });
      });

      it('collapses 40 identical blocking playlist requests into one origin request', async () => {
        const plain = await fetch(`${base}/hls/${ROOM}/v/index.m3u8`);
        assert.equal(plain.headers.get('cache-control'), 'no-cache', 'a plain reload is the origin’s no-cache answer');
        const newest = newestPart(await plain.text());
        // Two parts ahead: the requests block at the origin (within the advance limit) while all arrive.
        const query = `_HLS_msn=${newest.msn}&_HLS_part=${newest.index + 2}`;
        const path = `/hls/${ROOM}/v/index.m3u8?${query}`;
        const responses = await Promise.all(Array.from({ length: 40 }, () => fetch(`${base}${path}`).then(async (r) => ({ status: r.status, cache: r.headers.get('x-cache-status'), collapsed: r.headers.get('x-collapsed'), body: await r.text() }))));
        assert.deepEqual(new Set(responses.map((r) => r.status)), new Set([200]));
        assert.equal(new Set(responses.map((r) => r.body)).size, 1, 'every viewer got the same playlist');
        assert.equal(originHits(path), 1, `one origin request for ${query}; origin log:\n${originLog.filter((l) => l.includes('_HLS')).join('\n')}`);
        if (variant === 'lock') assert.equal(responses.filter((r) => r.cache === 'MISS').length, 1, `one MISS: ${responses.map((r) => r.cache).join(',')}`);
        else assert.equal(responses.filter((r) => r.collapsed === 'leader').length, 1, `one leader: ${responses.map((r) => r.collapsed).join(',')}`);
        const after = newestPart(responses[0]!.body);
        assert.ok(after.msn > newest.msn || after.index >= newest.index + 2, 'the answer holds the part asked for');
      });

      it('serves a part from its cache the second time', async () => {
        const newest = newestPart(await (await fetch(`${base}/hls/${ROOM}/v/index.m3u8`)).text());
        const path = `/hls/${ROOM}/v/${newest.uri}`;
        const first = await fetch(`${base}${path}`);
        const body = Buffer.from(await first.arrayBuffer());
        assert.equal(first.status, 200);
        assert.match(first.headers.get('cache-control') ?? '', /immutable/);
        const second = await fetch(`${base}${path}`);
        assert.equal(second.status, 200);
        assert.equal(second.headers.get('x-cache-status'), 'HIT');
        assert.deepEqual(Buffer.from(await second.arrayBuffer()), body);
        assert.equal(originHits(path), 1, 'the origin saw the part once');
      });

      if (variant === 'lua') it('holds a fetched part in the worker’s memory, and never a no-cache playlist', async () => {
        const plainPath = `/hls/${ROOM}/v/index.m3u8`;
        const newest = newestPart(await (await fetch(`${base}${plainPath}`)).text());
        const path = `/hls/${ROOM}/v/${newest.uri}`;
        const first = await fetch(`${base}${path}`);
        const body = Buffer.from(await first.arrayBuffer());
        assert.equal(first.status, 200);
        // The disk cache loses it: only the worker's memory still has the part.
        const cacheDir = join(edge!.dir, 'cache');
        for (const entry of readdirSync(cacheDir)) rmSync(join(cacheDir, entry), { recursive: true, force: true });
        const second = await fetch(`${base}${path}`);
        assert.equal(second.status, 200);
        assert.equal(second.headers.get('x-cache-status'), 'HIT');
        assert.deepEqual(Buffer.from(await second.arrayBuffer()), body);
        assert.equal(originHits(path), 1, 'the origin saw the part once, though the disk cache lost it');

        const before = originHits(plainPath);
        for (let i = 0; i < 2; i++) assert.equal((await fetch(`${base}${plainPath}`)).status, 200);
        assert.equal(originHits(plainPath) - before, 2, 'each plain reload (no-cache) reached the origin');
      });

      it('stores a 404 for its second (max-age=1) and never a 400 (no-store)', async () => {
        const missing = `/hls/nosuch-${variant}/v/index.m3u8`;
        const a = await fetch(`${base}${missing}`);
        const b = await fetch(`${base}${missing}`);
        assert.deepEqual([a.status, b.status], [404, 404]);
        assert.equal(((await b.json()) as { error: { code: string } }).error.code, 'not_found', 'the origin’s error body');
        assert.equal(b.headers.get('x-cache-status'), 'HIT');
        assert.equal(originHits(missing), 1);

        const tooFar = `/hls/${ROOM}/v/index.m3u8?_HLS_msn=999999&_HLS_part=${variant.length}`;
        const c = await fetch(`${base}${tooFar}`);
        const d = await fetch(`${base}${tooFar}`);
        assert.deepEqual([c.status, d.status], [400, 400]);
        assert.equal(((await d.json()) as { error: { code: string } }).error.code, 'bad_request');
        assert.equal(d.headers.get('cache-control'), 'no-store');
        assert.equal(originHits(tooFar), 2, 'each 400 came from the origin');
      });

      it('passes a CORS preflight through to the origin', async () => {
        const path = `/hls/${ROOM}/v/index.m3u8?_HLS_msn=0&preflight=${variant}`;
        const res = await fetch(`${base}${path}`, { method: 'OPTIONS', headers: { origin: 'https://player.example', 'access-control-request-method': 'GET' } });
        assert.equal(res.status, 204);
        assert.match(res.headers.get('access-control-allow-methods') ?? '', /GET/);
        assert.equal(originLog.filter((l) => l === `OPTIONS ${path}`).length, 1);
      });

      it('passes the API, the signaling WebSocket and WHIP through, uncached', async () => {
        const client = serviceClient(base, API_KEY);
        const room = await client.createRoom();
        for (let i = 0; i < 2; i++) {
          const res = await client.api(`/api/rooms/${room}`);
          assert.equal(res.status, 200);
          assert.equal(res.headers.get('x-cache-status'), null, 'nothing cached on the API');
        }
        assert.equal(originHits(`/api/rooms/${room}`), 2, 'both API reads reached the service');
        assert.equal((await fetch(`${base}/api/rooms/${room}`)).status, 401, 'and without the key the service refuses');

        const ws = await connectClient(base, await client.token(room, 'via-edge', 'viewer'), { join: true });
        assert.equal(ws.joined.type, 'joined');
        await ws.close();
        assert.ok(originLog.some((l) => l.startsWith('UPGRADE /ws?')), 'the upgrade reached the service');

        const presenter = await client.token(room, 'whip-via-edge', 'presenter');
        for (let i = 0; i < 2; i++) {
          const res = await fetch(`${base}/whip/${room}`, { method: 'POST', headers: { authorization: `Bearer ${presenter}`, 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
          assert.equal(res.status, 400);
          assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_sdp', 'the service’s own answer');
        }
        assert.equal(originHits(`/whip/${room}`), 2, 'both WHIP offers reached the service');
      });
    });
  }
});
