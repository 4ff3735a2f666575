/**
 * Who may call what, route by route: the app as main.ts assembles it (assembledApp.ts), walked
 * along the API document. Without credentials, a route documented with a security scheme
 * answers 401 `unauthorized` and a public one answers anything else; with the API key, API-key routes get past authentication and room-token routes
 * still do not. A mount-order change that opens or closes a route fails here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hono } from 'hono';
import { PUBLIC_API_ROUTES } from '../../services/api/app.ts';
import { toOpenApiPath } from '../../services/api/openapi/index.ts';
import { blockBody, kickBody, muteBody } from '../../services/api/routes/moderation.ts';
import { createRoomBody, createTokenBody } from '../../services/api/routes/rooms.ts';
import type { AppEnv } from '../../services/api/types.ts';
import { assembledApp, type AssembledApp } from './assembledApp.ts';

const API_KEY = 'route_auth_test_key_0123456789';

type Operation = { method: string; path: string; security: Record<string, string[]>[] };

/** A request path for a documented path: every parameter filled in. */
const concrete = (path: string) => path.replace('{path}', 'x.js').replace(/\{[^}]+\}/g, 'x');

describe('route authentication', () => {
  let assembled: AssembledApp;
  let app: Hono<AppEnv>;
  let operations: Operation[];

  async function call(method: string, path: string, authorization?: string, on = app) {
    const res = await on.request(path, {
      method,
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      ...(method === 'POST' ? { body: '{}' } : {}),
    });
    const text = await res.text();
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      // Not JSON: a page, a playlist, an SDP answer.
    }
    return { status: res.status, code };
  }

  before(async () => {
    assembled = await assembledApp({
      apiKey: API_KEY,
      schemas: { createRoomBody, createTokenBody, muteBody, kickBody, blockBody },
      portRange: [48000, 48999],
    });
    app = assembled.app;
    const paths = assembled.document.paths as Record<string, Record<string, { security: Operation['security'] }>>;
    operations = Object.entries(paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, security: op.security })));
  });
  after(() => assembled.close());

  it('serves exactly the documented routes, so the walk below reaches every one', () => {
    const documented = new Set(operations.map((op) => `${op.method} ${op.path}`));
    const served = new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${toOpenApiPath(r.path)}`));
    assert.deepEqual([...served].filter((s) => !documented.has(s)), [], 'served but not documented');
    assert.deepEqual([...documented].filter((d) => !served.has(d)), [], 'documented but not served');
    assert.ok(operations.length >= 40, `operations: ${operations.length}`);
  });

  it('without credentials: 401 unauthorized on every route with a security scheme, never on a public one', async () => {
    const wrong: string[] = [];
    for (const op of operations) {
      const { status, code } = await call(op.method, concrete(op.path));
      const isProtected = op.security.length > 0;
      if (isProtected && (status !== 401 || code !== 'unauthorized')) wrong.push(`${op.method} ${op.path}: ${status} ${code}, expected 401 unauthorized`);
      if (!isProtected && status === 401) wrong.push(`${op.method} ${op.path}: 401, but it is public`);
    }
    assert.deepEqual(wrong, []);
  });

  it('the public routes under /api are PUBLIC_API_ROUTES, and only those', () => {
    const publicUnderApi = operations.filter((op) => op.path.startsWith('/api/') && op.security.length === 0);
    assert.deepEqual(
      publicUnderApi.map((op) => `${op.method} ${op.path}`),
      PUBLIC_API_ROUTES.map((r) => `${r.method} ${toOpenApiPath(r.path)}`),
    );
  });

  it('with the API key: API-key routes get past authentication, room-token routes do not', async () => {
    const wrong: string[] = [];
    for (const op of operations) {
      const scheme = Object.keys(op.security[0] ?? {})[0];
      if (!scheme) continue;
      const { status, code } = await call(op.method, concrete(op.path), `Bearer ${API_KEY}`);
      if (scheme === 'apiKey' && status === 401) wrong.push(`${op.method} ${op.path}: 401 with the API key`);
      if (scheme === 'roomToken' && (status !== 401 || code !== 'unauthorized')) wrong.push(`${op.method} ${op.path}: ${status} with the API key instead of a room token`);
    }
    assert.deepEqual(wrong, []);
  });

  it('anything else under /api needs the API key: unknown paths, other methods, near misses of a public path', async () => {
    const requests: [string, string][] = [
      ['GET', '/api'],
      ['GET', '/api/'],
      ['GET', '/api/nope'],
      ['GET', '/api//rooms'],
      ['POST', '/api/openapi.json'],
      ['OPTIONS', '/api/openapi.json'],
      ['GET', '/api/openapi.json/'],
      ['OPTIONS', '/api/rooms'],
      ['DELETE', '/api/stats'],
    ];
    for (const [method, path] of requests) {
      assert.deepEqual(await call(method, path), { status: 401, code: 'unauthorized' }, `${method} ${path}`);
    }
    // HEAD is answered by the GET handler: public where GET is.
    assert.equal((await call('HEAD', '/api/openapi.json')).status, 200);
  });

  it('/metrics takes the API key unless metricsPublic', async () => {
    assert.deepEqual(await call('GET', '/metrics'), { status: 401, code: 'unauthorized' });
    assert.equal((await call('GET', '/metrics', `Bearer ${API_KEY}`)).status, 200);
    assert.equal((await call('GET', '/metrics', undefined, assembled.assemble({ metricsPublic: true }))).status, 200);
  });
});
