/**
 * Webhooks through the whole service (passes once wired: docs/wiring-platform.md), against a
 * real HTTP receiver the test starts:
 * - deliveries verify with the documented recipe;
 * - the receiver is down for 60 s (TEST_WEBHOOK_OUTAGE_MS), with a service restart (SIGTERM, exit 0, same outbox) in
 *   between; afterwards every event is delivered, in order within each room, none lost, and
 *   duplicates (the receiver answers 500 to some first deliveries) carry the same id;
 * - the API lists deliveries by room and status and retries one.
 *
 * Run: node scripts/test.mjs test/e2e/webhooks.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startService, type RunningService } from '../support/service.ts';

import { acceptedOnce, startReceiver, type TestReceiver } from '../support/webhookReceiver.ts';
import { msFromEnv } from '../support/env.ts';
import { sleep, waitFor } from '../support/wait.ts';

const SECRET = 'whsec_e2e_0123456789abcdef';
/** How long the receiver stays down; 60 s unless TEST_WEBHOOK_OUTAGE_MS says otherwise. */
const OUTAGE_MS = msFromEnv('TEST_WEBHOOK_OUTAGE_MS', 60_000);

interface Delivery {
  id: string;
  eventId: string;
  type: string;
  room: string;
  status: string;
  attempts: number;
  lastError: string | null;
}

/** A participant over signaling: join, optionally raise a hand, and leave when asked. */
async function joinOverSignaling(svc: RunningService, token: string): Promise<{ send(msg: object): void; leave(): Promise<void>; participantId: string }> {
  const ws = new WebSocket(`${svc.url.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`);
  const participantId = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no joined')), 10000);
    ws.onopen = () => ws.send(JSON.stringify({ v: 1, type: 'join' }));
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data)) as { type: string; participantId?: string };
      if (msg.type === 'joined') {
        clearTimeout(t);
        resolve(msg.participantId!);
      }
    };
  });
  return {
    participantId,
    send: (msg) => ws.send(JSON.stringify({ v: 1, ...msg })),
    leave: () =>
      new Promise<void>((resolve) => {
        ws.onclose = () => resolve();
        ws.send(JSON.stringify({ v: 1, type: 'leave' }));
      }),
  };
}

describe('webhooks, whole system', () => {
  let dir: string;
  let rx: TestReceiver;
  let svc: RunningService | undefined;
  const env = () => ({
    LOG_LEVEL: 'warn',
    WEBHOOK_URLS: rx.url,
    WEBHOOK_SECRET: SECRET,
    WEBHOOK_DB_PATH: join(dir, 'outbox.db'),
    WEBHOOK_RETRY_INITIAL_MS: '500',
    WEBHOOK_RETRY_MAX_MS: '4000',
    WEBHOOK_FLUSH_MS: '1000',
    BROADCAST_AUTO_START: 'false',
    STORAGE_DIR: join(dir, 'hls'),
  });
  const deliveries = async (query = ''): Promise<Delivery[]> => {
    const res = await svc!.api(`/api/webhooks/deliveries?limit=1000${query}`);
    assert.equal(res.status, 200);
    return ((await res.json()) as { deliveries: Delivery[] }).deliveries;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stagecast-webhooks-e2e-'));
    rx = await startReceiver(SECRET);
    svc = await startService(env());
  });
  after(async () => {
    await svc?.stop();
    await rx?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('signs deliveries the documented way', async () => {
    await svc!.createRoom('wh-a');
    const got = await waitFor('room.started', 10000, () => rx.received.filter((r) => r.event.room === 'wh-a'), { until: (r) => r.length > 0 });
    assert.equal(got[0]!.event.type, 'room.started');
    assert.equal(got[0]!.verified, true);
    assert.equal(got[0]!.id, got[0]!.event.id);
  });

  it(`receiver down ${OUTAGE_MS / 1000} s with a restart in between: everything arrives, in order per room, duplicates share the id`, { timeout: OUTAGE_MS + 180_000 }, async () => {
    await rx.stop();
    const downAt = Date.now();
    // Run 1: room and participant events while the receiver is down.
    const viewer = await joinOverSignaling(svc!, await svc!.token('wh-a', 'vera', 'viewer'));
    viewer.send({ type: 'raiseHand' });
    await sleep(200);
    const promoted = await svc!.api(`/api/rooms/wh-a/participants/${viewer.participantId}/promote`, { method: 'POST' });
    assert.equal(promoted.status, 200);
    await viewer.leave();
    await svc!.createRoom('wh-b');
    const bob = await joinOverSignaling(svc!, await svc!.token('wh-b', 'bob', 'presenter'));
    await bob.leave();
    assert.equal((await svc!.api('/api/rooms/wh-b', { method: 'DELETE' })).status, 200);
    const pending = await waitFor('failed attempts', 10000, () => deliveries('&status=pending'), { until: (d) => d.some((x) => x.attempts > 0) });
    assert.ok(pending.length >= 8, `pending ${pending.length}`);
    assert.ok(pending.some((d) => d.lastError === 'connection refused'), JSON.stringify(pending[0]));
    const room = await deliveries('&room=wh-b');
    assert.ok(room.every((d) => d.room === 'wh-b'));

    // Restart on the same outbox; wh-a's room.ended is enqueued by the shutdown.
    const t0 = Date.now();
    assert.equal(await svc!.stop(), 0, 'exits 0 with deliveries pending');
    assert.ok(Date.now() - t0 < 10000);
    svc = await startService(env());
    await svc.createRoom('wh-a');
    await svc.createRoom('wh-c');
    const carol = await joinOverSignaling(svc, await svc.token('wh-c', 'carol', 'presenter'));
    await carol.leave();

    // The receiver comes back after the outage, answering 500 to the first delivery of every third event.
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
    let n = 0;
    const seen = new Set<string>();
    rx.respond = (r) => {
      const first = !seen.has(r.id);
      seen.add(r.id);
      return first && n++ % 3 === 0 ? 500 : 200;
    };
    await rx.start();
    const all = await waitFor('every delivery delivered', 60000, () => deliveries(), { until: (d) => d.length > 0 && d.every((x) => x.status === 'delivered'), stepMs: 500 });

    const accepted = acceptedOnce(rx.received);
    assert.deepEqual(new Set(accepted.map((r) => r.id)), new Set(all.map((d) => d.eventId)), 'none lost');
    assert.ok(rx.received.every((r) => r.verified), 'every delivery verifies');
    const chronological = [...all].reverse(); // the API lists newest first
    for (const roomId of ['wh-a', 'wh-b', 'wh-c']) {
      const expected = chronological.filter((d) => d.room === roomId).map((d) => d.eventId);
      const firstArrivals = [...new Set(rx.received.filter((r) => r.event.room === roomId).map((r) => r.id))];
      assert.deepEqual(firstArrivals, expected, `${roomId} in order`);
      assert.deepEqual(accepted.filter((r) => r.event.room === roomId).map((r) => r.id), expected);
    }
    const types = new Set(accepted.map((r) => r.event.type));
    for (const t of ['room.started', 'room.ended', 'participant.joined', 'participant.left', 'participant.hand_raised', 'participant.role_changed']) assert.ok(types.has(t), `${t} delivered`);
    const waRun = accepted.filter((r) => r.event.room === 'wh-a').map((r) => r.event.type);
    assert.ok(waRun.indexOf('room.ended') < waRun.lastIndexOf('room.started'), 'run 1 room.ended before run 2 room.started');
    // Duplicates: same id and the same body.
    const byId = new Map<string, string>();
    let duplicates = 0;
    for (const r of rx.received) {
      const body = byId.get(r.id);
      if (body === undefined) byId.set(r.id, r.rawBody);
      else {
        duplicates++;
        assert.equal(r.rawBody, body, 'a redelivery carries the same body');
      }
    }
    assert.ok(duplicates > 0, 'some events came twice');
  });

  it('the API retries one delivery: it arrives again with the same event id', async () => {
    const [latest] = await deliveries('&room=wh-c&status=delivered');
    assert.ok(latest);
    const before = rx.received.filter((r) => r.id === latest.eventId).length;
    const res = await svc!.api(`/api/webhooks/deliveries/${latest.id}/retry`, { method: 'POST' });
    assert.equal(res.status, 202);
    await waitFor('redelivery', 10000, () => rx.received.filter((r) => r.id === latest.eventId).length, { until: (n) => n > before });
    assert.equal((await svc!.api('/api/webhooks/deliveries/whd_nope/retry', { method: 'POST' })).status, 404);
  });
});
