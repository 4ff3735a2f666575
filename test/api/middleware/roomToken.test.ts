import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { roomToken } from '../../../services/api/middleware/roomToken/index.ts';
import { TokenService } from '../../../services/auth/tokens.ts';
import { errorOf, testApp } from './harness.ts';

const tokens = new TokenService({ secret: 'z'.repeat(40), ttlSeconds: 60 });
const app = testApp().post('/whip/:room', roomToken(tokens), (c) => c.json(c.get('claims')));
const post = (room: string, token?: string) =>
  app.request(`/whip/${room}`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('roomToken middleware', () => {
  it('puts verified claims in c.var.claims', async () => {
    const { token } = await tokens.issue('r1', 'alice', 'presenter');
    const res = await post('r1', token);
    assert.equal(res.status, 200);
    const claims = (await res.json()) as { identity: string; role: string };
    assert.equal(claims.identity, 'alice');
    assert.equal(claims.role, 'presenter');
  });

  it('401 for missing, malformed, expired and forged tokens', async () => {
    const expired = await tokens.issue('r1', 'a', 'presenter', Date.now() - 3_600_000);
    const forged = await new TokenService({ secret: 'q'.repeat(40), ttlSeconds: 60 }).issue('r1', 'a', 'presenter');
    for (const [token, message] of [[undefined, 'missing token'], ['nope', 'token malformed'], [expired.token, 'token expired'], [forged.token, 'token signature invalid']] as const) {
      assert.deepEqual(await errorOf(await post('r1', token)), { status: 401, code: 'unauthorized', message });
    }
  });

  it('403 for a token of another room', async () => {
    const { token } = await tokens.issue('r2', 'alice', 'presenter');
    assert.equal((await errorOf(await post('r1', token))).code, 'forbidden');
  });
});
