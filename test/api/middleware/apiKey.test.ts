import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiKeyAuth } from '../../../services/api/middleware/apiKey/index.ts';
import { errorOf, testApp } from './harness.ts';

const KEY = 'test_key_0123456789abcdef';
const app = testApp().use('*', apiKeyAuth(KEY)).get('/x', (c) => c.text('ok'));

describe('apiKeyAuth middleware', () => {
  it('lets the right key through', async () => {
    const res = await app.request('/x', { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(res.status, 200);
  });

  it('rejects a missing, wrong, truncated or non-Bearer key with 401 unauthorized', async () => {
    for (const header of [undefined, `Bearer ${KEY}x`, `Bearer ${KEY.slice(0, -1)}`, `Basic ${KEY}`, 'Bearer ']) {
      const res = await app.request('/x', { headers: header ? { authorization: header } : {} });
      const err = await errorOf(res);
      assert.equal(err.status, 401);
      assert.equal(err.code, 'unauthorized');
      assert.ok(!err.message.includes(KEY), 'never echoes the key');
    }
  });
});
