import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { whipCors } from '../../../services/api/middleware/cors/index.ts';
import { testApp } from './harness.ts';

const app = testApp().use('*', whipCors()).post('/whip/r', (c) => c.text('answer', 201));

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

  it('exposes Location on real responses', async () => {
    const res = await app.request('/whip/r', { method: 'POST' });
    assert.equal(res.status, 201);
    assert.match(res.headers.get('access-control-expose-headers') ?? '', /Location/);
  });
});
