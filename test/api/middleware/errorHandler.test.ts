import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HTTPException } from 'hono/http-exception';
import { pino } from 'pino';
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
  })
  .post('/refuse', () => {
    throw new ServiceError('bad_request', 'wrong content type', 415);
  })
  .post('/read-then-refuse', async (c) => {
    await c.req.text();
    throw new ServiceError('conflict', 'room exists');
  })
  .post('/too-large', () => {
    throw new ServiceError('payload_too_large', 'too large');
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

  it('closes the connection after refusing a request whose body it did not read', async () => {
    // As Node hands them over: a body comes with its Content-Length.
    const post = (path: string, body?: string) =>
      app.request(path, { method: 'POST', ...(body !== undefined ? { body, headers: { 'content-length': String(Buffer.byteLength(body)) } } : {}) });
    assert.equal((await post('/refuse', 'v=0')).headers.get('connection'), 'close');
    assert.equal((await post('/too-large', 'x')).headers.get('connection'), 'close');
    assert.equal((await post('/too-large')).headers.get('connection'), 'close', 'a 413 always closes');
    // Body read, or none sent: the connection stays usable.
    assert.equal((await post('/read-then-refuse', '{}')).headers.get('connection'), null);
    assert.equal((await post('/refuse')).headers.get('connection'), null);
    assert.equal((await app.request('/service')).headers.get('connection'), null);
    assert.equal((await post('/nowhere', 'x')).headers.get('connection'), 'close', 'a 404 too');
  });

  it('logs a known 5xx (ServiceError) as a warning with its code; an unknown error as an error with its stack', async () => {
    const lines: { level: number; msg: string; code?: string; err?: unknown }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const logged = testApp()
      .use(async (c, next) => {
        c.set('log', log);
        await next();
      })
      .get('/unavailable', () => {
        throw new ServiceError('unavailable', "the room's node did not answer; try again");
      })
      .get('/bug', () => {
        throw new Error('boom');
      });
    assert.equal((await logged.request('/unavailable')).status, 503);
    assert.equal((await logged.request('/bug')).status, 500);
    assert.equal(lines.length, 2);
    const [known, bug] = lines;
    assert.equal(known!.level, 40, 'warn');
    assert.equal(known!.code, 'unavailable');
    assert.equal(known!.err, "the room's node did not answer; try again");
    assert.equal(bug!.level, 50, 'error');
    assert.match(JSON.stringify(bug!.err), /"stack":".*boom/);
  });

  it('answers unknown routes with 404 not_found', async () => {
    assert.equal((await errorOf(await app.request('/nothing'))).code, 'not_found');
  });
});
