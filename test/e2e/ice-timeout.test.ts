import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import type WebSocket from 'ws';
import { describeEngines } from '../support/engines.ts';
import { parsePromText, sumOf } from '../support/promText.ts';
import { startService, type RunningService } from '../support/service.ts';
import { waitFor } from '../support/wait.ts';
import { startReceiver, type TestReceiver } from '../support/webhookReceiver.ts';
import { connectClient, type Msg } from '../support/wsClient.ts';

/**
 * Legs whose client never starts ICE (captured Chromium offers, no browser: nobody answers the
 * engine's checks) close with `ice_timeout` after ICE_CONNECT_TIMEOUT_MS, on each engine: WHIP
 * and WHEP sessions leave the room (webhook `participant.left` with the reason), a signaling
 * client hears that its legs closed, and the metric counts each.
 */

const ICE_CONNECT_TIMEOUT_MS = 2000;
/** Generous: the leg must be gone by then even on a loaded machine. */
const GONE_WITHIN_MS = ICE_CONNECT_TIMEOUT_MS + 8000;
const WEBHOOK_SECRET = 'ice-timeout-webhook-secret';
const PUBLISH_OFFER = readFileSync(new URL('../fixtures/sdp/chrome-publish-single.sdp', import.meta.url), 'utf8');
const WHEP_OFFER = readFileSync(new URL('../fixtures/sdp/chrome-whep-recvonly.sdp', import.meta.url), 'utf8');

describeEngines('legs that never connect ICE', (engine) => {
  let svc: RunningService;
  let receiver: TestReceiver;
  const sockets: WebSocket[] = [];

  before(async () => {
    receiver = await startReceiver(WEBHOOK_SECRET);
    svc = await startService(
      {
        ICE_CONNECT_TIMEOUT_MS: String(ICE_CONNECT_TIMEOUT_MS),
        BROADCAST_AUTO_START: 'false',
        METRICS_PUBLIC: 'true',
        WEBHOOK_URLS: receiver.url,
        WEBHOOK_SECRET,
        WEBHOOK_RETRY_INITIAL_MS: '200',
      },
      { engine },
    );
    await svc.createRoom('ice');
  });

  after(async () => {
    for (const ws of sockets) ws.terminate();
    const code = await svc?.stop();
    await receiver?.close();
    assert.equal(code, 0, 'service exits 0 on SIGTERM');
  });

  const members = async () => {
    const res = await svc.api('/api/rooms/ice');
    return ((await res.json()) as { members: { participantId: string; transport: string; publishing: boolean }[] }).members;
  };

  const offer = async (kind: 'whip' | 'whep', identity: string) => {
    const token = await svc.token('ice', identity, 'presenter');
    const res = await fetch(`${svc.url}/${kind}/ice`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/sdp' },
      body: kind === 'whip' ? PUBLISH_OFFER : WHEP_OFFER,
    });
    assert.equal(res.status, 201, await res.text());
    return res.headers.get('location')!.split('/').pop()!;
  };

  it('WHIP and WHEP sessions leave the room with ice_timeout, with a webhook, a log line and a metric each', async () => {
    const started = Date.now();
    const whip = await offer('whip', 'obs');
    const whep = await offer('whep', 'player');
    assert.deepEqual((await members()).map((m) => m.participantId).sort(), [whep, whip].sort(), 'both in the room once answered');

    const left = await waitFor('both sessions to leave the room', GONE_WITHIN_MS, async () => (await members()).length === 0);
    assert.ok(left);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= ICE_CONNECT_TIMEOUT_MS - 200, `gone after ${elapsed} ms, before the timeout`);

    const leftEvents = await waitFor(
      'participant.left webhooks for both',
      10_000,
      () => receiver.received.filter((r) => r.event.type === 'participant.left' && r.verified),
      { until: (events) => new Set(events.map((e) => e.event.data.participantId)).size === 2 },
    );
    for (const id of [whip, whep]) {
      const event = leftEvents.find((e) => e.event.data.participantId === id);
      assert.equal(event?.event.data.reason, 'ice_timeout', JSON.stringify(event?.event));
    }
    const logged = svc.logs.filter((l) => l.msg === 'participant left' && l.reason === 'ice_timeout').map((l) => l.participant);
    assert.deepEqual([...new Set(logged)].sort(), [whep, whip].sort());
    assert.ok(svc.logs.some((l) => l.msg === 'ICE did not connect in time; closing the leg'), 'the engine says why it closed the leg');

    const metrics = parsePromText(await (await fetch(`${svc.url}/metrics`)).text());
    assert.equal(sumOf(metrics.samples, 'stagecast_engine_errors_total', { kind: 'ice_timeout' }), 2);
    assert.equal(sumOf(metrics.samples, 'stagecast_engine_errors_total', { kind: 'leg_failed' }), 0);
  });

  it('a signaling client that never answers hears its legs closed with ice_timeout and stays in the room', async () => {
    const token = await svc.token('ice', 'studio', 'presenter');
    const client = await connectClient(svc.url, token, { join: true, sockets, timeoutMs: GONE_WITHIN_MS });
    const published = await client.request({ type: 'publish', sdp: PUBLISH_OFFER });
    assert.equal(published.type, 'published', JSON.stringify(published));
    const offered = await client.request({ type: 'subscribe' });
    assert.equal(offered.type, 'subscriberOffer', JSON.stringify(offered));

    const unpublished = await client.next((m: Msg) => m.type === 'unpublished' && m.re === undefined);
    assert.equal(unpublished.reason, 'ice_timeout');
    const closed = await client.next((m: Msg) => m.type === 'subscriberClosed');
    assert.equal(closed.reason, 'ice_timeout');
    const me = (await members()).find((m) => m.participantId === client.pid);
    assert.equal(me?.publishing, false, 'still in the room, no longer publishing');
    await client.close();
  });
});
