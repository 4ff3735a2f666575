/**
 * WebhookDispatcher against real HTTP receivers and a real SQLite outbox file: signatures
 * verify with the documented recipe (tampered body and stale timestamp rejected), a receiver
 * outage with a dispatcher restart in between loses nothing and keeps each room's order,
 * duplicates carry the same event id, a slow room does not block another, give-up and retry,
 * endpoints added and removed, event filters, request timeouts.
 *
 * Run: node --test test/webhooks/
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signWebhook, verifyWebhook } from '../../services/webhooks/signature.ts';
import { retryDelayMs, BACKOFF_DEFAULTS } from '../../services/webhooks/backoff.ts';
import { WebhookDispatcher } from '../../services/webhooks/WebhookDispatcher.ts';
import type { WebhookDispatcherOptions } from '../../services/webhooks/WebhookTypes.ts';
import { acceptedOnce, startReceiver, verifyAsDocumented, type TestReceiver } from '../support/webhookReceiver.ts';
import { sleep, waitFor } from '../support/wait.ts';

const SECRET = 'whsec_test_0123456789abcdef';
const FAST = { initialMs: 50, maxMs: 300, maxAgeMs: 60_000 };

let dir: string;
const open: { close(): unknown }[] = [];
function dispatcher(opts: Partial<WebhookDispatcherOptions> & { dbPath?: string } = {}): WebhookDispatcher {
  const d = new WebhookDispatcher({ dbPath: join(dir, `outbox-${open.length}.db`), secret: SECRET, backoff: FAST, ...opts });
  open.push(d);
  return d;
}
async function receiver(): Promise<TestReceiver> {
  const r = await startReceiver(SECRET);
  open.push(r);
  return r;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stagecast-webhooks-'));
});
after(async () => {
  for (const o of open.reverse()) await o.close();
  await rm(dir, { recursive: true, force: true });
});

describe('signature', () => {
  it('verifies with the documented recipe; a tampered body, a wrong secret or a timestamp over 5 minutes old is rejected', async () => {
    const rx = await receiver();
    const d = dispatcher({ endpoints: [rx.url] });
    d.start();
    const event = d.enqueue('room.started', 'sig-room', { hello: 'world' });
    await waitFor('delivery', 5000, () => rx.received.length === 1, { stepMs: 20 });
    const got = rx.received[0]!;
    assert.equal(got.verified, true);
    assert.equal(got.id, event.id);
    assert.deepEqual(got.event, event);
    assert.match(got.signature, /^v1=[0-9a-f]{64}$/);
    const headers = { 'webhook-timestamp': got.timestamp, 'webhook-signature': got.signature };
    assert.equal(verifyAsDocumented(SECRET, headers, got.rawBody), true);
    assert.equal(verifyAsDocumented(SECRET, headers, got.rawBody.replace('world', 'w0rld')), false, 'tampered body');
    assert.equal(verifyAsDocumented('another-secret', headers, got.rawBody), false, 'wrong secret');
    assert.equal(verifyAsDocumented(SECRET, headers, got.rawBody, Number(got.timestamp) + 301), false, 'replayed after 5 minutes');
    // A stale timestamp cannot be refreshed without the secret: re-signing is needed.
    const old = Math.floor(Date.now() / 1000) - 600;
    assert.equal(verifyAsDocumented(SECRET, { 'webhook-timestamp': String(old), 'webhook-signature': signWebhook(SECRET, old, got.rawBody) }, got.rawBody), false);
    // The library check agrees with the recipe.
    assert.deepEqual(verifyWebhook(SECRET, { timestamp: got.timestamp, signature: got.signature }, got.rawBody), { ok: true });
    assert.deepEqual(verifyWebhook(SECRET, { timestamp: got.timestamp, signature: got.signature }, got.rawBody + ' '), { ok: false, reason: 'bad_signature' });
    assert.deepEqual(verifyWebhook(SECRET, { timestamp: String(old), signature: signWebhook(SECRET, old, got.rawBody) }, got.rawBody), { ok: false, reason: 'stale_timestamp' });
    d.close();
  });

  it('signs each attempt with its own timestamp, so a retry hours later still passes the 5-minute check', async () => {
    const rx = await receiver();
    rx.respond = (_r, n) => (n === 1 ? 503 : 200);
    const d = dispatcher({ endpoints: [rx.url] });
    d.start();
    d.enqueue('room.ended', 'r', {});
    await waitFor('two attempts', 5000, () => rx.received.length === 2, { stepMs: 20 });
    assert.ok(rx.received.every((r) => r.verified));
    assert.equal(rx.received[0]!.id, rx.received[1]!.id, 'same event id on the retry');
    d.close();
  });
});

describe('backoff', () => {
  it('doubles from initialMs, is capped at maxMs, with jitter between half and all of it', () => {
    const opts = BACKOFF_DEFAULTS;
    assert.equal(retryDelayMs(1, opts, () => 0), 1000);
    assert.equal(retryDelayMs(1, opts, () => 1), 2000);
    assert.equal(retryDelayMs(3, opts, () => 1), 8000);
    assert.equal(retryDelayMs(30, opts, () => 1), opts.maxMs);
    assert.equal(retryDelayMs(30, opts, () => 0), opts.maxMs / 2);
    // Attempts over 24 hours with the defaults: enough to ride out hours of outage.
    let t = 0;
    let n = 0;
    while (t < opts.maxAgeMs) t += retryDelayMs(++n, opts, () => 0.5);
    assert.ok(n > 50 && n < 200, `attempts in 24 h: ${n}`);
  });
});

describe('delivery', () => {
  it('receiver down, dispatcher restarted on the same outbox: every event arrives, in order per room, duplicates share an id', async () => {
    const rx = await receiver();
    await rx.stop();
    const dbPath = join(dir, 'restart.db');
    const first = new WebhookDispatcher({ dbPath, secret: SECRET, endpoints: [rx.url], backoff: FAST });
    first.start();
    const sent: { id: string; room: string }[] = [];
    for (let i = 0; i < 30; i++) {
      const room = `room-${i % 3}`;
      sent.push({ id: first.enqueue('participant.joined', room, { n: i }).id, room });
    }
    await sleep(400);
    assert.ok(first.stats().attemptFailures >= 3, 'attempts failed while the receiver is down');
    assert.equal(first.stats().queueDepth, 30);
    first.close();

    // Some events are enqueued by the restarted process too.
    const second = new WebhookDispatcher({ dbPath, secret: SECRET, endpoints: [rx.url], backoff: FAST });
    open.push(second);
    for (let i = 30; i < 36; i++) {
      const room = `room-${i % 3}`;
      sent.push({ id: second.enqueue('participant.joined', room, { n: i }).id, room });
    }
    // The receiver takes each event but answers 500 to every third first attempt: those come again.
    const seen = new Set<string>();
    rx.respond = (r) => {
      const firstTime = !seen.has(r.id);
      seen.add(r.id);
      return firstTime && Number(r.event.data.n) % 3 === 0 ? 500 : 200;
    };
    await rx.start();
    second.start();
    await waitFor('all accepted', 15000, () => acceptedOnce(rx.received).length === sent.length, { stepMs: 20 });
    assert.equal(await second.flush(2000), 0);
    assert.ok(rx.received.every((r) => r.verified));
    const accepted = acceptedOnce(rx.received);
    assert.deepEqual(new Set(accepted.map((r) => r.id)), new Set(sent.map((s) => s.id)), 'none lost');
    for (const room of ['room-0', 'room-1', 'room-2']) {
      const order = accepted.filter((r) => r.event.room === room).map((r) => r.id);
      assert.deepEqual(order, sent.filter((s) => s.room === room).map((s) => s.id), `${room} in order`);
      // In order per room also as received: nothing of a room arrives before its predecessor was accepted.
      const arrivals = rx.received.filter((r) => r.event.room === room).map((r) => r.id);
      const firstArrival = arrivals.filter((id, i) => arrivals.indexOf(id) === i);
      assert.deepEqual(firstArrival, order);
    }
    const dupes = rx.received.length - accepted.length;
    assert.ok(dupes >= 12, `redeliveries after 500: ${dupes}`);
    for (const r of rx.received) assert.equal(r.id, r.event.id, 'Webhook-Id is the event id');
    const deliveries = second.listDeliveries({ limit: 1000 });
    assert.ok(deliveries.every((d) => d.status === 'delivered'));
    second.close();
  });

  it('a room whose receiver call hangs does not hold up another room; the timeout counts as a failed attempt', async () => {
    const rx = await receiver();
    let hang = true;
    rx.respond = async (r) => {
      if (r.event.room === 'slow' && hang) await sleep(1500);
      return 200;
    };
    const d = dispatcher({ endpoints: [rx.url], requestTimeoutMs: 300 });
    d.start();
    d.enqueue('track.published', 'slow', {});
    d.enqueue('track.published', 'slow', { second: true });
    for (let i = 0; i < 5; i++) d.enqueue('track.published', 'fast', { i });
    await waitFor('fast room delivered', 3000, () => rx.received.filter((r) => r.event.room === 'fast').length === 5, { stepMs: 20 });
    assert.equal(rx.received.filter((r) => r.event.room === 'slow' && r.event.data.second).length, 0, 'slow room: second waits');
    await waitFor('a timed-out attempt', 3000, () => d.stats().attemptFailures >= 1, { stepMs: 20 });
    assert.equal(d.listDeliveries({ room: 'slow' }).find((x) => x.lastError)?.lastError, 'timeout');
    hang = false;
    await waitFor('slow room delivered', 5000, () => d.listDeliveries({ room: 'slow', status: 'delivered' }).length === 2, { stepMs: 20 });
    d.close();
  });

  it('gives up after maxAgeMs (status failed), then the next event of the room goes; retry sends the failed one again', async () => {
    const rx = await receiver();
    rx.respond = (r) => (r.event.data.poison ? 500 : 200);
    const d = dispatcher({ endpoints: [rx.url], backoff: { initialMs: 50, maxMs: 100, maxAgeMs: 400 } });
    const abandoned: string[] = [];
    d.on('abandoned', (x) => abandoned.push(x.id));
    d.start();
    const poison = d.enqueue('broadcast.started', 'r1', { poison: true });
    const next = d.enqueue('broadcast.stopped', 'r1', {});
    await waitFor('abandoned', 3000, () => abandoned.length === 1, { stepMs: 20 });
    await waitFor('next delivered', 3000, () => rx.received.some((r) => r.id === next.id && r.status === 200), { stepMs: 20 });
    const [failed] = d.listDeliveries({ room: 'r1', status: 'failed' });
    assert.equal(failed?.eventId, poison.id);
    assert.equal(failed.lastStatus, 500);
    assert.equal(failed.lastError, 'http 500');
    assert.ok(failed.attempts >= 2);
    assert.equal(d.stats().abandoned, 1);
    rx.respond = () => 200;
    const retried = d.retry(failed.id);
    assert.equal(retried.status, 'pending');
    await waitFor('retried delivery', 3000, () => d.getDelivery(failed.id)?.status === 'delivered', { stepMs: 20 });
    assert.throws(() => d.retry('whd_nope'), { code: 'not_found' });
    d.close();
  });

  it('API endpoints: own secret, event filter, removal fails their pending deliveries; env endpoints cannot be removed', async () => {
    const rxEnv = await receiver();
    const rxApi = await startReceiver('endpoint-own-secret-123');
    open.push(rxApi);
    const d = dispatcher({ endpoints: [rxEnv.url] });
    d.start();
    const ep = d.addEndpoint({ url: rxApi.url, secret: 'endpoint-own-secret-123', events: ['room.ended'] });
    assert.equal(ep.source, 'api');
    assert.deepEqual(ep.events, ['room.ended']);
    d.enqueue('room.started', 'x', {});
    d.enqueue('room.ended', 'x', {});
    await waitFor('deliveries', 3000, () => rxEnv.received.length === 2 && rxApi.received.length === 1, { stepMs: 20 });
    assert.equal(rxApi.received[0]!.event.type, 'room.ended');
    assert.ok(rxApi.received[0]!.verified, 'signed with the endpoint secret');
    const envEndpoint = d.listEndpoints().find((e) => e.source === 'env')!;
    assert.throws(() => d.removeEndpoint(envEndpoint.id), { code: 'conflict' });
    await rxApi.stop();
    d.enqueue('room.ended', 'y', {});
    await waitFor('a failed attempt', 3000, () => d.listDeliveries({ room: 'y' }).some((x) => x.endpointId === ep.id && x.attempts > 0), { stepMs: 20 });
    d.removeEndpoint(ep.id);
    const gone = d.listDeliveries({ room: 'y' }).find((x) => x.endpointId === ep.id)!;
    assert.equal(gone.status, 'failed');
    assert.equal(gone.lastError, 'endpoint removed');
    assert.throws(() => d.addEndpoint({ url: 'ftp://x' }), { code: 'bad_request' });
    assert.throws(() => d.addEndpoint({ url: 'http://u:p@x/' }), { code: 'bad_request' });
    assert.throws(() => d.addEndpoint({ url: 'http://x/', events: ['nope' as never] }), { code: 'bad_request' });
    d.close();
  });

  it('changing WEBHOOK_URLS between runs replaces env endpoints; unchanged ones keep their pending deliveries', async () => {
    const dbPath = join(dir, 'env.db');
    const a = new WebhookDispatcher({ dbPath, secret: SECRET, endpoints: ['http://127.0.0.1:9/a', 'http://127.0.0.1:9/b'] });
    a.enqueue('room.started', 'e', {});
    assert.equal(a.stats().queueDepth, 2);
    a.close();
    const b = new WebhookDispatcher({ dbPath, secret: SECRET, endpoints: ['http://127.0.0.1:9/a'] });
    open.push(b);
    assert.deepEqual(b.listEndpoints().map((e) => e.url), ['http://127.0.0.1:9/a']);
    assert.equal(b.stats().queueDepth, 1);
    b.close();
  });

  it('flush waits for due deliveries and reports what is left; close is idempotent and stops everything', async () => {
    const rx = await receiver();
    rx.respond = async () => {
      await sleep(50);
      return 200;
    };
    const d = dispatcher({ endpoints: [rx.url] });
    d.start();
    for (let i = 0; i < 10; i++) d.enqueue('participant.left', `f${i % 2}`, { i });
    assert.equal(await d.flush(5000), 0);
    assert.equal(rx.received.length, 10);
    await rx.stop();
    d.enqueue('participant.left', 'f0', {});
    const left = await d.flush(200);
    assert.equal(left, 1, 'the failed one stays for later');
    d.close();
    d.close();
    assert.equal(d.stats().queueDepth, 0);
    assert.throws(() => d.enqueue('room.ended', 'x'), { code: 'invalid_state' });
  });

  it('refuses endpoints without a secret', () => {
    assert.throws(() => new WebhookDispatcher({ dbPath: ':memory:', endpoints: ['http://127.0.0.1:9/'] }), /secret/);
  });
});
