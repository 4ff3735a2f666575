/**
 * ServiceMetrics in-process over real parts: the embedded engine and RoomRegistry (rooms,
 * participants), a WebhookDispatcher with a real failing receiver (queue depth, failures),
 * DiskStorage wrapped by instrumentStorage (upload histogram), scraped through the /metrics
 * route and parsed. The broadcast counters (parts, segments, ffmpeg restarts) are covered with
 * a real broadcast in test/e2e/metrics.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { Hono } from 'hono';
import { onError } from '../../services/api/middleware/errorHandler/index.ts';
import { metricsRoutes } from '../../services/api/routes/metrics.ts';
import type { AppEnv } from '../../services/api/types.ts';
import { EmbeddedEngine } from '../../services/engine/embedded/EmbeddedEngine.ts';
import { createMetrics, type ServiceMetrics } from '../../services/metrics/index.ts';
import { RoomRegistry } from '../../services/stage/RoomRegistry.ts';
import { DiskStorage } from '../../services/storage/index.ts';
import { WebhookDispatcher } from '../../services/webhooks/WebhookDispatcher.ts';
import { startReceiver, type TestReceiver } from '../support/webhookReceiver.ts';
import { parsePromText, sumOf } from '../support/promText.ts';
import { sleep } from '../support/wait.ts';

const API_KEY = 'metrics_test_key_0123456789';
let dir: string;
let engine: EmbeddedEngine;
let registry: RoomRegistry;
let dispatcher: WebhookDispatcher;
let rx: TestReceiver;
let metrics: ServiceMetrics;
let app: Hono<AppEnv>;

async function scrape(auth = true) {
  const res = await app.request('/metrics', auth ? { headers: { authorization: `Bearer ${API_KEY}` } } : {});
  return res;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stagecast-metrics-'));
  engine = new EmbeddedEngine({ listenIp: '127.0.0.1', portRange: [46000, 46999], iceServers: [] });
  registry = new RoomRegistry(engine, { roleGraceMs: 60_000 });
  rx = await startReceiver('metrics-secret-0123456789');
  rx.respond = () => 500;
  dispatcher = new WebhookDispatcher({ dbPath: join(dir, 'outbox.db'), secret: 'metrics-secret-0123456789', endpoints: [rx.url], backoff: { initialMs: 30, maxMs: 60 } });
  dispatcher.start();
  metrics = createMetrics();
  metrics.observe({ registry, engine, webhooks: dispatcher });
  app = new Hono<AppEnv>();
  app.onError(onError);
  app.route('/', metricsRoutes({ metrics, apiKey: API_KEY }));
});
after(async () => {
  metrics.close();
  dispatcher.close();
  await rx.close();
  await registry.close();
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

it('/metrics needs the API key unless public, and serves the Prometheus text format', async () => {
  assert.equal((await scrape(false)).status, 401);
  const res = await scrape();
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const { types } = parsePromText(await res.text());
  for (const [name, type] of Object.entries({
    stagecast_rooms: 'gauge',
    stagecast_participants: 'gauge',
    stagecast_audience: 'gauge',
    stagecast_publishers: 'gauge',
    stagecast_subscribers: 'gauge',
    stagecast_forwarded_packets_total: 'counter',
    stagecast_forwarded_bytes_total: 'counter',
    stagecast_hls_parts_total: 'counter',
    stagecast_hls_segments_total: 'counter',
    stagecast_storage_upload_seconds: 'histogram',
    stagecast_webhook_queue_depth: 'gauge',
    stagecast_webhook_attempt_failures_total: 'counter',
    stagecast_ffmpeg_restarts_total: 'counter',
    stagecast_engine_errors_total: 'counter',
    stagecast_process_cpu_seconds_total: 'counter',
  })) {
    assert.equal(types.get(name.replace(/_total$/, '')) ?? types.get(name), type, name);
  }
  const open = new Hono<AppEnv>().route('/', metricsRoutes({ metrics, apiKey: API_KEY, public: true }));
  assert.equal((await open.request('/metrics')).status, 200);
});

it('rooms and participants follow the registry; webhook queue depth and failures follow the dispatcher', async () => {
  const a = await registry.create('m-a');
  await registry.create('m-b');
  a.join({ identity: 'alice', role: 'presenter', transport: 'signaling' });
  a.join({ identity: 'obs', role: 'presenter', transport: 'whip' });
  dispatcher.enqueue('room.started', 'm-a', {});
  dispatcher.enqueue('room.started', 'm-b', {});
  const end = Date.now() + 3000;
  while (dispatcher.stats().attemptFailures < 4 && Date.now() < end) await sleep(20);
  let { samples } = parsePromText(await (await scrape()).text());
  assert.equal(sumOf(samples, 'stagecast_rooms'), 2);
  assert.equal(sumOf(samples, 'stagecast_participants', { transport: 'signaling' }), 1);
  assert.equal(sumOf(samples, 'stagecast_participants', { transport: 'whip' }), 1);
  assert.equal(sumOf(samples, 'stagecast_audience', { role: 'presenter' }), 2, 'by role, every transport');
  assert.equal(sumOf(samples, 'stagecast_audience', { role: 'viewer' }), 0);
  assert.equal(sumOf(samples, 'stagecast_webhook_queue_depth'), 2);
  assert.ok(sumOf(samples, 'stagecast_webhook_attempt_failures_total') >= 4);
  assert.equal(sumOf(samples, 'stagecast_publishers'), 0);
  rx.respond = () => 200;
  while (dispatcher.stats().queueDepth > 0 && Date.now() < end + 3000) await sleep(20);
  await registry.delete('m-b');
  ({ samples } = parsePromText(await (await scrape()).text()));
  assert.equal(sumOf(samples, 'stagecast_rooms'), 1);
  assert.equal(sumOf(samples, 'stagecast_webhook_queue_depth'), 0);
  assert.equal(sumOf(samples, 'stagecast_webhook_delivered_total'), 2);
});

it('instrumentStorage times puts and deletes by object kind and result', async () => {
  const storage = metrics.instrumentStorage(new DiskStorage({ rootDir: join(dir, 'hls') }));
  await storage.put('r/720p/seg-abc-1.m4s', new Uint8Array(1000), 'video/iso.segment', 'max-age=60');
  await storage.put('r/720p/index.m3u8', Buffer.from('#EXTM3U\n'), 'application/vnd.apple.mpegurl', 'no-cache');
  await storage.delete('r/720p/seg-abc-1.m4s');
  await assert.rejects(storage.put('../escape', new Uint8Array(1), 'x', 'y'));
  assert.equal((await storage.get('r/720p/index.m3u8'))?.body.toString(), '#EXTM3U\n');
  await storage.close();
  const { samples } = parsePromText(await (await scrape()).text());
  assert.equal(sumOf(samples, 'stagecast_storage_upload_seconds_count', { op: 'put', kind: 'segment', result: 'ok' }), 1);
  assert.equal(sumOf(samples, 'stagecast_storage_upload_seconds_count', { op: 'put', kind: 'playlist', result: 'ok' }), 1);
  assert.equal(sumOf(samples, 'stagecast_storage_upload_seconds_count', { op: 'delete', kind: 'segment', result: 'ok' }), 1);
  assert.equal(sumOf(samples, 'stagecast_storage_upload_seconds_count', { op: 'put', result: 'error' }), 1);
});
