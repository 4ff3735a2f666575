import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../services/core/config.ts';
import { startServer, type RunningServer } from '../../services/server/main.ts';
import { PROTOCOL_REVISION } from '../../services/signaling/protocol.ts';
import { connectClient, type JoinedClient } from '../support/wsClient.ts';

/**
 * Revision 5 of the signaling protocol at the edge, in-process with the real server (no media):
 * `broadcastHealth` is for moderators (null while the room has no broadcast), `publish.sources`
 * is validated by schema, and bad input leaves the socket open.
 */
describe('signaling revision 5: screen share labels and broadcast health', () => {
  let server: RunningServer;
  const clients: JoinedClient[] = [];

  before(async () => {
    server = await startServer(
      loadConfig({ PORT: '0', API_KEY: 'k'.repeat(20), JWT_SECRET: 's'.repeat(40), ENGINE: 'embedded', ENGINE_WORKER_THREAD: 'false', LOG_LEVEL: 'warn' }),
    );
    await server.registry.create('r5');
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await server.close();
  });

  async function join(identity: string, role: 'presenter' | 'moderator' | 'viewer'): Promise<JoinedClient> {
    const { token } = await server.tokens.issue('r5', identity, role);
    const client = await connectClient(server.url, token, { join: true, label: identity });
    clients.push(client);
    return client;
  }

  it('joined says whether the program is playable; broadcastHealth: moderators only, null without a broadcast', async () => {
    const mod = await join('mod', 'moderator');
    assert.ok(PROTOCOL_REVISION >= 5);
    assert.equal(mod.joined.revision, PROTOCOL_REVISION);
    assert.equal(mod.joined.broadcastReady, false);
    const health = await mod.request({ type: 'broadcastHealth' });
    assert.equal(health.type, 'broadcastHealth');
    assert.equal(health.health, null);
    for (const role of ['presenter', 'viewer'] as const) {
      const other = await join(`not-mod-${role}`, role);
      const reply = await other.request({ type: 'broadcastHealth' });
      assert.equal(reply.type, 'error');
      assert.equal(reply.code, 'forbidden', `${role} asks for health`);
      assert.equal((await other.request({ type: 'ping' })).type, 'pong', 'the socket stays open');
    }
    const extra = await mod.request({ type: 'broadcastHealth', room: 'x' });
    assert.equal(extra.code, 'invalid_message', 'unknown fields are refused');
  });

  it('publish.sources must map mids to camera or screen', async () => {
    const p = await join('presenter', 'presenter');
    for (const sources of [{ 0: 'window' }, { '': 'screen' }, { ['m'.repeat(33)]: 'screen' }, 'screen', ['screen']]) {
      const reply = await p.request({ type: 'publish', sdp: 'v=0', sources });
      assert.equal(reply.type, 'error');
      assert.equal(reply.code, 'invalid_message', `sources ${JSON.stringify(sources)}`);
      assert.doesNotMatch(String(reply.message), /at |\/work\//, 'no stack or path');
    }
    assert.equal((await p.request({ type: 'ping' })).type, 'pong', 'the socket stays open');
  });
});
