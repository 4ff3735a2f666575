import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../services/core/config.ts';
import { startServer, type RunningServer } from '../../services/server/main.ts';
import { connectClient, type JoinedClient } from '../support/wsClient.ts';

const PUBLISH_OFFER = new URL('../fixtures/sdp/chrome-publish-single.sdp', import.meta.url);

/**
 * Roles live on the server, per identity and room (signaling revision 4), in-process with the
 * real server, stage and embedded engine: a guest whose signaling drops and comes back is
 * still a guest and may publish; `leaveStage` (a declined promotion) makes it a viewer for
 * every connection and for the moderators; the grant lapses once the identity stays away past
 * STAGE_ROLE_GRACE_MS.
 */
describe('stage roles: kept per identity on the server', () => {
  const GRACE_MS = 1500;
  let server: RunningServer;
  const clients: JoinedClient[] = [];
  let offer: string;

  before(async () => {
    offer = await readFile(PUBLISH_OFFER, 'utf8');
    server = await startServer(
      loadConfig({
        PORT: '0',
        API_KEY: 'k'.repeat(20),
        JWT_SECRET: 's'.repeat(40),
        ENGINE: 'embedded',
        ENGINE_WORKER_THREAD: 'false',
        STAGE_ROLE_GRACE_MS: String(GRACE_MS),
        LOG_LEVEL: 'warn',
      }),
    );
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await server.close();
  });

  async function join(room: string, identity: string, role: 'presenter' | 'moderator' | 'viewer', token?: string): Promise<JoinedClient & { token: string }> {
    token ??= (await server.tokens.issue(room, identity, role)).token;
    const client = await connectClient(server.url, token, { join: true, label: identity, timeoutMs: 15000 });
    clients.push(client);
    return Object.assign(client, { token });
  }

  /** Drops the socket without a close frame, as a lost network does, and waits until the server let the participant go. */
  async function drop(room: string, client: JoinedClient): Promise<void> {
    client.ws.terminate();
    const start = Date.now();
    while (server.registry.require(room).getParticipant(client.pid)) {
      assert.ok(Date.now() - start < 10000, 'the server notices the dropped socket');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it("a guest's signaling reconnect keeps it on the stage: it joins as guest and may publish", async () => {
    await server.registry.create('reconnect');
    const mod = await join('reconnect', 'mia', 'moderator');
    const guest = await join('reconnect', 'gus', 'viewer');
    assert.equal((await guest.request({ type: 'publish', sdp: offer })).code, 'forbidden', 'a viewer may not publish');
    await mod.request({ type: 'promote', participantId: guest.pid });
    await guest.next((m) => m.type === 'roleChanged' && m.participantId === guest.pid && m.role === 'guest');

    await drop('reconnect', guest);
    const back = await join('reconnect', 'gus', 'viewer', guest.token);
    assert.equal(back.joined.role, 'guest', 'the reconnected connection is a guest');
    assert.notEqual(back.pid, guest.pid);
    const rejoined = await mod.next((m) => m.type === 'participantJoined' && (m.participant as { participantId: string }).participantId === back.pid);
    assert.equal((rejoined.participant as { role: string }).role, 'guest', 'moderators see it join as a guest');
    const published = await back.request({ type: 'publish', sdp: offer });
    assert.equal(published.type, 'published', `it may publish again: ${JSON.stringify(published)}`);
    const members = server.registry.require('reconnect').listParticipants();
    assert.equal(members.find((p) => p.id === back.pid)?.role, 'guest');
  });

  it('leaveStage (a declined promotion) makes the guest a viewer on the server, for every connection and for the moderators', async () => {
    await server.registry.create('decline');
    const mod = await join('decline', 'mo', 'moderator');
    const tab1 = await join('decline', 'dee', 'viewer');
    const tab2 = await join('decline', 'dee', 'viewer', tab1.token);
    assert.equal((await tab1.request({ type: 'leaveStage' })).code, 'invalid_state', 'a viewer has no stage to leave');
    await mod.request({ type: 'promote', participantId: tab1.pid });
    const promotedTab2 = await tab2.next((m) => m.type === 'roleChanged' && m.participantId === tab2.pid);
    assert.equal(promotedTab2.role, 'guest', 'the grant is the identity’s: its other tab is a guest too');

    const reply = await tab1.request({ type: 'leaveStage' });
    assert.equal(reply.type, 'ok');
    const seen = await mod.next((m) => m.type === 'roleChanged' && m.participantId === tab1.pid && m.role === 'viewer');
    assert.equal(seen.by, tab1.pid, 'the moderators see who stepped down: the guest itself');
    await mod.next((m) => m.type === 'roleChanged' && m.participantId === tab2.pid && m.role === 'viewer');
    const room = server.registry.require('decline');
    assert.deepEqual(room.listParticipants().filter((p) => p.identity === 'dee').map((p) => p.role), ['viewer', 'viewer']);
    assert.equal((await tab1.request({ type: 'publish', sdp: offer })).code, 'forbidden', 'a viewer again: publishing is refused');
    // And the decline sticks across a reconnect.
    await drop('decline', tab1);
    const back = await join('decline', 'dee', 'viewer', tab1.token);
    assert.equal(back.joined.role, 'viewer');
  });

  it('the grant lapses when the identity stays away past the grace, and survives a shorter absence', async () => {
    await server.registry.create('grace');
    const mod = await join('grace', 'moe', 'moderator');
    const guest = await join('grace', 'gil', 'viewer');
    await mod.request({ type: 'promote', participantId: guest.pid });
    await drop('grace', guest);
    const quick = await join('grace', 'gil', 'viewer', guest.token);
    assert.equal(quick.joined.role, 'guest', 'back within the grace: still a guest');
    await drop('grace', quick);
    await new Promise((r) => setTimeout(r, GRACE_MS + 500));
    const late = await join('grace', 'gil', 'viewer', guest.token);
    assert.equal(late.joined.role, 'viewer', 'back after the grace: a viewer');
  });

  it('a kick ends the grant with the block: after an unblock the identity comes back a viewer', async () => {
    await server.registry.create('kick');
    const mod = await join('kick', 'max', 'moderator');
    const guest = await join('kick', 'kit', 'viewer');
    await mod.request({ type: 'promote', participantId: guest.pid });
    await mod.request({ type: 'kick', participantId: guest.pid });
    await mod.request({ type: 'unblock', identity: 'kit' });
    const back = await join('kick', 'kit', 'viewer');
    assert.equal(back.joined.role, 'viewer');
  });
});
