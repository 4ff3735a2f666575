import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestId } from '../../../services/api/middleware/requestId/index.ts';
import { ServiceError } from '../../../services/core/errors.ts';
import { testApp } from './harness.ts';

const app = testApp()
  .use('*', requestId())
  .get('/id', (c) => c.text(c.get('requestId')))
  .get('/fail', () => {
    throw new ServiceError('not_found', 'nope');
  });

describe('requestId middleware', () => {
  it('generates an id, exposes it to handlers and sets x-request-id', async () => {
    const res = await app.request('/id');
    const id = res.headers.get('x-request-id');
    assert.match(id ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(await res.text(), id);
  });

  it('keeps a sane caller id and replaces an unsafe one', async () => {
    assert.equal((await app.request('/id', { headers: { 'x-request-id': 'abc-123' } })).headers.get('x-request-id'), 'abc-123');
    const res = await app.request('/id', { headers: { 'x-request-id': 'bad id\twith spaces' } });
    assert.notEqual(res.headers.get('x-request-id'), 'bad id\twith spaces');
  });

  it('sets the header on error responses too', async () => {
    const res = await app.request('/fail', { headers: { 'x-request-id': 'err-1' } });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-request-id'), 'err-1');
  });
});
