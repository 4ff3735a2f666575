/** TURN REST credentials: format, HMAC, expiry, ICE server lists from config. */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { it } from 'node:test';
import { createTurnService, turnCredential, TurnService } from '../../services/turn/TurnCredentials.ts';

it('username is expiry:identity and the credential base64(HMAC-SHA1(secret, username))', () => {
  const c = turnCredential('s3cret', 'alice', 600, 1_700_000_000);
  assert.equal(c.username, '1700000600:alice');
  assert.equal(c.expiresAt, 1_700_000_600);
  assert.equal(c.credential, createHmac('sha1', 's3cret').update('1700000600:alice').digest('base64'));
  assert.equal(turnCredential('s', 'a:b c', 1, 0).username, '1:a_b_c', 'no second colon in the username');
  assert.throws(() => turnCredential('', 'a', 1), TypeError);
  assert.throws(() => turnCredential('s', 'a', 0), TypeError);
});

it('ICE servers: TURN URLs with a fresh credential, STUN URLs without; nothing when unconfigured', () => {
  const turn = createTurnService({ TURN_URLS: 'turn:t.example:3478?transport=udp, turns:t.example:5349?transport=tcp,stun:t.example:3478', TURN_SECRET: 'x', TURN_TTL_SECONDS: 120 });
  const servers = turn.iceServers('bob', undefined, 1000);
  assert.deepEqual(servers[0], { urls: ['stun:t.example:3478'] });
  assert.deepEqual(servers[1]!.urls, ['turn:t.example:3478?transport=udp', 'turns:t.example:5349?transport=tcp']);
  assert.equal(servers[1]!.username, '1120:bob');
  assert.deepEqual(createTurnService({}).iceServers('x'), []);
  assert.equal(createTurnService({}).enabled, false);
  assert.throws(() => new TurnService({ urls: ['http://x'], secret: 'x' }), TypeError);
  assert.throws(() => new TurnService({ urls: ['turn:x'], secret: '' }), /secret/);
});
