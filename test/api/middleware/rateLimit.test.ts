import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rateLimit } from '../../../services/api/middleware/rateLimit/index.ts';
import { errorOf, testApp } from './harness.ts';

/** What @hono/node-server hands a request: the Node request, whose socket names the peer. */
const from = (ip: string) => ({ incoming: { socket: { remoteAddress: ip } } });

describe('rateLimit middleware', () => {
  it('lets a burst through per IP, then 429 rate_limited with Retry-After', async () => {
    const limit = rateLimit({ perMinute: 6, burst: 3 });
    const app = testApp().post('/a', limit, (c) => c.text('ok')).post('/b', limit, (c) => c.text('ok'));
    // Routes that share the middleware share the budget.
    for (const path of ['/a', '/b', '/a']) assert.equal((await app.request(path, { method: 'POST' }, from('10.0.0.1'))).status, 200);
    const refused = await app.request('/b', { method: 'POST' }, from('10.0.0.1'));
    const retryAfter = refused.headers.get('retry-after');
    assert.deepEqual(await errorOf(refused), { status: 429, code: 'rate_limited', message: 'too many requests from this address; retry later' });
    // 6 per minute: the next token is 10 s away.
    assert.ok(retryAfter !== null && /^\d+$/.test(retryAfter) && Number(retryAfter) >= 9 && Number(retryAfter) <= 10, `Retry-After: ${retryAfter}`);
    // Another address has its own bucket.
    assert.equal((await app.request('/a', { method: 'POST' }, from('10.0.0.2'))).status, 200);
  });

  it('refuses before the handler runs', async () => {
    let handled = 0;
    const app = testApp().post('/a', rateLimit({ perMinute: 1, burst: 1 }), (c) => {
      handled++;
      return c.text('ok');
    });
    await app.request('/a', { method: 'POST' }, from('10.0.0.3'));
    assert.equal((await app.request('/a', { method: 'POST' }, from('10.0.0.3'))).status, 429);
    assert.equal(handled, 1);
  });
});
