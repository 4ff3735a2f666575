import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { whipCors } from '../../../services/api/middleware/cors/index.ts';
import { ServiceError } from '../../../services/core/errors.ts';
import { testApp } from './harness.ts';

const app = testApp()
  .use('*', whipCors())
  .post('/whip/r', (c) => c.text('answer', 201))
  .delete('/whip/r/denied', () => {
    throw new ServiceError('unauthorized', 'no token');
  });

/** A comma-separated header as its items. */
const list = (res: Response, name: string) => res.headers.get(name)?.split(',').map((item) => item.trim());

const EXPOSED = ['Location', 'ETag', 'Link', 'Accept-Post', 'x-request-id'];

describe('whipCors middleware', () => {
  it('answers a preflight with 204, methods, headers and Accept-Post', async () => {
    const res = await app.request('/whip/r', { method: 'OPTIONS' });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /DELETE/);
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /Authorization/);
    assert.equal(res.headers.get('accept-post'), 'application/sdp');
  });

  it('preflight: exactly these methods, request headers, exposed headers and max-age, whatever the origin asks', async () => {
    const res = await app.request('/whip/r', {
      method: 'OPTIONS',
      headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, x-custom' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.deepEqual(list(res, 'access-control-allow-methods'), ['POST', 'DELETE', 'PATCH', 'OPTIONS']);
    assert.deepEqual(list(res, 'access-control-allow-headers'), ['Authorization', 'Content-Type', 'If-Match', 'x-request-id']);
    assert.deepEqual(list(res, 'access-control-expose-headers'), EXPOSED);
    assert.equal(res.headers.get('access-control-max-age'), '600');
    assert.equal(res.headers.get('access-control-allow-credentials'), null, 'Bearer tokens, not cookies');
    assert.equal(res.headers.get('content-type'), null);
    assert.equal(await res.text(), '');
  });

  it('exposes Location on real responses', async () => {
    const res = await app.request('/whip/r', { method: 'POST' });
    assert.equal(res.status, 201);
    assert.match(res.headers.get('access-control-expose-headers') ?? '', /Location/);
  });

  it('real responses, errors included: any origin, the exposed headers, no preflight headers', async () => {
    for (const [method, path, status] of [['POST', '/whip/r', 201], ['DELETE', '/whip/r/denied', 401]] as const) {
      const res = await app.request(path, { method, headers: { origin: 'https://elsewhere.example' } });
      assert.equal(res.status, status);
      assert.equal(res.headers.get('access-control-allow-origin'), '*', `${method} ${path}`);
      assert.deepEqual(list(res, 'access-control-expose-headers'), EXPOSED, `${method} ${path}`);
      assert.equal(res.headers.get('access-control-allow-methods'), null, `${method} ${path}`);
      assert.equal(res.headers.get('accept-post'), null, `${method} ${path}`);
    }
  });
});
