/**
 * The webhook API (`/api/webhooks…`) in-process over a real dispatcher and SQLite outbox:
 * endpoints created, listed and deleted, deliveries listed with filters, one retried, bad
 * input and missing API key refused with `{ error: { code } }`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { Hono } from 'hono';
import { apiKeyAuth } from '../../services/api/middleware/apiKey/index.ts';
import { notFound, onError } from '../../services/api/middleware/errorHandler/index.ts';
import { requestId } from '../../services/api/middleware/requestId/index.ts';
import { webhookRoutes } from '../../services/api/routes/webhooks.ts';
import type { AppEnv } from '../../services/api/types.ts';
import { WebhookDispatcher } from '../../services/webhooks/WebhookDispatcher.ts';
import { startReceiver, type TestReceiver } from '../support/webhookReceiver.ts';
import { sleep } from '../support/wait.ts';

const API_KEY = 'test_api_key_0123456789';
const SECRET = 'whsec_routes_0123456789';
let dir: string;
let dispatcher: WebhookDispatcher;
let rx: TestReceiver;
let app: Hono<AppEnv>;

const call = (path: string, init: RequestInit = {}) =>
  app.request(`/api${path}`, { ...init, headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stagecast-webhook-routes-'));
  rx = await startReceiver(SECRET);
  dispatcher = new WebhookDispatcher({ dbPath: join(dir, 'outbox.db'), secret: SECRET, backoff: { initialMs: 50, maxMs: 100 } });
  dispatcher.start();
  app = new Hono<AppEnv>();
  app.use('*', requestId());
  app.onError(onError);
  app.notFound(notFound);
  app.use('/api/*', apiKeyAuth(API_KEY)); // as app.ts guards every /api route
  app.route('/api', webhookRoutes({ webhooks: dispatcher }));
});
after(async () => {
  dispatcher.close();
  await rx.close();
  await rm(dir, { recursive: true, force: true });
});

it('needs the API key', async () => {
  const res = await app.request('/api/webhooks');
  assert.equal(res.status, 401);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'unauthorized');
  assert.equal((await app.request('/api/webhooks/deliveries')).status, 401);
});

it('creates, lists and deletes an endpoint; validates the body', async () => {
  let res = await call('/webhooks', { method: 'POST', body: JSON.stringify({ url: rx.url, events: ['room.started'] }) });
  assert.equal(res.status, 201);
  const ep = (await res.json()) as { id: string; url: string; events: string[]; source: string; secret?: string };
  assert.equal(ep.url, rx.url);
  assert.equal(ep.source, 'api');
  assert.equal(ep.secret, undefined, 'no secret echoed when none was given');
  res = await call('/webhooks');
  const listed = (await res.json()) as { endpoints: { id: string }[]; stats: { queueDepth: number } };
  assert.deepEqual(listed.endpoints.map((e) => e.id), [ep.id]);
  assert.equal(typeof listed.stats.queueDepth, 'number');
  for (const bad of [{}, { url: 'ftp://x/' }, { url: rx.url, events: ['nope'] }, { url: rx.url, extra: 1 }, { url: rx.url, secret: 'short' }]) {
    res = await call('/webhooks', { method: 'POST', body: JSON.stringify(bad) });
    assert.equal(res.status, 400, JSON.stringify(bad));
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'bad_request');
  }
  res = await call(`/webhooks/${ep.id}`, { method: 'DELETE' });
  assert.equal(res.status, 200);
  res = await call(`/webhooks/${ep.id}`, { method: 'DELETE' });
  assert.equal(res.status, 404);
});

it('lists deliveries by room and status, and retries one', async () => {
  const res0 = await call('/webhooks', { method: 'POST', body: JSON.stringify({ url: rx.url, secret: SECRET }) });
  assert.equal(res0.status, 201);
  assert.equal(((await res0.json()) as { secret: string }).secret, SECRET);
  rx.respond = () => 503;
  dispatcher.enqueue('room.started', 'api-room', {});
  dispatcher.enqueue('room.started', 'other-room', {});
  const end = Date.now() + 3000;
  while (rx.received.length < 2 && Date.now() < end) await sleep(20);
  let res = await call('/webhooks/deliveries?room=api-room&status=pending');
  const { deliveries } = (await res.json()) as { deliveries: { id: string; room: string; status: string; attempts: number; lastError: string }[] };
  assert.equal(deliveries.length, 1);
  assert.equal(deliveries[0]!.room, 'api-room');
  assert.equal(deliveries[0]!.lastError, 'http 503');
  rx.respond = () => 200;
  res = await call(`/webhooks/deliveries/${deliveries[0]!.id}/retry`, { method: 'POST' });
  assert.equal(res.status, 202);
  while (Date.now() < end + 3000) {
    res = await call(`/webhooks/deliveries/${deliveries[0]!.id}`);
    if (((await res.json()) as { status: string }).status === 'delivered') break;
    await sleep(20);
  }
  res = await call('/webhooks/deliveries?room=api-room&status=delivered');
  assert.equal(((await res.json()) as { deliveries: unknown[] }).deliveries.length, 1);
  assert.equal((await call('/webhooks/deliveries?status=weird')).status, 400);
  assert.equal((await call('/webhooks/deliveries?limit=0')).status, 400);
  assert.equal((await call('/webhooks/deliveries/whd_missing/retry', { method: 'POST' })).status, 404);
});
