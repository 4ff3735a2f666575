import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HTTPException } from 'hono/http-exception';
import { InvalidSdpError, ServiceError } from '../../../services/core/errors.ts';
import { errorOf, testApp } from './harness.ts';

const app = testApp()
  .get('/service', () => {
    throw new ServiceError('conflict', 'room exists');
  })
  .get('/sdp', () => {
    throw new InvalidSdpError('no m= line');
  })
  .get('/bug', () => {
    throw new Error('secret /home/app/services/x.ts:12 at Object.<anonymous>');
  })
  .get('/hono', () => {
    throw new HTTPException(400, { message: 'malformed' });
  });

describe('errorHandler (onError, notFound)', () => {
  it('maps ServiceError to its status and { error: { code, message } }', async () => {
    assert.deepEqual(await errorOf(await app.request('/service')), { status: 409, code: 'conflict', message: 'room exists' });
    assert.deepEqual(await errorOf(await app.request('/sdp')), { status: 400, code: 'invalid_sdp', message: 'no m= line' });
  });

  it('turns unknown errors into 500 internal without details', async () => {
    const res = await app.request('/bug');
    const text = await res.text();
    assert.equal(res.status, 500);
    assert.deepEqual(JSON.parse(text), { error: { code: 'internal', message: 'internal error' } });
    assert.ok(!text.includes('secret') && !text.includes(' at '));
  });

  it("maps hono's own 4xx to bad_request", async () => {
    assert.deepEqual(await errorOf(await app.request('/hono')), { status: 400, code: 'bad_request', message: 'bad request' });
  });

  it('answers unknown routes with 404 not_found', async () => {
    assert.equal((await errorOf(await app.request('/nothing'))).code, 'not_found');
  });
});
