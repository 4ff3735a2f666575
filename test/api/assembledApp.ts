import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import { createApp } from '../../services/api/app.ts';
import { createOpenApiDocument, type RequestSchemas } from '../../services/api/openapi/index.ts';
import type { ApiDeps, AppEnv } from '../../services/api/types.ts';
import { TokenService } from '../../services/auth/tokens.ts';
import { PlaybackTokenService } from '../../services/auth/playbackTokens.ts';
import { PrivateBroadcasts } from '../../services/stage/PrivateBroadcasts.ts';
import { BroadcastManager } from '../../services/broadcast/BroadcastManager.ts';
import { EmbeddedEngine } from '../../services/engine/embedded/EmbeddedEngine.ts';
import { createMetrics } from '../../services/metrics/index.ts';
import { createOriginApp } from '../../services/origin/index.ts';
import { RoomRegistry } from '../../services/stage/RoomRegistry.ts';
import { DiskStorage } from '../../services/storage/index.ts';
import { WebhookDispatcher } from '../../services/webhooks/WebhookDispatcher.ts';

export interface AssembledApp {
  /** createApp over every dependency, with the HLS origin mounted after it. */
  app: Hono<AppEnv>;
  /** The API document the app serves at /api/openapi.json. */
  document: Record<string, unknown>;
  /** Another app over the same dependencies, with some of them replaced. */
  assemble(overrides: Partial<ApiDeps>): Hono<AppEnv>;
  /** Closes every dependency and removes the temporary directory. */
  close(): Promise<void>;
}

/**
 * The HTTP app in-process, as services/server/main.ts wires it: an embedded engine (it binds
 * nothing until a leg is created), a room registry, broadcasts on disk storage, the webhook
 * outbox and metrics, all under a fresh temporary directory.
 */
export async function assembledApp(options: { apiKey: string; schemas: RequestSchemas; portRange: [number, number] }): Promise<AssembledApp> {
  const dir = await mkdtemp(join(tmpdir(), 'stagecast-api-'));
  const engine = new EmbeddedEngine({ listenIp: '127.0.0.1', portRange: options.portRange, iceServers: [] });
  const registry = new RoomRegistry(engine, { roleGraceMs: 60_000 });
  const storage = new DiskStorage({ rootDir: join(dir, 'hls') });
  const broadcasts = new BroadcastManager({ engine, storage, stages: registry, autoStart: false, record: false, mirrorPortRange: [50000, 50999] });
  const webhooks = new WebhookDispatcher({ dbPath: join(dir, 'outbox.db'), secret: 'assembled-app-secret-0123' });
  const document = createOpenApiDocument(options.schemas);
  const deps: ApiDeps = {
    apiKey: options.apiKey,
    maxBodyBytes: 131072,
    registry,
    tokens: new TokenService({ secret: 'x'.repeat(32), ttlSeconds: 60 }),
    privacy: new PrivateBroadcasts(),
    playbackTokens: new PlaybackTokenService({ secret: 'x'.repeat(32), ttlSeconds: 60 }),
    engineKind: engine.kind,
    engineStats: () => engine.stats(),
    broadcasts,
    playerRoot: fileURLToPath(new URL('../../player', import.meta.url)),
    webhooks,
    metrics: createMetrics({ processMetrics: false }),
    metricsPublic: false,
    openapi: document,
  };
  const assemble = (overrides: Partial<ApiDeps>) => {
    const all = { ...deps, ...overrides };
    const app = createApp(all);
    const playback = { isPrivate: (room: string) => all.privacy.isPrivate(room), verify: (token: string | undefined, room: string) => all.playbackTokens.verify(token, room) };
    app.route('/', createOriginApp({ getPackager: (roomId) => broadcasts.packager(roomId), storage, playback }));
    return app;
  };
  return {
    app: assemble({}),
    document,
    assemble,
    async close() {
      webhooks.close();
      await broadcasts.close();
      await registry.close();
      await engine.close();
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
