import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { SignJWT } from 'jose';
import type WebSocket from 'ws';
import { describeEngines } from '../support/engines.ts';
import { startService, type RunningService } from '../support/service.ts';
import { connectClient, tryConnect as tryConnectWs, type Msg } from '../support/wsClient.ts';

/**
 * Hostile and malformed input against the real service (spawned): every refusal has a stable
 * code, nothing leaks (stack frames, secrets), and the service stays healthy throughout.
 */

const OFFER_NO_MEDIA = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';
const STACK_FRAME = /\n\s*at \S|\bat [\w.<>]+ \(|\bfile:\/\/|node:internal|\/work\//;

describeEngines('bad input', (engine) => {
  let svc: RunningService;
  let presenter: string;
  let viewer: string;
  let otherRoomToken: string;
  /** Every response body and WebSocket frame seen, checked for leaks at the end. */
  const seen: string[] = [];
  const sockets: WebSocket[] = [];

  before(async () => {
    svc = await startService({ LOG_LEVEL: 'info' }, { engine });
    await svc.createRoom('bad');
    await svc.createRoom('other');
    presenter = await svc.token('bad', 'alice', 'presenter');
    viewer = await svc.token('bad', 'victor', 'viewer');
    otherRoomToken = await svc.token('other', 'olga', 'presenter');
  });

  after(async () => {
    for (const ws of sockets) ws.terminate();
    const code = await svc?.stop();
    assert.equal(code, 0, 'service exits 0 on SIGTERM');
  });

  async function record(res: Response): Promise<{ status: number; body: string; json: () => { error: { code: string; message: string } } }> {
    const body = await res.text();
    seen.push(body);
    return { status: res.status, body, json: () => JSON.parse(body) };
  }

  async function expectError(res: Response, status: number, code: string): Promise<string> {
    const r = await record(res);
    assert.equal(r.status, status, r.body);
    const { error } = r.json();
    assert.equal(error.code, code, r.body);
    assert.equal(typeof error.message, 'string');
    return error.message;
  }

  const whip = (path: string, token: string | undefined, body: string, type = 'application/sdp', method = 'POST') =>
    fetch(`${svc.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': type },
      ...(method === 'POST' || method === 'PATCH' ? { body } : {}),
    });

  async function signed(claims: Record<string, unknown>, secret = svc.jwtSecret): Promise<string> {
    return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));
  }
  async function expiredToken(room = 'bad'): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return signed({ sub: 'late', room, role: 'presenter', iat: now - 7200, exp: now - 3600, jti: 'expired-1' });
  }

  /** Sockets are terminated in `after`; refusal bodies and frames are checked for leaks. */
  const wsOpts = { sockets, record: (text: string) => seen.push(text) };
  const tryConnect = (query: string) => tryConnectWs(svc.url, query, wsOpts);
  /** A joined-or-not client with an inbox. */
  const client = (token: string) => connectClient(svc.url, token, wsOpts);
  const reply = (re: string) => (m: Msg) => m.re === re;

  // ---- WHIP / WHEP ---------------------------------------------------------------------------

  it('WHIP: malformed and empty SDP are 400 invalid_sdp', async () => {
    await expectError(await whip('/whip/bad', presenter, 'hello'), 400, 'invalid_sdp');
    await expectError(await whip('/whip/bad', presenter, ''), 400, 'invalid_sdp');
    await expectError(await whip('/whip/bad', presenter, OFFER_NO_MEDIA), 400, 'invalid_sdp');
    // Plausible shape, but unusable for the engine: still 400 invalid_sdp, not a 500.
    await expectError(await whip('/whip/bad', presenter, `${OFFER_NO_MEDIA}m=video 9 UDP/TLS/RTP/SAVPF 96\r\n`), 400, 'invalid_sdp');
  });

  it('WHIP: wrong content type is 415', async () => {
    const r = await record(await whip('/whip/bad', presenter, '{}', 'application/json'));
    assert.equal(r.status, 415);
  });

  it('WHIP: missing, malformed, forged and expired tokens are 401; another room is 403', async () => {
    assert.equal(await expectError(await whip('/whip/bad', undefined, 'v=0'), 401, 'unauthorized'), 'missing token');
    assert.equal(await expectError(await whip('/whip/bad', 'not-a-jwt', 'v=0'), 401, 'unauthorized'), 'token malformed');
    const forged = await signed({ sub: 'x', room: 'bad', role: 'presenter', iat: 1, exp: 9_999_999_999, jti: 'f' }, 'another-secret-another-secret-another');
    assert.equal(await expectError(await whip('/whip/bad', forged, 'v=0'), 401, 'unauthorized'), 'token signature invalid');
    assert.equal(await expectError(await whip('/whip/bad', await expiredToken(), 'v=0'), 401, 'unauthorized'), 'token expired');
    await expectError(await whip('/whip/bad', otherRoomToken, 'v=0'), 403, 'forbidden');
    // The API key is not a room token.
    await expectError(await whip('/whip/bad', svc.apiKey, 'v=0'), 401, 'unauthorized');
  });

  it('WHIP/WHEP: a viewer token is 403 forbidden', async () => {
    await expectError(await whip('/whip/bad', viewer, 'v=0\r\n'), 403, 'forbidden');
    await expectError(await whip('/whep/bad', viewer, 'v=0\r\n'), 403, 'forbidden');
  });

  it('WHIP: unknown room is 404, unknown session DELETE is 404 not_found, PATCH is 405 unsupported', async () => {
    const ghost = await signed({ sub: 'g', room: 'ghost', role: 'presenter', iat: Math.floor(Date.now() / 1000), exp: 9_999_999_999, jti: 'g' });
    await expectError(await whip('/whip/ghost', ghost, 'v=0'), 404, 'not_found');
    await expectError(await whip('/whip/bad/whip_doesnotexist', presenter, '', 'application/sdp', 'DELETE'), 404, 'not_found');
    await expectError(await whip('/whep/bad/whep_doesnotexist', presenter, '', 'application/sdp', 'DELETE'), 404, 'not_found');
    await expectError(await whip('/whip/bad/whip_x', presenter, 'a=candidate:1', 'application/trickle-ice-sdpfrag', 'PATCH'), 405, 'unsupported');
  });

  it('WHIP: OPTIONS answers the CORS preflight', async () => {
    const res = await fetch(`${svc.url}/whip/bad`, { method: 'OPTIONS' });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('accept-post'), 'application/sdp');
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
  });

  // ---- HTTP API ------------------------------------------------------------------------------

  it('API: wrong key 401, bad room id 400, duplicate 409, oversized body 413, unknown room 404', async () => {
    await expectError(await fetch(`${svc.url}/api/rooms`, { headers: { authorization: 'Bearer wrong-key-wrong-key' } }), 401, 'unauthorized');
    await expectError(await fetch(`${svc.url}/api/rooms`), 401, 'unauthorized');
    await expectError(await svc.api('/api/rooms', { method: 'POST', body: JSON.stringify({ id: '../etc' }) }), 400, 'bad_request');
    await expectError(await svc.api('/api/rooms', { method: 'POST', body: JSON.stringify({ id: 'x'.repeat(65) }) }), 400, 'bad_request');
    await expectError(await svc.api('/api/rooms', { method: 'POST', body: '{"id":' }), 400, 'bad_request');
    await expectError(await svc.api('/api/rooms', { method: 'POST', body: JSON.stringify({ id: 'bad' }) }), 409, 'conflict');
    await expectError(await svc.api('/api/rooms', { method: 'POST', body: JSON.stringify({ id: 'x', pad: 'y'.repeat(200_000) }) }), 413, 'payload_too_large');
    await expectError(await svc.api('/api/rooms/nope'), 404, 'not_found');
    await expectError(await svc.api('/api/rooms/bad/tokens', { method: 'POST', body: JSON.stringify({ identity: 'a', role: 'admin' }) }), 400, 'bad_request');
    await expectError(await svc.api('/api/rooms/nope/tokens', { method: 'POST', body: JSON.stringify({ identity: 'a', role: 'viewer' }) }), 404, 'not_found');
  });

  it('assets: path traversal is refused', async () => {
    for (const path of ['/assets/..%2f..%2fpackage.json', '/assets/%2e%2e/%2e%2e/package.json', '/assets/.hidden', '/assets/a%5c..%5cb', '/assets/..%252fpackage.json']) {
      const r = await record(await fetch(`${svc.url}${path}`));
      assert.ok(r.status === 400 || r.status === 404, `${path}: ${r.status}`);
      assert.ok(!r.body.includes('"name": "stagecast"'), path);
    }
  });

  // ---- WebSocket -----------------------------------------------------------------------------

  it('WS: missing, malformed and expired tokens are refused with 401; another room with 403', async () => {
    for (const [query, message] of [
      ['', 'missing token'],
      ['token=garbage', 'token malformed'],
      [`token=${await expiredToken()}`, 'token expired'],
    ] as const) {
      const r = await tryConnect(query);
      assert.ok('status' in r, `expected a refusal for ${query}`);
      assert.equal(r.status, 401);
      assert.deepEqual(JSON.parse(r.body), { error: { code: 'unauthorized', message } });
    }
    const other = await tryConnect(`room=bad&token=${otherRoomToken}`);
    assert.ok('status' in other);
    assert.equal(other.status, 403);
    assert.equal(JSON.parse(other.body).error.code, 'forbidden');
  });

  it('WS: invalid JSON, unknown type and schema-invalid messages get errors; the socket stays open', async () => {
    const c = await client(presenter);
    c.send('{not json');
    assert.equal((await c.next()).code, 'invalid_message');
    c.send({ v: 1, type: 'teleport', id: 'u1' });
    const unknown = await c.next(reply('u1'));
    assert.equal(unknown.type, 'error');
    assert.equal(unknown.code, 'unknown_type');
    c.send({ v: 1, type: 'publish', id: 's1' });
    assert.equal((await c.next(reply('s1'))).code, 'invalid_message');
    c.send({ v: 2, type: 'ping', id: 'v2' });
    assert.equal((await c.next(reply('v2'))).code, 'invalid_message');
    c.send({ v: 1, type: 'publish', id: 'early', sdp: 'v=0' });
    assert.equal((await c.next(reply('early'))).code, 'invalid_state');
    c.send({ v: 1, type: 'ping', id: 'p1' });
    const pong = await c.next(reply('p1'));
    assert.equal(pong.type, 'pong');
    c.send({ v: 1, type: 'join', id: 'j1' });
    const joined = await c.next(reply('j1'));
    assert.equal(joined.type, 'joined');
    assert.deepEqual(joined.iceServers, []);
    c.send({ v: 1, type: 'publish', id: 'bad-sdp', sdp: 'hello' });
    assert.equal((await c.next(reply('bad-sdp'))).code, 'invalid_sdp');
    c.send({ v: 1, type: 'leave', id: 'bye' });
    assert.equal((await c.next((m) => m.type === 'bye')).reason, 'client_request');
    assert.equal((await c.closed).code, 1000);
  });

  it('WS: a viewer may join but not publish (forbidden), and stays connected', async () => {
    const c = await client(viewer);
    c.send({ v: 1, type: 'join', id: 'j' });
    assert.equal((await c.next(reply('j'))).role, 'viewer');
    c.send({ v: 1, type: 'publish', id: 'pub', sdp: 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n' });
    const err = await c.next(reply('pub'));
    assert.equal(err.type, 'error');
    assert.equal(err.code, 'forbidden');
    c.send({ v: 1, type: 'ping', id: 'still' });
    assert.equal((await c.next(reply('still'))).type, 'pong');
    await c.close();
  });

  it('WS: other participants see joins and leaves', async () => {
    const a = await client(presenter);
    a.send({ v: 1, type: 'join', id: 'ja' });
    await a.next(reply('ja'));
    const b = await client(viewer);
    b.send({ v: 1, type: 'join', id: 'jb' });
    const bJoined = await b.next(reply('jb'));
    const seenJoin = await a.next((m) => m.type === 'participantJoined');
    assert.equal((seenJoin.participant as { participantId: string }).participantId, bJoined.participantId);
    b.ws.close();
    const left = await a.next((m) => m.type === 'participantLeft');
    assert.equal(left.participantId, bJoined.participantId);
    assert.equal(left.reason, 'signaling_closed');
    await a.close();
  });

  it('WS: an oversized message gets payload_too_large and close 1009', async () => {
    const c = await client(presenter);
    c.send({ v: 1, type: 'ping', id: 'big', pad: 'x'.repeat(70_000) });
    const err = await c.next();
    assert.equal(err.code, 'payload_too_large');
    assert.equal((await c.closed).code, 1009);
  });

  it('WS: a flood is rate limited, then closed with 4029', async () => {
    const c = await client(presenter);
    for (let i = 0; i < 400; i++) c.send({ v: 1, type: 'ping' });
    const limited = await c.next((m) => m.code === 'rate_limited');
    assert.equal(limited.type, 'error');
    assert.equal((await c.closed).code, 4029);
  });

  it('WS: a token that expires mid-session ends it with bye token_expired and close 4011', async () => {
    const now = Math.floor(Date.now() / 1000);
    const shortLived = await signed({ sub: 'brief', room: 'bad', role: 'presenter', iat: now, exp: now + 2, jti: 'short' });
    const c = await client(shortLived);
    c.send({ v: 1, type: 'join', id: 'j' });
    await c.next(reply('j'));
    const bye = await c.next((m) => m.type === 'bye', 5000);
    assert.equal(bye.reason, 'token_expired');
    assert.equal((await c.closed).code, 4011);
  });

  it('WS: deleting the room ends its sessions with close 4012', async () => {
    await svc.createRoom('doomed');
    const doomedToken = await svc.token('doomed', 'd', 'presenter');
    const c = await client(doomedToken);
    const notYetJoined = await client(doomedToken);
    c.send({ v: 1, type: 'join', id: 'j' });
    await c.next(reply('j'));
    const res = await svc.api('/api/rooms/doomed', { method: 'DELETE' });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    for (const socket of [c, notYetJoined]) {
      assert.equal((await socket.next((m) => m.type === 'bye')).reason, 'room_closed');
      assert.equal((await socket.closed).code, 4012);
    }
    // The room is gone: its tokens no longer open a socket.
    const refused = await tryConnect(`token=${doomedToken}`);
    assert.ok('status' in refused && refused.status === 404);
  });

  // ---- afterwards ----------------------------------------------------------------------------

  it('is still healthy, and nothing leaked', async () => {
    const res = await fetch(`${svc.url}/healthz`);
    assert.equal(res.status, 200);
    const health = (await res.json()) as { status: string; engine: string };
    assert.equal(health.status, 'ok');
    assert.ok(seen.length > 30, `checked ${seen.length} bodies and frames`);
    for (const body of seen) {
      assert.ok(!STACK_FRAME.test(body), `stack frame or path in: ${body.slice(0, 200)}`);
      assert.ok(!body.includes(svc.jwtSecret), 'JWT secret leaked');
      assert.ok(!body.includes(svc.apiKey), 'API key leaked');
    }
    const logs = JSON.stringify(svc.logs);
    assert.ok(!logs.includes(svc.jwtSecret), 'JWT secret in logs');
    assert.ok(!logs.includes(svc.apiKey), 'API key in logs');
  });
});
