import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../services/core/config.ts';
import { startServer, type RunningServer } from '../../services/server/main.ts';
import type { Room } from '../../services/stage/Room.ts';
import { connectClient, type JoinedClient } from '../support/wsClient.ts';

/**
 * Revision 3 of the signaling protocol, in-process with the real server, stage and embedded
 * engine (no media): engine capabilities in `joined`, `setLayers`, the active speaker, and the
 * typed `subscriberClosed` for a subscriber leg the server closed. The embedded engine neither
 * detects speakers nor closes legs on demand, so those events enter where the RoomRegistry
 * delivers every engine event: `Room.handleActiveSpeaker` and `Room.handleLegClosed`.
 */
describe('signaling revision 3: capabilities, layers, active speaker, closed legs', () => {
  let server: RunningServer;
  let room: Room;
  const clients: JoinedClient[] = [];

  before(async () => {
    server = await startServer(
      loadConfig({ PORT: '0', API_KEY: 'k'.repeat(20), JWT_SECRET: 's'.repeat(40), ENGINE: 'embedded', ENGINE_WORKER_THREAD: 'false', LOG_LEVEL: 'warn' }),
    );
    room = await server.registry.create('r3');
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await server.close();
  });

  async function join(identity: string, role: 'presenter' | 'moderator' | 'viewer' = 'presenter'): Promise<JoinedClient> {
    const { token } = await server.tokens.issue('r3', identity, role);
    const client = await connectClient(server.url, token, { join: true, label: identity });
    clients.push(client);
    return client;
  }

  it('joined announces revision 5 (3 brought these) and what the engine can do', async () => {
    const a = await join('cap');
    assert.equal(a.joined.revision, 5);
    assert.deepEqual(a.joined.capabilities, { simulcast: false, activeSpeaker: false });
    assert.equal('activeSpeaker' in a.joined, false, 'no speaker named yet');
  });

  it('setLayers: unsupported on the embedded engine, the socket stays open; bad fields are invalid_message', async () => {
    const a = await join('layers');
    const sub = await a.request({ type: 'subscribe' });
    assert.equal(sub.type, 'subscriberOffer');
    const reply = await a.request({ type: 'setLayers', trackId: 'someone:1', spatialLayer: 0 });
    assert.equal(reply.type, 'error');
    assert.equal(reply.code, 'unsupported');
    assert.equal((await a.request({ type: 'setLayers', trackId: 't', spatialLayer: 2, temporalLayer: 1 })).code, 'unsupported');
    for (const bad of [
      { trackId: 't', spatialLayer: -1 },
      { trackId: 't', spatialLayer: 1.5 },
      { trackId: '', spatialLayer: 0 },
      { spatialLayer: 0 },
      { trackId: 't', spatialLayer: 0, role: 'moderator' },
    ]) {
      const r = await a.request({ type: 'setLayers', ...bad });
      assert.equal(r.code, 'invalid_message', JSON.stringify(bad));
    }
    assert.equal((await a.request({ type: 'ping' })).type, 'pong');
    assert.equal(a.ws.readyState, a.ws.OPEN);
  });

  it('forwards the active speaker to everyone, once per change, and names it in a later joined', async () => {
    const a = await join('speaker-a');
    const b = await join('speaker-b', 'viewer');
    room.handleActiveSpeaker(b.pid);
    assert.deepEqual(await a.next((m) => m.type === 'activeSpeaker'), { v: 1, type: 'activeSpeaker', participantId: b.pid });
    assert.equal((await b.next((m) => m.type === 'activeSpeaker')).participantId, b.pid);
    // The same speaker again, and a peer id that is not in the room: nothing to tell.
    room.handleActiveSpeaker(b.pid);
    room.handleActiveSpeaker('p_not_here');
    room.handleActiveSpeaker(a.pid);
    assert.equal((await b.next((m) => m.type === 'activeSpeaker')).participantId, a.pid, 'the next message is the real change');
    const c = await join('speaker-c');
    assert.equal(c.joined.activeSpeaker, a.pid);
    // A speaker who left is not named to newcomers.
    await a.close();
    const d = await join('speaker-d');
    assert.equal('activeSpeaker' in d.joined, false);
  });

  it('a subscriber leg the server closed is subscriberClosed with its reason, and subscribe works again', async () => {
    const a = await join('subclosed');
    assert.equal((await a.request({ type: 'subscribe' })).type, 'subscriberOffer');
    room.handleLegClosed(a.pid, 'subscriber', 'engine_died');
    assert.deepEqual(await a.next((m) => m.type === 'subscriberClosed'), { v: 1, type: 'subscriberClosed', reason: 'engine_died' });
    const again = await a.request({ type: 'subscribe' });
    assert.equal(again.type, 'subscriberOffer', JSON.stringify(again));
    assert.equal(a.inbox.filter((m) => m.type === 'error').length, 0, 'no error event any more');
    assert.equal(a.ws.readyState, a.ws.OPEN);
  });

  it('a publisher leg the server closed is still unpublished with its reason', async () => {
    const a = await join('pubclosed');
    room.handleLegClosed(a.pid, 'publisher', 'transport_failed');
    const msg = await a.next((m) => m.type === 'unpublished');
    assert.equal(msg.reason, 'transport_failed');
    assert.equal(msg.re, undefined);
  });
});
