/**
 * The API document (`/api/openapi.json`):
 * - in-process: the hono app assembled exactly as docs/wiring-platform.md wires it; the
 *   document passes @readme/openapi-parser's validator (OpenAPI 3.1), every route of the app
 *   (`app.routes`) appears in it with its method, and its request bodies are the JSON Schema
 *   of the very zod objects the routes validate with;
 * - whole system (after the wiring): the running service serves it without the API key.
 *
 * Run: node scripts/test.mjs test/e2e/openapi.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compileErrors, validate } from '@readme/openapi-parser';
import type { Hono } from 'hono';
import { z } from 'zod';
import { toOpenApiPath, type RequestSchemas } from '../../services/api/openapi/index.ts';
import * as moderationModule from '../../services/api/routes/moderation.ts';
import * as roomsModule from '../../services/api/routes/rooms.ts';
import { createWebhookBody } from '../../services/api/routes/webhooks.ts';
import type { AppEnv } from '../../services/api/types.ts';
import { startService, type RunningService } from '../support/service.ts';
import { assembledApp, type AssembledApp } from '../api/assembledApp.ts';

/** The route files' request schemas; rooms.ts and moderation.ts must export them (docs/wiring-platform.md). */
function requestSchemas(): RequestSchemas {
  const found: Record<string, unknown> = { ...(roomsModule as object), ...(moderationModule as object) };
  const names = ['createRoomBody', 'createTokenBody', 'muteBody', 'kickBody', 'blockBody'] as const;
  const missing = names.filter((n) => !(found[n] instanceof z.ZodType));
  assert.deepEqual(missing, [], `export these schemas from services/api/routes/{rooms,moderation}.ts: ${missing.join(', ')}`);
  return Object.fromEntries(names.map((n) => [n, found[n]])) as unknown as RequestSchemas;
}

describe('API document, in-process', () => {
  let assembled: AssembledApp;
  let app: Hono<AppEnv>;
  let schemas: RequestSchemas;
  let document: Record<string, unknown>;

  before(async () => {
    schemas = requestSchemas();
    // As app.ts + main.ts wire it (docs/wiring-platform.md).
    assembled = await assembledApp({ apiKey: 'openapi_test_key_0123456789', schemas, portRange: [45000, 45999] });
    ({ app, document } = assembled);
  });
  after(() => assembled.close());

  it('passes the OpenAPI validator', async () => {
    const result = await validate(structuredClone(document) as never);
    assert.ok(result.valid, compileErrors(result));
    assert.equal((document as { openapi: string }).openapi, '3.1.0');
  });

  it("documents every route of the app, with its method, and nothing that doesn't exist", () => {
    const paths = document.paths as Record<string, Record<string, unknown>>;
    const served = new Set<string>();
    for (const route of app.routes) {
      if (route.method === 'ALL') continue; // middleware
      const path = toOpenApiPath(route.path);
      const method = route.method.toLowerCase();
      served.add(`${method} ${path}`);
      assert.ok(paths[path]?.[method], `${route.method} ${route.path} is not in the document`);
    }
    const documented = Object.entries(paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    assert.deepEqual(documented.filter((d) => !served.has(d)), [], 'documented but not served');
    assert.ok(served.size >= 40, `routes: ${served.size}`);
  });

  it('request bodies are the JSON Schema of the zod objects the routes validate with', () => {
    const paths = document.paths as Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } }>>;
    const body = (p: string, m: string) => paths[p]![m]!.requestBody!.content['application/json']!.schema;
    const expected = (s: z.ZodType) => {
      const { $schema: _s, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
      return rest;
    };
    assert.deepEqual(body('/api/rooms', 'post'), expected(schemas.createRoomBody));
    assert.deepEqual(body('/api/rooms/{id}/tokens', 'post'), expected(schemas.createTokenBody));
    assert.deepEqual(body('/api/rooms/{id}/blocks', 'post'), expected(schemas.blockBody));
    assert.deepEqual(body('/api/webhooks', 'post'), expected(createWebhookBody));
    assert.equal((body('/api/rooms/{id}/tokens', 'post') as { additionalProperties?: boolean }).additionalProperties, false, 'strict objects');
    const sdp = paths['/whip/{room}']!.post!.requestBody!.content['application/sdp'];
    assert.ok(sdp);
    const deliveries = paths['/api/webhooks/deliveries']!.get as unknown as { parameters: { name: string; in: string }[] };
    assert.deepEqual(deliveries.parameters.map((p) => `${p.in}:${p.name}`), ['query:room', 'query:status', 'query:event', 'query:limit']);
  });
});

describe('API document, whole system (passes once wired)', () => {
  let service: RunningService;
  before(async () => {
    service = await startService({ LOG_LEVEL: 'warn' });
  });
  after(async () => {
    await service?.stop();
  });

  it('GET /api/openapi.json without the API key: 200, a valid document listing the webhook and metrics routes', async () => {
    const res = await fetch(`${service.url}/api/openapi.json`);
    assert.equal(res.status, 200, 'served, and public');
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const doc = (await res.json()) as { paths: Record<string, unknown> };
    const result = await validate(doc as never);
    assert.ok(result.valid, compileErrors(result));
    for (const p of ['/api/webhooks', '/api/webhooks/deliveries', '/metrics', '/api/rooms', '/whip/{room}']) assert.ok(doc.paths[p], p);
  });
});
