import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { getRequestListener } from '@hono/node-server';
import { createApp } from '../api/app.ts';
import { BroadcastManager } from '../broadcast/BroadcastManager.ts';
import { createLiveLane, createOriginApp } from '../origin/index.ts';
import { RecordingStore } from '../packager/recordingStore.ts';
import { createStorage, type StorageOptions } from '../storage/index.ts';
import { TokenService } from '../auth/tokens.ts';
import { PlaybackTokenService } from '../auth/playbackTokens.ts';
import { PrivateBroadcasts } from '../stage/PrivateBroadcasts.ts';
import { ConfigError, loadConfig, type Config } from '../core/config.ts';
import { logger } from '../core/logger.ts';
import { createEngine } from '../engine/index.ts';
import type { MediaEngine } from '../engine/EngineTypes.ts';
import { SignalingServer } from '../signaling/SignalingServer.ts';
import { RoomRegistry } from '../stage/RoomRegistry.ts';
import { createOpenApiDocument } from '../api/openapi/index.ts';
import { createRoomBody, createTokenBody } from '../api/routes/rooms.ts';
import { blockBody, kickBody, muteBody } from '../api/routes/moderation.ts';
import { createMetrics } from '../metrics/index.ts';
import { createTurnService } from '../turn/index.ts';
import { devCertificateHelp, type DevCertificate } from './devCertificate.ts';
import { createHttpServer, loadTls } from './httpServer.ts';
import { followForWebhooks, WebhookDispatcher } from '../webhooks/index.ts';
import { httpServerOptions } from './httpLimits.ts';
import { createCluster } from '../cluster/index.ts';

/** The wiring: the only module that knows every layer. */

const PLAYER_ROOT = fileURLToPath(new URL('../../player', import.meta.url));
/** The listen socket's accept queue (see listen() below). */
const LISTEN_BACKLOG = 4096;

export interface RunningServer {
  /** The real bound URL, e.g. http://127.0.0.1:41234 (https://… with TLS). */
  url: string;
  /** PUBLIC_URL, or the bound URL when PUBLIC_URL was derived from PORT=0. */
  publicUrl: string;
  registry: RoomRegistry;
  tokens: TokenService;
  engine: MediaEngine;
  broadcasts: BroadcastManager;
  webhooks: WebhookDispatcher;
  /** DEV_TLS's self-signed certificate, when the server uses one. */
  devCertificate?: DevCertificate;
  /** Closes signaling, rooms, engine and HTTP server, in that order. Idempotent. */
  close(): Promise<void>;
}

export async function startServer(cfg: Config): Promise<RunningServer> {
  logger.level = cfg.LOG_LEVEL;
  const tls = await loadTls(cfg);
  const turn = createTurnService(cfg);
  const engine = await createEngine(cfg);
  const registry = new RoomRegistry(engine, {
    roleGraceMs: cfg.STAGE_ROLE_GRACE_MS,
    maxSdpMediaSections: cfg.SDP_MAX_MEDIA_SECTIONS,
    maxSessionsPerIdentity: cfg.STAGE_MAX_SESSIONS_PER_IDENTITY,
    chat: { maxLength: cfg.CHAT_MAX_LENGTH, historySize: cfg.CHAT_HISTORY, ratePerMinute: cfg.CHAT_RATE_PER_MINUTE, burst: cfg.CHAT_RATE_BURST },
  });
  const tokens = new TokenService({ secret: cfg.JWT_SECRET, ttlSeconds: cfg.TOKEN_TTL_SECONDS });
  // In a cluster each setting is also kept for the room's next node (the cluster is created below).
  const privacy = new PrivateBroadcasts(cfg.HLS_PRIVATE_DEFAULT, (room, isPrivate) => cluster.roomState?.savePrivate(room, isPrivate));
  const playbackTokens = new PlaybackTokenService({ secret: cfg.JWT_SECRET, ttlSeconds: cfg.PLAYBACK_TOKEN_TTL_SECONDS });
  const metrics = createMetrics();
  const storage = metrics.instrumentStorage(createStorage(storageOptions(cfg)));
  const webhooks = new WebhookDispatcher({
    dbPath: cfg.WEBHOOK_DB_PATH,
    secret: cfg.WEBHOOK_SECRET,
    endpoints: cfg.WEBHOOK_URLS,
    backoff: { initialMs: cfg.WEBHOOK_RETRY_INITIAL_MS, maxMs: cfg.WEBHOOK_RETRY_MAX_MS, maxAgeMs: cfg.WEBHOOK_RETRY_HOURS * 3600_000 },
    requestTimeoutMs: cfg.WEBHOOK_TIMEOUT_MS,
  });
  const broadcasts = new BroadcastManager({
    engine,
    storage,
    stages: registry,
    autoStart: cfg.BROADCAST_AUTO_START,
    record: cfg.RECORD,
    mirrorPortRange: cfg.MIRROR_PORT_RANGE,
    ffmpegPath: cfg.FFMPEG_PATH,
    x264Preset: cfg.BROADCAST_X264_PRESET,
    // The cluster (below) needs the broadcasts for its load; the broadcasts reach its store lazily.
    hlsPositions: {
      load: async (roomId) => cluster.roomState?.loadNumbering(roomId),
      save: (roomId, point) => cluster.roomState?.saveNumbering(roomId, point),
    },
  });
  const cluster = createCluster(cfg, { registry, privacy, liveBroadcasts: () => registry.list().filter((r) => broadcasts.status(r.id)?.state === 'live').length });
  const webhookFollower = followForWebhooks({ registry, broadcasts, sink: webhooks });
  metrics.observe({ registry, engine, broadcasts, webhooks });
  webhooks.start();
  const app = createApp({
    apiKey: cfg.API_KEY,
    maxBodyBytes: cfg.HTTP_MAX_BODY_BYTES,
    ingestRateLimit: { perMinute: cfg.HTTP_INGEST_RATE_PER_MINUTE, burst: cfg.HTTP_INGEST_RATE_BURST },
    tokenRateLimit: { perMinute: cfg.HTTP_TOKEN_RATE_PER_MINUTE, burst: cfg.HTTP_TOKEN_RATE_BURST },
    registry,
    tokens,
    privacy,
    playbackTokens,
    engineKind: engine.kind,
    engineStats: () => engine.stats(),
    broadcasts,
    recordings: new RecordingStore(storage),
    playerRoot: PLAYER_ROOT,
    webhooks,
    metrics,
    metricsPublic: cfg.METRICS_PUBLIC,
    iceServers: (identity) => turn.iceServers(identity),
    openapi: createOpenApiDocument({ createRoomBody, createTokenBody, muteBody, kickBody, blockBody }),
    ...(cluster.middleware ? { cluster: cluster.middleware } : {}),
  });
  app.route('/', createOriginApp({
    getPackager: (roomId) => broadcasts.packager(roomId),
    storage,
    playback: { isPrivate: (room) => privacy.isPrivate(room), verify: (token, room) => playbackTokens.verify(token, room) },
  }));
  // Live parts and playlists in memory go out before hono (origin/liveLane.ts); a draining node
  // forwards its rooms' requests to their next node, so it leaves them all to the app.
  const lane = createLiveLane({
    getPackager: (roomId) => (cluster.placement.self.draining ? undefined : broadcasts.packager(roomId)),
    isPrivate: (room) => privacy.isPrivate(room),
  });
  const honoListener = getRequestListener(app.fetch);
  const server = createHttpServer(tls, (req, res) => void (lane(req, res) || honoListener(req, res)), httpServerOptions(cfg));
  const signaling = new SignalingServer({
    registry,
    tokens,
    maxMessageBytes: cfg.WS_MAX_MESSAGE_BYTES,
    ratePerSecond: cfg.WS_RATE_LIMIT_PER_SECOND,
    heartbeatMs: cfg.WS_HEARTBEAT_MS,
    broadcasts,
    iceServers: (identity) => turn.iceServers(identity),
    ...(cluster.elsewhere ? { roomElsewhere: cluster.elsewhere } : {}),
  });
  signaling.attach(server);

  /**
   * Signaling, then broadcasts (their playlists get ENDLIST while the engine still runs), rooms,
   * engine, storage; webhooks stop following. In a cluster the node drains first: no new rooms,
   * its rooms placed again on a live node by the next request for them (which this node now
   * forwards), its clients closed with 1001 so they join again through their entry URL; it
   * leaves the cluster last.
   */
  const closeStageAndMedia = async () => {
    if (cluster.placement.clustered) await cluster.drain();
    else await cluster.close();
    await signaling.close();
    // In a cluster the broadcast goes on elsewhere under the same URL: answers still in flight
    // here (a blocking playlist reload waits up to 3 target durations) must not carry the
    // ENDLIST below. They are cut; an edge retries them on another node.
    if (cluster.placement.clustered) server.closeAllConnections();
    await broadcasts.close();
    await registry.close('engine_closed');
    await engine.close();
    await storage.close();
    webhookFollower.close();
    await cluster.close();
  };

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // An audience joins in bursts (a link shared, a failover): every LL-HLS viewer holds a
      // connection, and node's default accept queue of 511 overflowed at a few thousand
      // connections a second in bench/origin-load. The kernel caps it at net.core.somaxconn.
      server.listen({ port: cfg.PORT, host: cfg.HOST, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await closeStageAndMedia();
    metrics.close();
    webhooks.close();
    throw err;
  }
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `${tls ? 'https' : 'http'}://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`;
  const publicUrl = new URL(cfg.PUBLIC_URL).port === '0' ? url : cfg.PUBLIC_URL;
  try {
    await cluster.start(publicUrl);
  } catch (err) {
    server.close();
    await closeStageAndMedia();
    metrics.close();
    webhooks.close();
    throw err;
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      // No new connections; requests on open ones still get answers until the end.
      const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await closeStageAndMedia();
      // Every room.ended / broadcast.stopped is in the outbox now: deliver what is due, keep the rest for the next start.
      const left = await webhooks.flush(cfg.WEBHOOK_FLUSH_MS);
      if (left > 0) logger.info({ pending: left }, 'webhooks left in the outbox for the next start');
      webhooks.close();
      metrics.close();
      server.closeAllConnections();
      await httpClosed;
    })());

  return { url, publicUrl, registry, tokens, engine, broadcasts, webhooks, ...(tls?.devCertificate ? { devCertificate: tls.devCertificate } : {}), close };
}

function storageOptions(cfg: Config): StorageOptions {
  if (cfg.STORAGE === 'disk') return { kind: 'disk', rootDir: cfg.STORAGE_DIR };
  return {
    kind: 's3',
    bucket: cfg.S3_BUCKET!,
    region: cfg.S3_REGION,
    prefix: cfg.S3_PREFIX,
    forcePathStyle: cfg.S3_FORCE_PATH_STYLE,
    ...(cfg.S3_ENDPOINT ? { endpoint: cfg.S3_ENDPOINT } : {}),
    ...(cfg.S3_ACCESS_KEY_ID && cfg.S3_SECRET_ACCESS_KEY
      ? { credentials: { accessKeyId: cfg.S3_ACCESS_KEY_ID, secretAccessKey: cfg.S3_SECRET_ACCESS_KEY } }
      : {}),
  };
}

/** Dev mode: a `demo` room and ready-to-open links, printed as plain lines after the `listening` log. */
async function printDevLinks(running: RunningServer, cfg: Config): Promise<void> {
  const room = running.registry.get('demo') ?? (await running.registry.create('demo'));
  const link = async (page: string, identity: string, role: 'presenter' | 'moderator' | 'viewer') => {
    const { token } = await running.tokens.issue(room.id, identity, role);
    return `${running.publicUrl}/${page}?room=${room.id}&token=${token}`;
  };
  const lines = [
    '',
    `stagecast dev mode: room "${room.id}" is ready (links valid for ${cfg.TOKEN_TTL_SECONDS} s)`,
    `  studio, presenter 1:  ${await link('studio', 'presenter-1', 'presenter')}`,
    `  studio, presenter 2:  ${await link('studio', 'presenter-2', 'presenter')}`,
    `  watch, viewer (HLS):  ${await link('watch', 'viewer-1', 'viewer')}`,
    `  watch, stage member:  ${await link('watch', 'moderator-1', 'moderator')}`,
    `  console, moderator:   ${await link('console', 'moderator-2', 'moderator')}`,
    `  API key:              ${cfg.API_KEY}`,
    `  e.g. curl ${running.devCertificate ? `--cacert ${running.devCertificate.certFile} ` : ''}-H "Authorization: Bearer ${cfg.API_KEY}" ${running.publicUrl}/api/rooms`,
    ...(running.devCertificate ? devCertificateHelp(running.devCertificate) : []),
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

async function main(): Promise<void> {
  let cfg: Config;
  try {
    cfg = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason instanceof Error ? { message: reason.message, stack: reason.stack } : String(reason) }, 'unhandled rejection');
  });

  const running = await startServer(cfg);
  // The one line tooling waits for; printed whatever LOG_LEVEL is.
  logger.child({}, { level: 'info' }).info({ url: running.url, publicUrl: running.publicUrl, engine: running.engine.kind }, 'listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown timed out');
      process.exit(1);
    }, cfg.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    running.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // After the handlers: a SIGTERM right after `listening` must shut down, not kill mid-print
  // (and a demo room refused by a registry already closing is no failure then).
  if (cfg.DEV) {
    await printDevLinks(running, cfg).catch((err: unknown) => {
      if (!stopping) throw err;
    });
  }
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    logger.fatal({ err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'failed to start');
    process.exit(1);
  });
}
