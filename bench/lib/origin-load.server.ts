// Child process of bench/origin-load.ts: the origin under test, as the service runs it (the
// requestId and bodyLimit middleware in front of the origin's routes, logs at the default
// level to stdout), over a live packager fed by a real ffmpeg. On request it also writes the
// same playlist and parts, as they land, to a folder that nginx serves.
//
// BENCH_ORIGIN_ROOT: a checkout whose services/ to load (default: this one), to measure an
// older origin with the same bench. BENCH_BODY_LIMIT=0 leaves the body-limit middleware out,
// to see what it costs a GET (hono's bodyLimit reads `c.req.raw.body`, which makes
// @hono/node-server build a whole Request). BENCH_COUNT_REQUESTS=1 counts the requests that
// reach the origin (for bench/hls-fanout, where edges stand in front).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:http';
import { getRequestListener, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type * as BodyLimitModule from '../../services/api/middleware/bodyLimit/index.ts';
import type * as RequestIdModule from '../../services/api/middleware/requestId/index.ts';
import type * as OriginModule from '../../services/origin/index.ts';
import type * as PackagerModule from '../../services/packager/index.ts';
import type * as DiskStorageModule from '../../services/storage/DiskStorage.ts';
import { startFfmpegSource } from '../../test/support/ffmpegSource.ts';
import type { Publication, RequestCounts, ServerReply, ServerRequest } from './origin-load.protocol.ts';

const ROOT = process.env.BENCH_ORIGIN_ROOT ?? fileURLToPath(new URL('../../', import.meta.url));
const load = <T>(path: string): Promise<T> => import(join(ROOT, path)) as Promise<T>;
const { HlsPackager } = await load<typeof PackagerModule>('services/packager/index.ts');
const OriginExports = await load<typeof OriginModule>('services/origin/index.ts');
const { createOriginApp } = OriginExports;
const { requestId } = await load<typeof RequestIdModule>('services/api/middleware/requestId/index.ts');
const { bodyLimit } = await load<typeof BodyLimitModule>('services/api/middleware/bodyLimit/index.ts');
const { DiskStorage } = await load<typeof DiskStorageModule>('services/storage/DiskStorage.ts');

const ROOM = 'bench';
const RENDITION = 'v';
const dir = process.env.BENCH_DIR!;
const staticDir = join(dir, 'static', 'hls', ROOM, RENDITION);
mkdirSync(staticDir, { recursive: true });

const wallNow = () => performance.timeOrigin + performance.now();
const storage = new DiskStorage({ rootDir: join(dir, 'storage') });
const packager = new HlsPackager({ roomId: ROOM, storage, epoch: Date.now().toString(36) });
const app = new Hono();
let counts: RequestCounts = { blocking: {}, media: {}, other: 0 };
/**
 * Counts a request that reached this origin, at Node's listener: the live lane answers most
 * parts before the app sees them.
 */
const countRequest =
  process.env.BENCH_COUNT_REQUESTS === '1'
    ? (url: string) => {
        const { pathname: path, searchParams } = new URL(url, 'http://origin');
        const msn = searchParams.get('_HLS_msn');
        const key = msn !== null ? `${msn}.${searchParams.get('_HLS_part') ?? ''}` : undefined;
        if (key !== undefined) counts.blocking[key] = (counts.blocking[key] ?? 0) + 1;
        else if (!path.endsWith('.m3u8')) {
          const name = path.slice(path.lastIndexOf('/') + 1);
          counts.media[name] = (counts.media[name] ?? 0) + 1;
        } else counts.other++;
      }
    : undefined;
app.use('*', requestId());
if (process.env.BENCH_BODY_LIMIT !== '0') app.use('*', bodyLimit(131072));
app.route('/', createOriginApp({ getPackager: (room) => (room === ROOM ? packager : undefined), storage }));

const published: Publication[] = [];
const writtenStatic: Publication[] = [];
let writeStatic = false;
let initWritten = -1;

packager.on('part', (name, part) => {
  if (name !== RENDITION) return;
  published.push({ msn: part.msn, index: part.index, at: wallNow() });
  if (!writeStatic) return;
  const r = packager.rendition(RENDITION)!;
  const names = packager.objectNames;
  const generation = r.init ? 0 : -1;
  if (generation >= 0 && initWritten < 0) {
    const init = r.getInit(0);
    if (init) {
      writeFileSync(join(staticDir, names.init(0)), init);
      initWritten = 0;
    }
  }
  writeFileSync(join(staticDir, names.part(part.id)), part.data);
  const text = r.playlist();
  if (text === undefined) return;
  writeFileSync(join(staticDir, 'index.m3u8.tmp'), text);
  renameSync(join(staticDir, 'index.m3u8.tmp'), join(staticDir, 'index.m3u8'));
  writtenStatic.push({ msn: part.msn, index: part.index, at: wallNow() });
});

const source = startFfmpegSource({
  width: Number(process.env.BENCH_SOURCE_WIDTH ?? 320),
  height: Number(process.env.BENCH_SOURCE_HEIGHT ?? 180),
});
packager.addRendition(RENDITION, { bandwidth: 700_000 }, source.stdout);

// The listen backlog nginx gets in this bench (listen ... backlog=4096), as the service listens:
// viewers connect at up to ~2700/s during the ramp, and a full accept queue drops connections
// that then time out. BENCH_ORIGIN_BACKLOG=511 gives node's default.
const BACKLOG = Number(process.env.BENCH_ORIGIN_BACKLOG ?? 4096);
// As the service wires it: the origin's live lane first, then the app (absent from an older checkout).
const lane = 'createLiveLane' in OriginExports ? OriginExports.createLiveLane({ getPackager: (room) => (room === ROOM ? packager : undefined) }) : () => false;
const honoListener = getRequestListener(app.fetch);
const server: ServerType = createServer((req, res) => {
  countRequest?.(req.url ?? '/');
  void (lane(req, res) || honoListener(req, res));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', BACKLOG, () => resolve()));
const address = server.address();
const port = typeof address === 'object' && address ? address.port : 0;
await new Promise<void>((resolve) => packager.once('ready', () => resolve()));

const reply = (msg: ServerReply) => process.send!(msg);
process.on('message', (req: ServerRequest) => {
  switch (req.op) {
    case 'cpu': {
      const usage = process.cpuUsage();
      reply({ op: 'cpu', micros: usage.user + usage.system });
      break;
    }
    case 'static':
      writeStatic = req.on;
      reply({ op: 'static' });
      break;
    case 'publications':
      reply({ op: 'publications', origin: published.splice(0), static: writtenStatic.splice(0) });
      break;
    case 'requests':
      reply({ op: 'requests', counts });
      counts = { blocking: {}, media: {}, other: 0 };
      break;
    case 'shutdown':
      void (async () => {
        await packager.close();
        await source.kill();
        server.close();
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        await storage.close();
        process.exit(0);
      })();
      break;
  }
});
reply({ op: 'ready', port, partTargetSec: packager.rendition(RENDITION)!.partTargetSec ?? 0.2, playlistPath: `/hls/${ROOM}/${RENDITION}/index.m3u8` });
