/**
 * The API of private broadcasts, on the app as main.ts assembles it (assembledApp.ts): the room
 * setting (`private` on POST /api/rooms, PATCH /api/rooms/:id, shown on GET), playback tokens
 * from the API key and from a room token (`POST /playback/:room`), and the origin's gate
 * following the setting (no broadcast here: past the gate an HLS request is 404).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hono } from 'hono';
import { blockBody, kickBody, muteBody } from '../../services/api/routes/moderation.ts';
import { createRoomBody, createTokenBody } from '../../services/api/routes/rooms.ts';
import type { AppEnv } from '../../services/api/types.ts';
import { PrivateBroadcasts } from '../../services/stage/PrivateBroadcasts.ts';
import { assembledApp, type AssembledApp } from './assembledApp.ts';

const API_KEY = 'playback_test_key_0123456789';
const apiHeaders = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };

describe('private broadcasts: API', () => {
  let assembled: AssembledApp;
  let app: Hono<AppEnv>;

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, { method, headers: apiHeaders, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
  };
  const hlsStatus = async (room: string, token?: string) => {
    const res = await app.request(`/hls/${room}/index.m3u8${token ? `?token=${encodeURIComponent(token)}` : ''}`);
    await res.body?.cancel();
    return res.status;
  };

  before(async () => {
    assembled = await assembledApp({ apiKey: API_KEY, schemas: { createRoomBody, createTokenBody, muteBody, kickBody, blockBody }, portRange: [47000, 47999] });
    app = assembled.app;
  });
  after(() => assembled.close());

  it('rooms are public unless created or updated private; the origin follows the setting', async () => {
    const pub = await api('POST', '/api/rooms', { id: 'pub' });
    assert.equal(pub.status, 201);
    assert.equal(pub.body.private, false);
    assert.equal(await hlsStatus('pub'), 404, 'public: past the gate with no token (no broadcast yet)');

    const priv = await api('POST', '/api/rooms', { id: 'priv', private: true });
    assert.equal(priv.status, 201);
    assert.equal(priv.body.private, true);
    assert.equal((await api('GET', '/api/rooms/priv')).body.private, true);
    assert.equal(await hlsStatus('priv'), 401);

    const patched = await api('PATCH', '/api/rooms/priv', { private: false });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.private, false);
    assert.equal(await hlsStatus('priv'), 404);
    assert.equal((await api('PATCH', '/api/rooms/pub', { private: true })).body.private, true);
    assert.equal(await hlsStatus('pub'), 401);

    assert.equal((await api('PATCH', '/api/rooms/pub', {})).status, 400, 'private is required');
    assert.equal((await api('PATCH', '/api/rooms/pub', { private: 'yes' })).status, 400);
    assert.equal((await api('PATCH', '/api/rooms/pub', { private: true, other: 1 })).status, 400, 'unknown keys are refused');
    assert.equal((await api('PATCH', '/api/rooms/nope', { private: true })).status, 404);
    assert.equal((await api('POST', '/api/rooms', { id: 'bad', private: 1 })).status, 400);
    const listed = (await api('GET', '/api/rooms')).body.rooms as { id: string; private: boolean }[];
    assert.deepEqual(listed.map((r) => [r.id, r.private]).sort(), [['priv', false], ['pub', true]]);
  });

  it('mints playback tokens with the API key, with a lifetime of the caller\'s choice', async () => {
    await api('POST', '/api/rooms', { id: 'mint', private: true });
    const minted = await api('POST', '/api/rooms/mint/playback-tokens', { ttlSeconds: 120 });
    assert.equal(minted.status, 201);
    assert.equal(minted.body.room, 'mint');
    assert.equal(minted.body.private, true);
    const lifetime = Date.parse(String(minted.body.expiresAt)) - Date.now();
    assert.ok(lifetime > 100_000 && lifetime <= 120_000, `expires in ${lifetime} ms`);
    assert.equal(await hlsStatus('mint', String(minted.body.token)), 404, 'the token passes the gate');
    assert.equal((await api('POST', '/api/rooms/mint/playback-tokens', {})).status, 201, 'default lifetime');
    assert.equal((await api('POST', '/api/rooms/mint/playback-tokens', { ttlSeconds: 0 })).status, 400);
    assert.equal((await api('POST', '/api/rooms/mint/playback-tokens', { ttlSeconds: 86401 })).status, 400);
    assert.equal((await api('POST', '/api/rooms/none/playback-tokens', {})).status, 404);
    const noKey = await app.request('/api/rooms/mint/playback-tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(noKey.status, 401);
    await noKey.body?.cancel();
    // Another room's playback token is genuine but not for here.
    await api('POST', '/api/rooms', { id: 'other', private: true });
    const other = await api('POST', '/api/rooms/other/playback-tokens', {});
    assert.equal(await hlsStatus('mint', String(other.body.token)), 403);
  });

  it('exchanges a room token of any role for a playback token of its room', async () => {
    await api('POST', '/api/rooms', { id: 'swap', private: true });
    for (const role of ['viewer', 'presenter', 'moderator']) {
      const roomToken = String((await api('POST', '/api/rooms/swap/tokens', { identity: `id-${role}`, role })).body.token);
      const res = await app.request('/playback/swap', { method: 'POST', headers: { authorization: `Bearer ${roomToken}` } });
      assert.equal(res.status, 201, role);
      const grant = (await res.json()) as { token: string; private: boolean; room: string };
      assert.equal(grant.private, true);
      assert.equal(grant.room, 'swap');
      assert.equal(await hlsStatus('swap', grant.token), 404, `${role}: the exchanged token passes the gate`);
      assert.equal(await hlsStatus('swap', roomToken), 401, `${role}: a room token is no playback token`);
    }
    const none = await app.request('/playback/swap', { method: 'POST' });
    assert.equal(none.status, 401);
    await none.body?.cancel();
    const elsewhere = String((await api('POST', '/api/rooms/other/tokens', { identity: 'x', role: 'viewer' })).body.token);
    const wrongRoom = await app.request('/playback/swap', { method: 'POST', headers: { authorization: `Bearer ${elsewhere}` } });
    assert.equal(wrongRoom.status, 403);
    await wrongRoom.body?.cancel();
  });

  it('HLS_PRIVATE_DEFAULT makes rooms private unless they say otherwise', async () => {
    const privateByDefault = assembled.assemble({ privacy: new PrivateBroadcasts(true) });
    const create = async (body: unknown) =>
      (await (await privateByDefault.request('/api/rooms', { method: 'POST', headers: apiHeaders, body: JSON.stringify(body) })).json()) as { private: boolean };
    assert.equal((await create({ id: 'd1' })).private, true);
    assert.equal((await create({ id: 'd2', private: false })).private, false);
    const res = await privateByDefault.request('/hls/never-created/index.m3u8');
    assert.equal(res.status, 401, 'a room never given a setting has the default');
    await res.body?.cancel();
  });
});
