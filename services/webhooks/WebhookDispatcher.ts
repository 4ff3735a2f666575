import { randomBytes } from 'node:crypto';
import { EnhancedEventEmitter } from '../core/EnhancedEventEmitter.ts';
import { ServiceError } from '../core/errors.ts';
import { logger } from '../core/logger.ts';
import { BACKOFF_DEFAULTS, retryDelayMs } from './backoff.ts';
import { Outbox, type DueDelivery } from './Outbox.ts';
import { signWebhook, WEBHOOK_ID_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER } from './signature.ts';
import {
  WEBHOOK_EVENT_TYPES,
  type BackoffOptions,
  type DeliveryStatus,
  type WebhookDelivery,
  type WebhookDispatcherEvents,
  type WebhookDispatcherOptions,
  type WebhookEndpoint,
  type WebhookEndpointInput,
  type WebhookEvent,
  type WebhookEventType,
  type WebhookStats,
} from './WebhookTypes.ts';
import { CONFIG_DEFAULTS } from '../core/config.ts';

const log = logger.child({ mod: 'webhooks' });

/** Longest sleep between outbox scans when nothing is due sooner (also picks up clock jumps). */
const IDLE_SCAN_MS = 60_000;
const PRUNE_EVERY_MS = 60 * 60 * 1000;

/**
 * Delivers webhook events from the durable outbox: at least once, signed, retried with
 * exponential backoff for hours, and in order within a room (per endpoint: a room's next
 * event waits until its previous one is delivered or given up). `enqueue` commits the event
 * to SQLite before returning, so an event is never lost once enqueued, even if the process
 * dies right after. In-flight requests cut by `close()` stay pending and are sent again after
 * a restart, with the same event id (receivers deduplicate on it).
 */
export class WebhookDispatcher extends EnhancedEventEmitter<WebhookDispatcherEvents> {
  private readonly outbox: Outbox;
  private readonly secret: string | undefined;
  private readonly fetchFn: typeof fetch;
  private readonly backoff: Required<BackoffOptions>;
  private readonly requestTimeoutMs: number;
  private readonly concurrency: number;
  private readonly retentionMs: number;
  /** Lanes (endpoint + room) with a request in flight, and that request's abort controller. */
  private readonly inFlight = new Map<string, AbortController>();
  private readonly idleWaiters = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;
  private lastPrune = 0;
  private counters = { attemptFailures: 0, abandoned: 0, delivered: 0 };

  constructor(opts: WebhookDispatcherOptions) {
    super();
    this.secret = opts.secret;
    this.fetchFn = opts.fetch ?? fetch;
    this.backoff = { ...BACKOFF_DEFAULTS, ...opts.backoff };
    this.requestTimeoutMs = opts.requestTimeoutMs ?? CONFIG_DEFAULTS.WEBHOOK_TIMEOUT_MS;
    this.concurrency = opts.concurrency ?? 16;
    this.retentionMs = opts.retentionMs ?? 7 * 24 * 3600 * 1000;
    if (this.backoff.initialMs <= 0 || this.backoff.maxMs < this.backoff.initialMs) {
      throw new TypeError('backoff: expected 0 < initialMs <= maxMs');
    }
    for (const url of opts.endpoints ?? []) assertEndpointUrl(url);
    if ((opts.endpoints ?? []).length > 0 && !this.secret) throw new TypeError('webhook endpoints need a secret (WEBHOOK_SECRET)');
    this.outbox = new Outbox(opts.dbPath);
    this.outbox.syncEnvEndpoints(opts.endpoints ?? [], Date.now());
  }

  /** Begins delivering (what is already in the outbox first). Idempotent. */
  start(): void {
    if (this.closed || this.started) return;
    this.started = true;
    this.pump();
  }

  /**
   * Stores an event for every endpoint that wants it and returns it. Synchronous: when it
   * returns, the event is committed to the outbox.
   */
  enqueue(type: WebhookEventType, room: string, data: Record<string, unknown> = {}): WebhookEvent {
    if (this.closed) throw new ServiceError('invalid_state', 'webhooks are shut down');
    const event: WebhookEvent = {
      id: `evt_${randomBytes(12).toString('base64url')}`,
      type,
      timestamp: new Date().toISOString(),
      room,
      data,
    };
    const targets = this.outbox.addEvent(event, Date.now());
    if (targets > 0) this.pump();
    return event;
  }

  addEndpoint(input: WebhookEndpointInput): WebhookEndpoint {
    this.assertOpen();
    assertEndpointUrl(input.url);
    if (!input.secret && !this.secret) throw new ServiceError('bad_request', 'no secret given and WEBHOOK_SECRET is not set');
    for (const type of input.events ?? []) {
      if (!(WEBHOOK_EVENT_TYPES as readonly string[]).includes(type)) throw new ServiceError('bad_request', `unknown event type ${type}`);
    }
    return this.outbox.addEndpoint(input.url, input.secret ?? null, input.events ?? null, Date.now());
  }

  listEndpoints(): WebhookEndpoint[] {
    this.assertOpen();
    return this.outbox.listEndpoints();
  }

  /** Removes an API-created endpoint (env ones come from WEBHOOK_URLS: 409). Its pending deliveries fail. */
  removeEndpoint(id: string): void {
    this.assertOpen();
    const endpoint = this.outbox.getEndpoint(id);
    if (!endpoint) throw new ServiceError('not_found', 'no such webhook endpoint');
    if (endpoint.source === 'env') throw new ServiceError('conflict', 'endpoint comes from WEBHOOK_URLS; change the configuration instead');
    this.outbox.removeEndpoint(id);
    for (const [lane, ctl] of this.inFlight) if (lane.startsWith(`${id} `)) ctl.abort();
  }

  /** Newest first. Default limit 100. */
  listDeliveries(filter: { room?: string; status?: DeliveryStatus; eventId?: string; limit?: number } = {}): WebhookDelivery[] {
    this.assertOpen();
    return this.outbox.listDeliveries(filter);
  }

  getDelivery(id: string): WebhookDelivery | undefined {
    this.assertOpen();
    return this.outbox.getDelivery(id);
  }

  /**
   * Sends a delivery again now: a pending one skips its backoff wait, a failed one is revived,
   * a delivered one is redelivered (same event id). It still waits for its room's earlier
   * pending events.
   */
  retry(id: string): WebhookDelivery {
    this.assertOpen();
    const existing = this.outbox.getDelivery(id);
    if (!existing) throw new ServiceError('not_found', 'no such delivery');
    if (existing.url === '') throw new ServiceError('conflict', 'its endpoint was removed');
    const delivery = this.outbox.retry(id, Date.now())!;
    this.pump();
    return delivery;
  }

  stats(): WebhookStats {
    return {
      queueDepth: this.closed ? 0 : this.outbox.pendingCount(),
      inFlight: this.inFlight.size,
      ...this.counters,
    };
  }

  /**
   * Waits until nothing is due or in flight (deliveries waiting out a backoff are not forced),
   * or `timeoutMs` passes. Resolves with the number of deliveries still pending; those stay in
   * the outbox for the next start.
   */
  async flush(timeoutMs: number): Promise<number> {
    if (this.closed) return 0;
    this.pump();
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline && (this.inFlight.size > 0 || this.hasDue())) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.max(1, Math.min(250, deadline - Date.now())));
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.idleWaiters.add(done);
      });
    }
    return this.closed ? 0 : this.outbox.pendingCount();
  }

  /** Stops delivering, aborts requests in flight (they stay pending) and closes the outbox. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    for (const ctl of this.inFlight.values()) ctl.abort();
    this.inFlight.clear();
    for (const wake of this.idleWaiters) wake();
    this.outbox.close();
    this.removeAllListeners();
  }

  private assertOpen(): void {
    if (this.closed) throw new ServiceError('unavailable', 'webhooks are shut down');
  }

  private hasDue(): boolean {
    const now = Date.now();
    return this.outbox.heads().some((h) => h.nextAttemptAt <= now && !this.inFlight.has(laneOf(h)));
  }

  /** Starts every due lane head (up to the concurrency limit) and sleeps until the next one is due. */
  private pump(): void {
    if (!this.started || this.closed) return;
    clearTimeout(this.timer);
    const now = Date.now();
    if (now - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = now;
      this.outbox.prune(now - this.retentionMs);
    }
    let nextDue = now + IDLE_SCAN_MS;
    for (const head of this.outbox.heads()) {
      const lane = laneOf(head);
      if (this.inFlight.has(lane)) continue;
      if (head.nextAttemptAt > now) {
        nextDue = Math.min(nextDue, head.nextAttemptAt);
        continue;
      }
      if (this.inFlight.size >= this.concurrency) break;
      const ctl = new AbortController();
      this.inFlight.set(lane, ctl);
      void this.attempt(head, ctl).finally(() => {
        if (this.inFlight.get(lane) === ctl) this.inFlight.delete(lane);
        for (const wake of this.idleWaiters) wake();
        this.idleWaiters.clear();
        this.pump();
      });
    }
    this.timer = setTimeout(() => this.pump(), Math.max(10, nextDue - now));
    this.timer.unref();
  }

  private async attempt(d: DueDelivery, ctl: AbortController): Promise<void> {
    const secret = d.secret ?? this.secret;
    const timestamp = Math.floor(Date.now() / 1000);
    let status: number | null = null;
    let error: string;
    try {
      if (!secret) throw new Error('no secret');
      const res = await this.fetchFn(d.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'stagecast-webhooks/1',
          [WEBHOOK_ID_HEADER]: d.eventId,
          [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
          [WEBHOOK_SIGNATURE_HEADER]: signWebhook(secret, timestamp, d.body),
        },
        body: d.body,
        redirect: 'manual',
        signal: AbortSignal.any([ctl.signal, AbortSignal.timeout(this.requestTimeoutMs)]),
      });
      status = res.status;
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) {
        if (this.closed) return;
        this.outbox.markDelivered(d.id, res.status, Date.now());
        this.counters.delivered++;
        const delivery = this.outbox.getDelivery(d.id);
        if (delivery) this.safeEmit('delivered', delivery);
        return;
      }
      error = `http ${res.status}`;
    } catch (err) {
      error = describeFetchError(err);
    }
    // Closed mid-request: the delivery stays pending as it was, and goes out after a restart.
    if (this.closed) return;
    if (ctl.signal.aborted && !this.outbox.getEndpoint(d.endpointId)) return;
    const now = Date.now();
    const attempts = d.attempts + 1;
    const next = now + retryDelayMs(attempts, this.backoff);
    const giveUp = next - d.createdAt > this.backoff.maxAgeMs;
    this.outbox.markAttemptFailed(d.id, status, error, giveUp ? null : next);
    this.counters.attemptFailures++;
    const delivery = this.outbox.getDelivery(d.id);
    log[giveUp ? 'warn' : 'debug']({ delivery: d.id, event: d.eventId, room: d.room, attempts, error }, giveUp ? 'webhook given up' : 'webhook attempt failed');
    if (!delivery) return;
    this.safeEmit('attemptfailed', delivery);
    if (giveUp) {
      this.counters.abandoned++;
      this.safeEmit('abandoned', delivery);
    }
  }
}

function laneOf(d: { endpointId: string; room: string }): string {
  return `${d.endpointId} ${d.room}`;
}

function assertEndpointUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ServiceError('bad_request', 'webhook url is not a URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new ServiceError('bad_request', 'webhook url must be http(s)');
  if (parsed.username || parsed.password) throw new ServiceError('bad_request', 'webhook url must not carry credentials');
}

function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return 'timeout';
    if (err.name === 'AbortError') return 'aborted';
    const cause = (err as { cause?: { code?: string } }).cause;
    if (cause?.code) return cause.code === 'ECONNREFUSED' ? 'connection refused' : cause.code.toLowerCase();
    return 'network error';
  }
  return 'network error';
}
