import { Hono } from 'hono';
import { bodyLimit } from './middleware/bodyLimit/index.ts';
import { notFound, onError } from './middleware/errorHandler/index.ts';
import { requestId } from './middleware/requestId/index.ts';
import { healthRoutes } from './routes/health.ts';
import { ingestRoutes } from './routes/ingest.ts';
import { moderationRoutes } from './routes/moderation.ts';
import { pageRoutes } from './routes/pages.ts';
import { roomRoutes } from './routes/rooms.ts';
import { statsRoutes } from './routes/stats.ts';
import { broadcastRoutes } from './routes/broadcast.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { openapiRoutes } from './routes/openapi.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import type { ApiDeps, AppEnv } from './types.ts';

/**
 * The HTTP edge: health, the management API, WHIP/WHEP and the player's pages. Knows the
 * stage through the RoomRegistry only; `server/` gives it a real HTTP server.
 */
export function createApp(deps: ApiDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', requestId());
  app.use('*', bodyLimit(deps.maxBodyBytes));
  app.onError(onError);
  app.notFound(notFound);
  app.route('/', healthRoutes(deps));
  if (deps.metrics) app.route('/', metricsRoutes({ metrics: deps.metrics, apiKey: deps.apiKey, public: deps.metricsPublic ?? false }));
  // Before every other /api sub-app: their API-key middleware ('/api/*') would otherwise cover it.
  if (deps.openapi) app.route('/api', openapiRoutes({ document: deps.openapi }));
  if (deps.webhooks) app.route('/api', webhookRoutes({ apiKey: deps.apiKey, webhooks: deps.webhooks }));
  app.route('/api', statsRoutes(deps));
  app.route('/api', broadcastRoutes(deps));
  app.route('/api', roomRoutes(deps));
  app.route('/api', moderationRoutes(deps));
  app.route('/whip', ingestRoutes('whip', deps));
  app.route('/whep', ingestRoutes('whep', deps));
  app.route('/', pageRoutes(deps));
  return app;
}
