import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookEventType } from './WebhookTypes.ts';

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url')}`;

interface EndpointRow {
  id: string;
  url: string;
  secret: string | null;
  events: string | null;
  source: 'env' | 'api';
  created_at: number;
}

interface DeliveryRow {
  id: string;
  event_id: string;
  type: WebhookEventType;
  room: string;
  endpoint_id: string;
  url: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

/** A due delivery with what it takes to send it. */
export interface DueDelivery {
  id: string;
  endpointId: string;
  room: string;
  url: string;
  secret: string | null;
  eventId: string;
  body: string;
  attempts: number;
  createdAt: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS endpoints (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  secret TEXT,
  events TEXT,
  source TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  room TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  event_id TEXT NOT NULL REFERENCES events(id),
  endpoint_id TEXT NOT NULL,
  room TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  last_status INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_lane ON deliveries (status, endpoint_id, room, seq);
CREATE INDEX IF NOT EXISTS deliveries_room ON deliveries (room, seq);
`;

const DELIVERY_SELECT = `
SELECT d.id, d.event_id, e.type, d.room, d.endpoint_id, COALESCE(p.url, '') AS url, d.status, d.attempts,
       d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.delivered_at
FROM deliveries d JOIN events e ON e.id = d.event_id LEFT JOIN endpoints p ON p.id = d.endpoint_id`;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * The durable outbox: endpoints, events and one delivery row per (event, endpoint), in one
 * SQLite file (WAL, synchronous=NORMAL: a committed event survives a process crash or restart;
 * only an OS crash or power loss can drop the last commits). Deliveries carry a global `seq`
 * so that "the oldest pending delivery of an endpoint and room" is the head of that lane.
 */
export class Outbox {
  private readonly db: DatabaseSync;
  private readonly stmts: Record<string, StatementSync>;
  private seq: number;
  private closed = false;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
    this.db.exec(SCHEMA);
    const max = this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS m FROM deliveries').get() as { m: number };
    this.seq = max.m;
    this.stmts = {
      insertEvent: this.db.prepare('INSERT INTO events (id, type, room, body, created_at) VALUES (?, ?, ?, ?, ?)'),
      insertDelivery: this.db.prepare(
        "INSERT INTO deliveries (id, seq, event_id, endpoint_id, room, status, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
      ),
      // The head of each lane (endpoint, room): its oldest pending delivery. Later ones wait.
      heads: this.db.prepare(`
        SELECT d.id, d.endpoint_id, d.room, p.url, p.secret, d.event_id, e.body, d.attempts, d.created_at, d.next_attempt_at
        FROM deliveries d
        JOIN events e ON e.id = d.event_id
        JOIN endpoints p ON p.id = d.endpoint_id
        WHERE d.status = 'pending'
          AND d.seq = (SELECT MIN(seq) FROM deliveries x WHERE x.status = 'pending' AND x.endpoint_id = d.endpoint_id AND x.room = d.room)
        ORDER BY d.next_attempt_at, d.seq`),
      markDelivered: this.db.prepare(
        "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, last_status = ?, last_error = NULL, next_attempt_at = NULL, delivered_at = ? WHERE id = ?",
      ),
      markFailedAttempt: this.db.prepare(
        'UPDATE deliveries SET status = ?, attempts = attempts + 1, last_status = ?, last_error = ?, next_attempt_at = ? WHERE id = ?',
      ),
      retry: this.db.prepare("UPDATE deliveries SET status = 'pending', next_attempt_at = ?, delivered_at = NULL WHERE id = ?"),
      getDelivery: this.db.prepare(`${DELIVERY_SELECT} WHERE d.id = ?`),
      pendingCount: this.db.prepare("SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'"),
      endpoints: this.db.prepare('SELECT * FROM endpoints ORDER BY created_at, id'),
      insertEndpoint: this.db.prepare('INSERT INTO endpoints (id, url, secret, events, source, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
      deleteEndpoint: this.db.prepare('DELETE FROM endpoints WHERE id = ?'),
      abandonEndpoint: this.db.prepare(
        "UPDATE deliveries SET status = 'failed', last_error = 'endpoint removed', next_attempt_at = NULL WHERE endpoint_id = ? AND status = 'pending'",
      ),
      prune: this.db.prepare(
        "DELETE FROM deliveries WHERE status IN ('delivered', 'failed') AND created_at < ?",
      ),
      pruneEvents: this.db.prepare('DELETE FROM events WHERE created_at < ? AND id NOT IN (SELECT event_id FROM deliveries)'),
    };
  }

  /** Replaces the `env` endpoints with `urls` (kept when unchanged, so their pending deliveries survive). */
  syncEnvEndpoints(urls: string[], now: number): void {
    const existing = this.listEndpointRows().filter((e) => e.source === 'env');
    this.transaction(() => {
      for (const e of existing) {
        if (!urls.includes(e.url)) {
          this.stmts.abandonEndpoint!.run(e.id);
          this.stmts.deleteEndpoint!.run(e.id);
        }
      }
      for (const url of new Set(urls)) {
        if (!existing.some((e) => e.url === url)) this.stmts.insertEndpoint!.run(newId('whe'), url, null, null, 'env', now);
      }
    });
  }

  addEndpoint(url: string, secret: string | null, events: WebhookEventType[] | null, now: number): WebhookEndpoint {
    const id = newId('whe');
    this.stmts.insertEndpoint!.run(id, url, secret, events ? JSON.stringify(events) : null, 'api', now);
    return toEndpoint(this.listEndpointRows().find((e) => e.id === id)!);
  }

  /** Removes an endpoint; its pending deliveries become `failed` ("endpoint removed"). */
  removeEndpoint(id: string): boolean {
    const row = this.listEndpointRows().find((e) => e.id === id);
    if (!row) return false;
    this.transaction(() => {
      this.stmts.abandonEndpoint!.run(id);
      this.stmts.deleteEndpoint!.run(id);
    });
    return true;
  }

  getEndpoint(id: string): (WebhookEndpoint & { hasOwnSecret: boolean }) | undefined {
    const row = this.listEndpointRows().find((e) => e.id === id);
    return row && { ...toEndpoint(row), hasOwnSecret: row.secret !== null };
  }

  listEndpoints(): WebhookEndpoint[] {
    return this.listEndpointRows().map(toEndpoint);
  }

  /** Stores the event and one pending delivery per endpoint that wants its type, atomically. */
  addEvent(event: WebhookEvent, now: number): number {
    const body = JSON.stringify(event);
    const targets = this.listEndpointRows().filter((e) => e.events === null || (JSON.parse(e.events) as string[]).includes(event.type));
    this.transaction(() => {
      this.stmts.insertEvent!.run(event.id, event.type, event.room, body, now);
      for (const endpoint of targets) {
        this.stmts.insertDelivery!.run(newId('whd'), ++this.seq, event.id, endpoint.id, event.room, now, now);
      }
    });
    return targets.length;
  }

  /** Head of every lane, due or not, ordered by due time. */
  heads(): (DueDelivery & { nextAttemptAt: number })[] {
    return (this.stmts.heads!.all() as Record<string, unknown>[]).map((r) => ({
      id: r.id as string,
      endpointId: r.endpoint_id as string,
      room: r.room as string,
      url: r.url as string,
      secret: r.secret as string | null,
      eventId: r.event_id as string,
      body: r.body as string,
      attempts: r.attempts as number,
      createdAt: r.created_at as number,
      nextAttemptAt: r.next_attempt_at as number,
    }));
  }

  markDelivered(id: string, httpStatus: number, now: number): void {
    this.stmts.markDelivered!.run(httpStatus, now, id);
  }

  /** Records a failed attempt: pending again at `nextAttemptAt`, or `failed` when that is null. */
  markAttemptFailed(id: string, httpStatus: number | null, error: string, nextAttemptAt: number | null): void {
    this.stmts.markFailedAttempt!.run(nextAttemptAt === null ? 'failed' : 'pending', httpStatus, error, nextAttemptAt, id);
  }

  /** Makes a delivery pending and due now, whatever its status (a delivered one is sent again, same event id). */
  retry(id: string, now: number): WebhookDelivery | undefined {
    const d = this.getDelivery(id);
    if (!d) return undefined;
    this.stmts.retry!.run(now, id);
    return this.getDelivery(id);
  }

  getDelivery(id: string): WebhookDelivery | undefined {
    const row = this.stmts.getDelivery!.get(id) as DeliveryRow | undefined;
    return row && toDelivery(row);
  }

  listDeliveries(filter: { room?: string; status?: DeliveryStatus; eventId?: string; limit?: number } = {}): WebhookDelivery[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const add = (clause: string, value: string | undefined) => {
      if (value === undefined) return;
      where.push(clause);
      args.push(value);
    };
    add('d.room = ?', filter.room);
    add('d.status = ?', filter.status);
    add('d.event_id = ?', filter.eventId);
    const sql = `${DELIVERY_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.seq DESC LIMIT ?`;
    args.push(filter.limit ?? 100);
    return (this.db.prepare(sql).all(...args) as unknown as DeliveryRow[]).map(toDelivery);
  }

  pendingCount(): number {
    return (this.stmts.pendingCount!.get() as { n: number }).n;
  }

  /** Deletes finished deliveries (and their events) created before `before`. */
  prune(before: number): void {
    this.transaction(() => {
      this.stmts.prune!.run(before);
      this.stmts.pruneEvents!.run(before);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private listEndpointRows(): EndpointRow[] {
    return this.stmts.endpoints!.all() as unknown as EndpointRow[];
  }

  private transaction(fn: () => void): void {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      fn();
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }
}

function toEndpoint(row: EndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    events: row.events === null ? 'all' : (JSON.parse(row.events) as WebhookEventType[]),
    source: row.source,
    createdAt: new Date(row.created_at).toISOString(),
  };
}

function toDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    eventId: row.event_id,
    type: row.type,
    room: row.room,
    endpointId: row.endpoint_id,
    url: row.url,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === 'pending' ? iso(row.next_attempt_at) : null,
    lastStatus: row.last_status,
    lastError: row.last_error,
    createdAt: new Date(row.created_at).toISOString(),
    deliveredAt: iso(row.delivered_at),
  };
}
