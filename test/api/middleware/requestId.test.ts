import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestId } from '../../../services/api/middleware/requestId/index.ts';
import { ServiceError } from '../../../services/core/errors.ts';
import { logger } from '../../../services/core/logger.ts';
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

describe('requestId middleware: request log levels', () => {
  /** A child logger that records its `request` lines, at the level it is set to. */
  function recordingLogger(level: 'info' | 'debug') {
    const lines: { level: string; status: number }[] = [];
    const order = ['debug', 'info', 'warn', 'error'];
    const at = (l: string) => (o: { status: number }, msg?: string) => {
      if (msg === 'request') lines.push({ level: l, status: o.status });
    };
    const log = { isLevelEnabled: (l: string) => order.indexOf(l) >= order.indexOf(level), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    return { log, lines };
  }

  const levelsApp = testApp()
    .use('*', requestId())
    .get('/ok', (c) => c.text('ok'))
    .get('/missing', () => {
      throw new ServiceError('not_found', 'nope');
    })
    .get('/broken', () => {
      throw new Error('boom');
    });

  it('logs successes and 4xx at debug, and 5xx at error', async (t) => {
    const { log, lines } = recordingLogger('debug');
    t.mock.method(logger, 'child', () => log);
    for (const path of ['/ok', '/missing', '/broken']) await levelsApp.request(path);
    assert.deepEqual(lines, [
      { level: 'debug', status: 200 },
      { level: 'debug', status: 404 },
      { level: 'error', status: 500 },
    ]);
  });

  it('logs nothing for a success at the default level (info), and still logs a 5xx', async (t) => {
    const { log, lines } = recordingLogger('info');
    t.mock.method(logger, 'child', () => log);
    for (let i = 0; i < 100; i++) await levelsApp.request('/ok');
    await levelsApp.request('/broken');
    assert.deepEqual(lines, [{ level: 'error', status: 500 }]);
  });
});
