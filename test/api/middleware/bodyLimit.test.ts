import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodyLimit } from '../../../services/api/middleware/bodyLimit/index.ts';
import { errorOf, testApp } from './harness.ts';

const app = testApp()
  .use('*', bodyLimit(1024))
  .post('/x', async (c) => c.text(String((await c.req.text()).length)))
  .get('/x', async (c) => c.text(String((await c.req.text()).length)));

describe('bodyLimit middleware', () => {
  it('accepts a body within the limit', async () => {
    const res = await app.request('/x', { method: 'POST', body: 'a'.repeat(1024) });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '1024');
  });

  it('rejects a declared oversized body with 413 payload_too_large', async () => {
    const res = await app.request('/x', { method: 'POST', body: 'a'.repeat(1025) });
    const err = await errorOf(res);
    assert.equal(err.status, 413);
    assert.equal(err.code, 'payload_too_large');
  });

  it('lets a plain GET through', async () => {
    const res = await app.request('/x');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '0');
  });

  it('rejects an oversized chunked body discovered while reading', async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(512));
        controller.close();
      },
    });
    const res = await app.request('/x', {
      method: 'POST',
      body: stream,
      headers: { 'transfer-encoding': 'chunked' },
      duplex: 'half',
    } as RequestInit);
    assert.equal((await errorOf(res)).code, 'payload_too_large');
  });
});
