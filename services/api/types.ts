import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../core/logger.ts';
import type { TokenClaims, TokenService } from '../auth/tokens.ts';
import type { PlaybackTokenService } from '../auth/playbackTokens.ts';
import type { PrivateBroadcasts } from '../stage/PrivateBroadcasts.ts';
import type { EngineKind, EngineStats } from '../engine/EngineTypes.ts';
import type { RoomRegistry } from '../stage/RoomRegistry.ts';
import type { BroadcastManager } from '../broadcast/BroadcastManager.ts';
import type { RecordingStore } from '../packager/recordingStore.ts';
import type { ServiceMetrics } from '../metrics/ServiceMetrics.ts';
import type { IceServer } from '../turn/index.ts';
import type { RateLimitOptions } from './middleware/rateLimit/index.ts';
import type { WebhookRoutesDeps } from './routes/webhooks.ts';

/** Per-request values the middleware sets for the handlers. */
export type AppVariables = {
  requestId: string;
  log: Logger;
};

export type AppEnv = { Variables: AppVariables };

/** A request that passed `roomToken`: the verified claims of its Bearer token. */
export type TokenEnv = { Variables: AppVariables & { claims: TokenClaims } };

export interface ApiDeps {
  apiKey: string;
  /** Largest accepted request body, bytes. */
  maxBodyBytes: number;
  /** Per-IP limit on WHIP and WHEP offers, together. Default INGEST_RATE_DEFAULTS (config HTTP_INGEST_RATE_*). */
  ingestRateLimit?: RateLimitOptions;
  /** Per-IP limit on `POST /api/rooms/:id/tokens`. Default TOKEN_RATE_DEFAULTS (config HTTP_TOKEN_RATE_*). */
  tokenRateLimit?: RateLimitOptions;
  registry: RoomRegistry;
  tokens: TokenService;
  /** Which rooms' HLS is private (`private` of POST/PATCH /api/rooms). */
  privacy: PrivateBroadcasts;
  /** Mints playback tokens (`/api/rooms/:id/playback-tokens`, `/playback/:room`). */
  playbackTokens: PlaybackTokenService;
  engineKind: EngineKind;
  engineStats: () => Promise<EngineStats>;
  broadcasts: Pick<BroadcastManager, 'start' | 'stop' | 'status' | 'recordingEnabled' | 'setRecording' | 'activeRecording' | 'insertMetadata'>;
  /** Stored recordings (`/api/rooms/:id/recordings`). Absent: those routes answer 404. */
  recordings?: RecordingStore;
  /** Directory holding `pages/` and `dist/` of the player. */
  playerRoot: string;
  /** Webhook endpoints and deliveries (`/api/webhooks`). Absent: no such routes. */
  webhooks?: WebhookRoutesDeps['webhooks'];
  /** `/metrics`. Absent: no such route. */
  metrics?: ServiceMetrics;
  /** ICE servers (with TURN credentials) for an identity, announced to WHIP/WHEP clients as Link headers. Default none. */
  iceServers?: (identity: string) => IceServer[];
  /** Serve /metrics without the API key. Config: METRICS_PUBLIC. */
  metricsPublic: boolean;
  /** Runs before every route (after the API key check): the cluster's routing of requests to the node that owns their room (services/cluster). Absent: a node alone. */
  cluster?: MiddlewareHandler;
  /** The API document (createOpenApiDocument), served at `/api/openapi.json`. Absent: not served. */
  openapi?: Record<string, unknown>;
}
