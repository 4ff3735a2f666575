/**
 * Webhooks: signed JSON events POSTed to business systems, held in a durable outbox (SQLite)
 * and delivered at least once, in order within a room.
 */

/** Every event type a webhook endpoint can receive. */
export const WEBHOOK_EVENT_TYPES = [
  'room.started',
  'room.ended',
  'participant.joined',
  'participant.left',
  'participant.role_changed',
  'participant.hand_raised',
  'track.published',
  'track.unpublished',
  'broadcast.started',
  'broadcast.stopped',
  'broadcast.hls_ready',
  'chat.message',
  'recording.ready',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The JSON body of every delivery. `id` is the idempotency key: a redelivery carries the same id. */
export interface WebhookEvent {
  /** `evt_…`, unique per event; the same for every delivery attempt and every endpoint. */
  id: string;
  type: WebhookEventType;
  /** ISO-8601 time the event happened (not the delivery time; that is the Webhook-Timestamp header). */
  timestamp: string;
  /** Room id. */
  room: string;
  data: Record<string, unknown>;
}

export interface WebhookEndpointInput {
  url: string;
  /** HMAC secret for this endpoint. Default: the dispatcher's `secret`. */
  secret?: string;
  /** Event types it receives. Default: all. */
  events?: WebhookEventType[];
}

export interface WebhookEndpoint {
  /** `whe_…` */
  id: string;
  url: string;
  events: WebhookEventType[] | 'all';
  /** `env`: from WEBHOOK_URLS (replaced at every start); `api`: created through the API. */
  source: 'env' | 'api';
  createdAt: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDelivery {
  /** `whd_…` */
  id: string;
  eventId: string;
  type: WebhookEventType;
  room: string;
  endpointId: string;
  url: string;
  status: DeliveryStatus;
  attempts: number;
  /** ISO-8601; when the next attempt is due (pending only). */
  nextAttemptAt: string | null;
  /** HTTP status of the last attempt, if one got a response. */
  lastStatus: number | null;
  /** Why the last attempt failed (`http 503`, `timeout`, `connection refused`…). */
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export interface BackoffOptions {
  /** Delay before the first retry, ms. Config: WEBHOOK_RETRY_INITIAL_MS (its default when absent). */
  initialMs?: number;
  /** Largest delay between attempts, ms. Config: WEBHOOK_RETRY_MAX_MS (its default when absent). */
  maxMs?: number;
  /** A delivery still failing this long after its event is given up (status `failed`), ms. Config: WEBHOOK_RETRY_HOURS (its default when absent). */
  maxAgeMs?: number;
}

export interface WebhookDispatcherOptions {
  /** SQLite file of the outbox (created with its directory; WAL mode). `:memory:` for a throwaway outbox. */
  dbPath: string;
  /** Default HMAC-SHA256 secret for endpoints without their own. Required if any endpoint lacks one. */
  secret?: string;
  /** Endpoints from configuration (WEBHOOK_URLS). They replace the previous run's `env` endpoints. Default none. */
  endpoints?: string[];
  /** Default: global fetch. */
  fetch?: typeof fetch;
  backoff?: BackoffOptions;
  /** Per-attempt HTTP timeout, ms. Config: WEBHOOK_TIMEOUT_MS (its default when absent). */
  requestTimeoutMs?: number;
  /** Deliveries in flight at once (at most one per endpoint and room). Default 16. */
  concurrency?: number;
  /** Delivered and failed deliveries older than this are deleted, ms. Default 7 days. */
  retentionMs?: number;
}

export interface WebhookStats {
  /** Deliveries waiting (pending, including in flight). */
  queueDepth: number;
  inFlight: number;
  /** Attempts that failed since start (each failed attempt counts). */
  attemptFailures: number;
  /** Deliveries given up since start. */
  abandoned: number;
  /** Deliveries that succeeded since start. */
  delivered: number;
}

export type WebhookDispatcherEvents = {
  delivered: [delivery: WebhookDelivery];
  /** One attempt failed; it will be retried at `delivery.nextAttemptAt` unless its status is `failed`. */
  attemptfailed: [delivery: WebhookDelivery];
  /** The delivery is given up after `maxAgeMs` of failures. */
  abandoned: [delivery: WebhookDelivery];
};
