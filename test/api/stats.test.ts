import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hono } from 'hono';
import { EmbeddedEngine } from '../../services/engine/embedded/EmbeddedEngine.ts';
import { apiKeyAuth } from '../../services/api/middleware/apiKey/index.ts';
import { onError } from '../../services/api/middleware/errorHandler/index.ts';
import { statsRoutes } from '../../services/api/routes/stats.ts';

test('GET /api/stats returns the engine counters behind the API key', async () => {
  const engine = new EmbeddedEngine({ listenIp: '127.0.0.1', portRange: [43000, 43999] });
  await engine.createRoom('r');
  // Mounted behind the API key as app.ts mounts every /api route.
  const app = new Hono().onError(onError).use('/api/*', apiKeyAuth('k'.repeat(20))).route('/api', statsRoutes({ engineStats: () => engine.stats() }));
  const denied = await app.request('/api/stats');
  assert.equal(denied.status, 401);
  const res = await app.request('/api/stats', { headers: { authorization: `Bearer ${'k'.repeat(20)}` } });
  assert.equal(res.status, 200);
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(body.kind, 'embedded');
  assert.equal(body.rooms, 1);
  assert.equal(body.packetsForwarded, 0);
  assert.equal(typeof body.cpuMicros, 'number');
  await engine.close();
});
