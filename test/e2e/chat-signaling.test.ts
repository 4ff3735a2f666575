/**
 * Chat and the audience count (signaling revision 5) against the whole server in-process (the
 * embedded engine, no media), over the WebSocket and the HTTP API: delivery to everyone with the
 * author, history for a late joiner, delete and mute (per identity, across a reconnect), every
 * refusal with its stable code while the room carries on, the `system` author of the API, the
 * `chat.message` webhook, and the audience count in `joined`, in `audience` updates and in
 * `/metrics`.
 *
 * Run: node scripts/test.mjs test/e2e/chat-signaling.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type WebSocket from 'ws';
import { startServer, type RunningServer } from '../../services/server/main.ts';
import { PROTOCOL_REVISION } from '../../services/signaling/protocol.ts';
import { inProcessConfig } from '../support/inProcessServer.ts';
import { parsePromText, sumOf } from '../support/promText.ts';
import { waitFor } from '../support/wait.ts';
import { startReceiver, type TestReceiver } from '../support/webhookReceiver.ts';
import { connectClient, type JoinedClient, type Msg } from '../support/wsClient.ts';

const API_KEY = 'k'.repeat(20);
const WEBHOOK_SECRET = 'chat-webhook-secret-0123';
const HISTORY = 5;
const MAX_LENGTH = 40;
const BURST = 3;

describe('chat and audience over signaling and the API', () => {
  let server: RunningServer;
  let receiver: TestReceiver;
  const sockets: WebSocket[] = [];
  const room = 'chatroom';

  before(async () => {
    receiver = await startReceiver(WEBHOOK_SECRET);
    server = await startServer(
      inProcessConfig({
        CHAT_HISTORY: String(HISTORY),
        CHAT_MAX_LENGTH: String(MAX_LENGTH),
        CHAT_RATE_BURST: String(BURST),
        CHAT_RATE_PER_MINUTE: '60',
        WEBHOOK_URLS: receiver.url,
        WEBHOOK_SECRET,
        WEBHOOK_DB_PATH: ':memory:',
        WEBHOOK_RETRY_INITIAL_MS: '200',
      }),
    );
    await server.registry.create(room);
  });
  after(async () => {
    for (const ws of sockets) ws.terminate();
    await server?.close();
    await receiver?.close();
  });

  const join = async (identity: string, role: 'presenter' | 'moderator' | 'viewer'): Promise<JoinedClient> =>
    connectClient(server.url, (await server.tokens.issue(room, identity, role)).token, { sockets, join: true, timeoutMs: 10000, label: identity });
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${server.url}/api/rooms/${room}${path}`, { ...init, headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', ...init.headers } });
  const chatOf = (client: JoinedClient, text: string) => client.next((m) => m.type === 'chatMessage' && m.text === text, 10000);
  /** Sends until the identity's bucket lets one through (it refills at one per second here). */
  const chatEventually = (client: JoinedClient, text: string) =>
    waitFor(`${text} accepted`, 15000, async () => (await client.request({ type: 'chat', text })).type === 'ok', { stepMs: 300 });
  const errorOf = (reply: Msg) => `${reply.type}:${reply.code ?? ''}`;

  let presenter: JoinedClient;
  let viewer: JoinedClient;
  let moderator: JoinedClient;

  it('delivers each chat to everyone, the sender too, with its author; joined carries the revision (5 or later) and the audience', async () => {
    presenter = await join('pat', 'presenter');
    viewer = await join('vic', 'viewer');
    moderator = await join('mo', 'moderator');
    assert.ok(PROTOCOL_REVISION >= 5);
    assert.equal(moderator.joined.revision, PROTOCOL_REVISION);
    assert.deepEqual(moderator.joined.audience, { presenter: 1, guest: 0, moderator: 1, viewer: 1, total: 3 });
    assert.deepEqual(moderator.joined.chat, { messages: [], muted: false, mutedIdentities: [] });
    assert.deepEqual(viewer.joined.chat, { messages: [], muted: false }, 'muted identities are for moderators');

    assert.equal((await viewer.request({ type: 'chat', text: ' hello from the audience ' })).type, 'ok');
    for (const client of [presenter, viewer, moderator]) {
      const msg = await chatOf(client, 'hello from the audience');
      assert.deepEqual(msg.from, { participantId: viewer.pid, identity: 'vic', role: 'viewer' });
      assert.match(String(msg.id), /^m_/);
      assert.ok(!Number.isNaN(Date.parse(String(msg.at))));
    }
    assert.equal((await presenter.request({ type: 'chat', text: 'hi from the stage' })).type, 'ok');
    assert.equal((await moderator.request({ type: 'chat', text: 'welcome' })).type, 'ok');
    await chatOf(viewer, 'welcome');
  });

  it('a late joiner gets the last CHAT_HISTORY messages, oldest first', async () => {
    for (let i = 1; i <= 3; i++) await chatEventually(moderator, `m${i}`);
    const late = await join('late', 'viewer');
    const history = (late.joined.chat as { messages: Msg[] }).messages;
    assert.equal(history.length, HISTORY);
    assert.deepEqual(history.map((m) => m.text), ['hi from the stage', 'welcome', 'm1', 'm2', 'm3']);
    const api = await (await fetchHistory()).json() as { messages: Msg[] };
    assert.deepEqual(api.messages, history, 'GET /chat is the same history');
    await late.close();
  });
  const fetchHistory = () => api('/chat');

  it('refuses bad input with stable codes, and the room carries on', async () => {
    const tooLong = await viewer.request({ type: 'chat', text: 'x'.repeat(MAX_LENGTH + 1) });
    assert.equal(errorOf(tooLong), 'error:chat_too_long', JSON.stringify(tooLong));
    assert.equal(errorOf(await viewer.request({ type: 'chat', text: '   ' })), 'error:bad_request');
    assert.equal(errorOf(await viewer.request({ type: 'chat', text: 42 })), 'error:invalid_message');

    // Flooding: past the burst, refused; the socket stays open.
    const replies = await Promise.all(Array.from({ length: 2 * BURST + 2 }, (_, i) => viewer.request({ type: 'chat', text: `flood ${i}` })));
    const limited = replies.filter((r) => r.code === 'rate_limited');
    assert.ok(limited.length >= BURST, `rate_limited: ${limited.length} of ${replies.length}`);
    assert.ok(replies.every((r) => r.type === 'ok' || r.code === 'rate_limited'), JSON.stringify(replies));
    // Another identity is not held back by it.
    assert.equal((await presenter.request({ type: 'chat', text: 'unaffected' })).type, 'ok');
    await chatEventually(viewer, 'after the flood');
    await chatOf(moderator, 'after the flood');

    // A viewer deleting someone else's message; a moderator deleting an unknown one.
    const presenterMsg = await chatOf(viewer, 'unaffected');
    assert.equal(errorOf(await viewer.request({ type: 'deleteChat', messageId: presenterMsg.id })), 'error:forbidden');
    assert.equal(errorOf(await viewer.request({ type: 'muteChat', identity: 'pat' })), 'error:forbidden');
    assert.equal(errorOf(await moderator.request({ type: 'deleteChat', messageId: 'm_unknown' })), 'error:not_found');
    await chatEventually(viewer, 'still here');
    assert.equal(viewer.ws.readyState, viewer.ws.OPEN);
  });

  it('deletes (its author, or a moderator) reach everyone', async () => {
    const own = await chatOf(presenter, 'still here');
    assert.equal((await viewer.request({ type: 'deleteChat', messageId: own.id })).type, 'ok', 'its own message');
    const target = viewer.inbox.find((m) => m.type === 'chatMessage' && m.text === 'unaffected')!;
    assert.equal((await moderator.request({ type: 'deleteChat', messageId: target.id })).type, 'ok');
    for (const client of [presenter, viewer, moderator]) {
      assert.equal((await client.next((m) => m.type === 'chatDeleted' && m.id === own.id)).by, viewer.pid);
      assert.equal((await client.next((m) => m.type === 'chatDeleted' && m.id === target.id)).by, moderator.pid);
    }
    const history = ((await (await fetchHistory()).json()) as { messages: Msg[] }).messages.map((m) => m.id);
    assert.ok(!history.includes(own.id) && !history.includes(target.id));
  });

  it('a muted identity gets chat_muted, also after reconnecting, until unmuted', async () => {
    assert.equal((await moderator.request({ type: 'muteChat', identity: 'vic' })).type, 'ok');
    for (const client of [presenter, viewer, moderator]) await client.next((m) => m.type === 'chatMuted' && m.identity === 'vic');
    assert.equal(errorOf(await viewer.request({ type: 'chat', text: 'muted?' })), 'error:chat_muted');
    await viewer.close();
    viewer = await join('vic', 'viewer');
    assert.equal((viewer.joined.chat as { muted: boolean }).muted, true);
    assert.equal(errorOf(await viewer.request({ type: 'chat', text: 'muted again?' })), 'error:chat_muted');
    const mutes = (await (await api('/chat/mutes')).json()) as { muted: string[] };
    assert.deepEqual(mutes.muted, ['vic']);
    assert.equal((await presenter.request({ type: 'chat', text: 'others still chat' })).type, 'ok');
    assert.equal((await moderator.request({ type: 'unmuteChat', identity: 'vic' })).type, 'ok');
    await viewer.next((m) => m.type === 'chatUnmuted' && m.identity === 'vic');
    await chatEventually(viewer, 'unmuted');
  });

  it('the API: history, send as system, refusals, delete, mutes', async () => {
    const sent = await api('/chat', { method: 'POST', body: JSON.stringify({ text: '<b>announcement</b>' }) });
    assert.equal(sent.status, 201);
    const { message } = (await sent.json()) as { message: Msg };
    assert.deepEqual(message.from, { participantId: 'system', identity: 'system', role: 'system' });
    const heard = await chatOf(viewer, '<b>announcement</b>');
    assert.equal(heard.id, message.id);

    const tooLong = await api('/chat', { method: 'POST', body: JSON.stringify({ text: 'y'.repeat(MAX_LENGTH + 1) }) });
    assert.equal(tooLong.status, 400);
    assert.equal(((await tooLong.json()) as { error: { code: string } }).error.code, 'chat_too_long');
    const empty = await api('/chat', { method: 'POST', body: JSON.stringify({ text: ' ' }) });
    assert.equal(empty.status, 400);
    assert.equal((await api('/chat', { method: 'POST', body: JSON.stringify({ text: 'x', extra: 1 }) })).status, 400);
    assert.equal((await fetch(`${server.url}/api/rooms/${room}/chat`)).status, 401, 'API key required');
    assert.equal((await fetch(`${server.url}/api/rooms/nope/chat`, { headers: { authorization: `Bearer ${API_KEY}` } })).status, 404);

    assert.equal(errorOf(await viewer.request({ type: 'deleteChat', messageId: message.id })), 'error:forbidden', "nobody owns the system's messages");
    const del = await api(`/chat/messages/${message.id}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    await viewer.next((m) => m.type === 'chatDeleted' && m.id === message.id && m.by === undefined);
    assert.equal((await api(`/chat/messages/${message.id}`, { method: 'DELETE' })).status, 404);

    assert.equal((await api('/chat/mutes', { method: 'POST', body: JSON.stringify({ identity: 'pat' }) })).status, 201);
    await viewer.next((m) => m.type === 'chatMuted' && m.identity === 'pat');
    assert.equal(errorOf(await presenter.request({ type: 'chat', text: 'no' })), 'error:chat_muted');
    assert.equal((await api('/chat/mutes/pat', { method: 'DELETE' })).status, 200);
    await chatEventually(presenter, 'yes');
  });

  it('sends the chat.message webhook', async () => {
    const event = (await waitFor('chat.message webhook', 15000, () =>
      receiver.received.find((r) => r.event.type === 'chat.message' && r.event.data.text === 'hello from the audience'),
    ))!;
    assert.equal(event.verified, true);
    assert.equal(event.event.room, room);
    const from = event.event.data.from as Msg;
    assert.equal(from.identity, 'vic');
    assert.equal(from.role, 'viewer');
    assert.match(String(from.participantId), /^p_/);
    await waitFor('system chat webhook', 15000, () => receiver.received.some((r) => r.event.type === 'chat.message' && (r.event.data.from as Msg).role === 'system'));
  });

  it('the audience count follows joins, leaves and role changes, in updates and in /metrics', async () => {
    const counts = (client: JoinedClient) => client.inbox.filter((m) => m.type === 'audience').map((m) => m.audience as Record<string, number>);
    const latest = (client: JoinedClient) => counts(client).at(-1);
    const extra = [await join('a1', 'viewer'), await join('a2', 'viewer'), await join('a3', 'viewer')];
    await waitFor('audience with 3 more viewers', 15000, () => latest(moderator)?.viewer === 4 && latest(moderator)?.total === 6);
    await waitFor('the studio hears it too', 15000, () => latest(presenter)?.total === 6);
    const metrics = async () => parsePromText(await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } })).text()).samples;
    assert.equal(sumOf(await metrics(), 'stagecast_audience', { role: 'viewer' }), 4);
    assert.equal(sumOf(await metrics(), 'stagecast_audience', { role: 'moderator' }), 1);

    await extra[0]!.close();
    await extra[1]!.close();
    await waitFor('audience after two leave', 15000, () => latest(moderator)?.viewer === 2 && latest(moderator)?.total === 4);
    assert.deepEqual(latest(moderator), { presenter: 1, guest: 0, moderator: 1, viewer: 2, total: 4 });
    assert.equal(sumOf(await metrics(), 'stagecast_audience', { role: 'viewer' }), 2);

    assert.equal((await moderator.request({ type: 'promote', participantId: extra[2]!.pid })).type, 'ok');
    await waitFor('guest counted', 15000, () => latest(moderator)?.guest === 1 && latest(moderator)?.viewer === 1);
    // Consecutive updates always differ: an update is only sent on a change.
    const seen = counts(moderator);
    for (let i = 1; i < seen.length; i++) assert.notDeepEqual(seen[i], seen[i - 1]);
    const late = await join('a4', 'viewer');
    assert.deepEqual(late.joined.audience, { presenter: 1, guest: 1, moderator: 1, viewer: 2, total: 5 }, 'joined counts itself');
  });
});
