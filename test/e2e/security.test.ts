/**
 * Roles and moderation, hostile side: over the WebSocket and the HTTP API, a viewer (or a
 * presenter) cannot publish, promote, mute, kick, unblock or end the broadcast; a token for
 * room A is refused in room B; no client message can raise its own role; a token that expires
 * mid-session ends that session (4011).
 *
 * Run: node scripts/test.mjs test/e2e/security.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { clientMessageSchemas } from '../../services/signaling/protocol.ts';
import { startService, type RunningService } from '../support/service.ts';
import { connectClient, tryConnect as tryConnectWs, type WsClient } from '../support/wsClient.ts';

const OFFER = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n';

describe('security: roles and moderation', () => {
  let svc: RunningService;
  const sockets: WebSocket[] = [];

  before(async () => {
    // Many requests in a row per socket here; the rate limit has its own tests.
    svc = await startService({ LOG_LEVEL: 'info', WS_RATE_LIMIT_PER_SECOND: '1000' });
    await svc.createRoom('sec-a');
    await svc.createRoom('sec-b');
  });
  after(async () => {
    for (const ws of sockets) ws.terminate();
    assert.equal(await svc?.stop(), 0, 'service exits 0 on SIGTERM');
  });

  /** Sockets are terminated in `after`. */
  const tryConnect = (query: string) => tryConnectWs(svc.url, query, { sockets });
  const connect = (token: string) => connectClient(svc.url, token, { sockets, join: true });

  const members = async (room: string) =>
    ((await (await svc.api(`/api/rooms/${room}`)).json()) as { members: { participantId: string; identity: string; role: string }[] }).members;

  async function expectRefused(client: WsClient, msg: Record<string, unknown>, code: string): Promise<void> {
    const reply = await client.request(msg);
    assert.equal(reply.type, 'error', `${JSON.stringify(msg)} → ${JSON.stringify(reply)}`);
    assert.equal(reply.code, code, `${JSON.stringify(msg)} → ${JSON.stringify(reply)}`);
  }

  it('WS: a viewer (and a presenter) cannot publish or moderate; the target is untouched', async () => {
    const viewer = await connect(await svc.token('sec-a', 'vera', 'viewer'));
    const presenter = await connect(await svc.token('sec-a', 'pia', 'presenter'));
    const other = await connect(await svc.token('sec-a', 'otto', 'viewer'));
    const target = other.pid;
    await other.request({ type: 'raiseHand' });

    await expectRefused(viewer, { type: 'publish', sdp: OFFER }, 'forbidden');
    for (const client of [viewer, presenter]) {
      await expectRefused(client, { type: 'promote', participantId: target }, 'forbidden');
      await expectRefused(client, { type: 'demote', participantId: target }, 'forbidden');
      await expectRefused(client, { type: 'mute', participantId: presenter.pid }, 'forbidden');
      await expectRefused(client, { type: 'unmute', participantId: target, kind: 'audio' }, 'forbidden');
      await expectRefused(client, { type: 'kick', participantId: target }, 'forbidden');
      await expectRefused(client, { type: 'unblock', identity: 'someone' }, 'forbidden');
      await expectRefused(client, { type: 'endBroadcast' }, 'forbidden');
      await expectRefused(client, { type: 'lowerHand', participantId: target }, 'forbidden');
    }
    // Presenters are on stage already: no hand to raise.
    await expectRefused(presenter, { type: 'raiseHand' }, 'forbidden');

    const now = await members('sec-a');
    assert.equal(now.find((m) => m.participantId === target)?.role, 'viewer');
    assert.equal((await (await svc.api('/api/rooms/sec-a/hands')).json() as { queue: { participantId: string }[] }).queue[0]?.participantId, target);
    assert.equal((await (await svc.api('/api/rooms/sec-a/blocks')).json() as { blocks: unknown[] }).blocks.length, 0);
    assert.equal(other.ws.readyState, WebSocket.OPEN, 'the target is still connected');
    for (const c of [viewer, presenter, other]) c.ws.close();
  });

  it('API: moderation needs the API key; room tokens (even a moderator\'s) are 401', async () => {
    const victim = await connect(await svc.token('sec-a', 'valerie', 'viewer'));
    const pid = victim.pid;
    const tokens = {
      none: undefined,
      viewer: await svc.token('sec-a', 'vera', 'viewer'),
      moderator: await svc.token('sec-a', 'max', 'moderator'),
      wrongKey: 'not-the-api-key-not-the-api-key',
    };
    const routes: [string, string, unknown?][] = [
      ['POST', `/api/rooms/sec-a/participants/${pid}/promote`],
      ['POST', `/api/rooms/sec-a/participants/${pid}/demote`],
      ['POST', `/api/rooms/sec-a/participants/${pid}/mute`, {}],
      ['POST', `/api/rooms/sec-a/participants/${pid}/unmute`, {}],
      ['POST', `/api/rooms/sec-a/participants/${pid}/kick`, {}],
      ['GET', '/api/rooms/sec-a/hands'],
      ['DELETE', `/api/rooms/sec-a/hands/${pid}`],
      ['GET', '/api/rooms/sec-a/blocks'],
      ['POST', '/api/rooms/sec-a/blocks', { identity: 'valerie' }],
      ['DELETE', '/api/rooms/sec-a/blocks/valerie'],
      ['DELETE', '/api/rooms/sec-a/broadcast'],
    ];
    for (const [method, path, body] of routes) {
      for (const [name, token] of Object.entries(tokens)) {
        const res = await fetch(`${svc.url}${path}`, {
          method,
          headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        const json = (await res.json()) as { error?: { code: string } };
        assert.equal(res.status, 401, `${method} ${path} with ${name}`);
        assert.equal(json.error?.code, 'unauthorized');
      }
    }
    assert.equal((await members('sec-a')).find((m) => m.participantId === pid)?.role, 'viewer');
    assert.equal(victim.ws.readyState, WebSocket.OPEN);
    // With the key, bad input is still refused by schema.
    const bad = await svc.api(`/api/rooms/sec-a/participants/${pid}/mute`, { method: 'POST', body: JSON.stringify({ kind: 'screen' }) });
    assert.equal(bad.status, 400);
    const role = await svc.api(`/api/rooms/sec-a/participants/${pid}/kick`, { method: 'POST', body: JSON.stringify({ role: 'moderator' }) });
    assert.equal(role.status, 400, 'unknown keys are refused');
    victim.ws.close();
  });

  it('a token for room A is refused in room B (WebSocket, WHIP, WHEP), and moderation cannot reach across rooms', async () => {
    const tokenA = await svc.token('sec-a', 'amy', 'moderator');
    const refused = await tryConnect(`token=${encodeURIComponent(tokenA)}&room=sec-b`);
    assert.ok('status' in refused);
    assert.equal(refused.status, 403);
    assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, 'forbidden');
    for (const kind of ['whip', 'whep']) {
      const res = await fetch(`${svc.url}/${kind}/sec-b`, { method: 'POST', headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/sdp' }, body: OFFER });
      assert.equal(res.status, 403, kind);
    }
    // A moderator of A names a participant of B: not found in A; B's participant is untouched.
    const inB = await connect(await svc.token('sec-b', 'bob', 'viewer'));
    const modA = await connect(tokenA);
    const pidB = inB.pid;
    for (const type of ['promote', 'demote', 'mute', 'kick']) await expectRefused(modA, { type, participantId: pidB }, 'not_found');
    assert.equal((await members('sec-b'))[0]?.role, 'viewer');
    assert.equal(inB.ws.readyState, WebSocket.OPEN);
    inB.ws.close();
    modA.ws.close();
  });

  it('no client message can raise its own role', async () => {
    const viewer = await connect(await svc.token('sec-a', 'ivy', 'viewer'));
    const self = viewer.pid;
    assert.equal(viewer.joined.role, 'viewer');
    // Every known message type, with role-ish fields added: refused by the strict schema.
    const escalations = [{ role: 'presenter' }, { role: 'moderator' }, { role: 'guest' }, { participant: { role: 'moderator' } }, { claims: { role: 'presenter' } }];
    for (const type of Object.keys(clientMessageSchemas)) {
      for (const extra of escalations) {
        const reply = await viewer.request({ type, participantId: self, ...extra });
        assert.equal(reply.type, 'error', `${type} ${JSON.stringify(extra)} → ${JSON.stringify(reply)}`);
        assert.equal(reply.code, 'invalid_message', `${type} ${JSON.stringify(extra)} → ${JSON.stringify(reply)}`);
      }
    }
    // Made-up types that sound like role changes.
    for (const type of ['setRole', 'role', 'roleChanged', 'updateParticipant', 'elevate', 'promoteSelf', 'joined', 'authenticate', 'token']) {
      await expectRefused(viewer, { type, role: 'presenter' }, 'unknown_type');
      await expectRefused(viewer, { type }, 'unknown_type');
    }
    // Well-formed requests that would do it: refused by the current role.
    await expectRefused(viewer, { type: 'promote', participantId: self }, 'forbidden');
    await expectRefused(viewer, { type: 'join' }, 'invalid_state');
    // A moderator cannot make itself (or a presenter) anything either: promote is viewer → guest only.
    const mod = await connect(await svc.token('sec-a', 'moe', 'moderator'));
    await expectRefused(mod, { type: 'promote', participantId: mod.pid }, 'invalid_state');
    await expectRefused(mod, { type: 'kick', participantId: mod.pid }, 'bad_request');
    // A second socket with a forged role claim is refused before the upgrade.
    const forged = await new SignJWT({ room: 'sec-a', role: 'moderator' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject('ivy').setIssuedAt().setExpirationTime('1h').setJti('forged')
      .sign(new TextEncoder().encode('some-other-secret-some-other-secret'));
    const forgedResult = await tryConnect(`token=${encodeURIComponent(forged)}`);
    assert.ok('status' in forgedResult && forgedResult.status === 401);

    // Still a viewer, in server state and by behaviour.
    assert.equal((await members('sec-a')).find((m) => m.participantId === self)?.role, 'viewer');
    await expectRefused(viewer, { type: 'publish', sdp: OFFER }, 'forbidden');
    assert.ok(!viewer.inbox.some((m) => m.type === 'roleChanged'), 'no roleChanged was ever sent');
    viewer.ws.close();
    mod.ws.close();
  });

  it('a token that expires mid-session ends that session with 4011 token_expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const short = await new SignJWT({ room: 'sec-a', role: 'presenter' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject('brief')
      .setIssuedAt(now)
      .setExpirationTime(now + 3)
      .setJti('short-lived')
      .sign(new TextEncoder().encode(svc.jwtSecret));
    const watcher = await connect(await svc.token('sec-a', 'wanda', 'moderator'));
    const started = Date.now();
    const brief = await connect(short);
    const pid = brief.pid;
    // Still fine before expiry.
    assert.equal((await brief.request({ type: 'ping' })).type, 'pong');
    const bye = await brief.next((m) => m.type === 'bye', 6000);
    assert.equal(bye.reason, 'token_expired');
    const closed = await brief.closed;
    assert.equal(closed.code, 4011);
    assert.equal(closed.reason, 'token_expired');
    assert.ok(Date.now() - started < 5000, 'ended at expiry, not later');
    const left = await watcher.next((m) => m.type === 'participantLeft' && m.participantId === pid);
    assert.equal(left.reason, 'token_expired');
    assert.ok(!(await members('sec-a')).some((m) => m.participantId === pid));
    // And the same token cannot come back.
    const again = await tryConnect(`token=${encodeURIComponent(short)}`);
    assert.ok('status' in again && again.status === 401);
    watcher.ws.close();
  });
});
