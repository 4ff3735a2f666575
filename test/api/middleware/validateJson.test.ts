import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { validateJson } from '../../../services/api/middleware/validateJson/index.ts';
import { errorOf, testApp } from './harness.ts';

const schema = z.object({ name: z.string().min(1), count: z.number().int().optional() }).strict();
let handlerRuns = 0;
const app = testApp().post('/x', validateJson(schema), (c) => {
  handlerRuns++;
  return c.json(c.get('json'));
});
const post = (body: string, type = 'application/json') => app.request('/x', { method: 'POST', body, headers: { 'content-type': type } });

describe('validateJson middleware', () => {
  it('passes the parsed, typed body to the handler', async () => {
    const res = await post('{"name":"a","count":2}');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { name: 'a', count: 2 });
  });

  it('rejects before the handler runs, naming the field', async () => {
    const before = handlerRuns;
    for (const [body, field] of [['{"name":""}', 'name'], ['{"name":"a","count":1.5}', 'count'], ['{"name":"a","extra":1}', 'body'], ['[]', 'body']] as const) {
      const err = await errorOf(await post(body));
      assert.equal(err.status, 400);
      assert.equal(err.code, 'bad_request');
      assert.match(err.message, new RegExp(`invalid ${field}`));
    }
    assert.equal(handlerRuns, before);
  });

  it('rejects invalid JSON and the wrong content type', async () => {
    assert.equal((await errorOf(await post('{nope'))).code, 'bad_request');
    assert.equal((await post('{"name":"a"}', 'text/plain')).status, 415);
  });

  it('treats an empty body as {}', async () => {
    const err = await errorOf(await post(''));
    assert.match(err.message, /invalid name/);
  });
});
