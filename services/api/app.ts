import { Hono, type Context } from 'hono';
import { except } from 'hono/combine';
import { apiKeyAuth } from './middleware/apiKey/index.ts';
import { bodyLimit } from './middleware/bodyLimit/index.ts';
import { INGEST_RATE_DEFAULTS, rateLimit, TOKEN_RATE_DEFAULTS } from './middleware/rateLimit/index.ts';
import { notFound, onError } from './middleware/errorHandler/index.ts';
import { requestId } from './middleware/requestId/index.ts';
import { chatRoutes } from './routes/chat.ts';
import { healthRoutes } from './routes/health.ts';
import { ingestRoutes } from './routes/ingest.ts';
import { moderationRoutes } from './routes/moderation.ts';
import { pageRoutes } from './routes/pages.ts';
import { roomRoutes } from './routes/rooms.ts';
import { statsRoutes } from './routes/stats.ts';
import { broadcastRoutes } from './routes/broadcast.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { metadataRoutes } from './routes/metadata.ts';
import { recordingRoutes } from './routes/recordings.ts';
import { openapiRoutes } from './routes/openapi.ts';
import { playbackExchangeRoutes, playbackTokenRoutes } from './routes/playback.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import type { ApiDeps, AppEnv } from './types.ts';

/**
 * The routes under `/api` that answer without the API key. Every other request under `/api`,
 * unknown paths and methods included, needs `Authorization: Bearer <API_KEY>`: one middleware on
 * `/api/*` checks it before any route, so the order sub-apps are mounted in decides nothing.
 * Outside `/api`: `/healthz`, the pages, `/assets` and `/hls` are public, WHIP/WHEP take room
 * tokens (middleware/roomToken), and `/metrics` takes the API key unless METRICS_PUBLIC
 * (routes/metrics.ts). test/unit/api/routeAuth.test.ts walks every route of the API document.
 */
export const PUBLIC_API_ROUTES: readonly { method: 'GET'; path: string }[] = [
  // The API document holds no secrets.
  { method: 'GET', path: '/api/openapi.json' },
];

/** HEAD is answered by the GET handler, so it is public wherever GET is. */
function isPublicApiRoute(c: Context): boolean {
  const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
  return PUBLIC_API_ROUTES.some((route) => route.method === method && route.path === c.req.path);
}

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
  app.use('/api/*', except(isPublicApiRoute, apiKeyAuth(deps.apiKey)));
  // Before every route, the origin's /hls included (mounted after this app's routes).
  if (deps.cluster) app.use('*', deps.cluster);
  app.route('/', healthRoutes(deps));
  if (deps.metrics) app.route('/', metricsRoutes({ metrics: deps.metrics, apiKey: deps.apiKey, public: deps.metricsPublic }));
  if (deps.openapi) app.route('/api', openapiRoutes({ document: deps.openapi }));
  if (deps.webhooks) app.route('/api', webhookRoutes({ webhooks: deps.webhooks }));
  app.route('/api', statsRoutes(deps));
  app.route('/api', broadcastRoutes(deps));
  app.route('/api', recordingRoutes(deps));
  app.route('/api', metadataRoutes(deps));
  const tokenLimit = rateLimit(deps.tokenRateLimit ?? TOKEN_RATE_DEFAULTS);
  app.route('/api', roomRoutes(deps, tokenLimit));
  app.route('/api', playbackTokenRoutes(deps, tokenLimit));
  // Viewers exchanging their token spend a budget of their own, not the API's.
  app.route('/playback', playbackExchangeRoutes(deps, rateLimit(deps.tokenRateLimit ?? TOKEN_RATE_DEFAULTS)));
  app.route('/api', moderationRoutes(deps));
  app.route('/api', chatRoutes(deps));
  // WHIP and WHEP offers share one budget per IP: each starts an engine leg.
  const ingestLimit = rateLimit(deps.ingestRateLimit ?? INGEST_RATE_DEFAULTS);
  app.route('/whip', ingestRoutes('whip', deps, ingestLimit));
  app.route('/whep', ingestRoutes('whep', deps, ingestLimit));
  app.route('/', pageRoutes(deps));
  return app;
}
