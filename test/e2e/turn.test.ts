/**
 * TURN through the SFU (passes once wired: docs/wiring-platform.md). A real coturn started by
 * the test; the service gets TURN_URLS and TURN_SECRET and hands time-limited credentials to
 * each participant in the signaling `joined` message. With those, Chromium pages forced to
 * relay (`iceTransportPolicy: 'relay'`) publish over WHIP and play over WHEP through the SFU:
 * frames decode and both selected candidate pairs are relay. A wrong credential never
 * connects.
 *
 * Run: node scripts/test.mjs test/e2e/turn.test.ts
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, it } from 'node:test';
import type { Page } from 'playwright-core';
import { serveBlankPage } from '../support/blankPage.ts';
import { launchChromium, type LaunchedChromium } from '../support/chromium.ts';
import { describeEngines } from '../support/engines.ts';
import { startService, type RunningService } from '../support/service.ts';
import { startCoturn, TURNSERVER_PATH, type RunningCoturn } from '../support/coturn.ts';
import { peerReport, playWhep, publishWhip } from '../support/whip.ts';
import { sleep, waitFor } from '../support/wait.ts';

const skip = existsSync(TURNSERVER_PATH) ? false : `no coturn at ${TURNSERVER_PATH} (apt-get install coturn)`;

type IceServer = { urls: string | string[]; username?: string; credential?: string };

/** Joins over signaling and returns the `joined` message's iceServers. */
async function joinedIceServers(svc: RunningService, room: string, token: string): Promise<IceServer[]> {
  const ws = new WebSocket(`${svc.url.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`);
  try {
    return await new Promise<IceServer[]>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no joined message')), 10000);
      ws.onopen = () => ws.send(JSON.stringify({ v: 1, type: 'join' }));
      ws.onerror = () => reject(new Error('websocket error'));
      ws.onmessage = (m) => {
        const msg = JSON.parse(String(m.data)) as { type: string; roomId?: string; iceServers?: IceServer[] };
        if (msg.type === 'joined') {
          clearTimeout(t);
          assert.equal(msg.roomId, room);
          resolve(msg.iceServers ?? []);
        }
      };
    });
  } finally {
    ws.close();
  }
}

describeEngines('TURN relay through the SFU', (engine) => {
  let coturn: RunningCoturn;
  let svc: RunningService;
  let chromium: LaunchedChromium;
  let blank: Awaited<ReturnType<typeof serveBlankPage>>;
  let room: string;
  const pages: Page[] = [];
  const newPage = async () => {
    const page = await chromium.context.newPage();
    pages.push(page);
    await page.goto(blank.url);
    return page;
  };

  before(async () => {
    coturn = await startCoturn();
    svc = await startService({ LOG_LEVEL: 'warn', TURN_URLS: coturn.urls.join(','), TURN_SECRET: coturn.secret, TURN_TTL_SECONDS: '600', BROADCAST_AUTO_START: 'false' }, { engine });
    blank = await serveBlankPage();
    chromium = await launchChromium();
    room = await svc.createRoom();
  });
  after(async () => {
    for (const p of pages) await p.close().catch(() => {});
    await chromium?.close();
    await blank?.close();
    const code = await svc?.stop();
    await coturn?.close();
    assert.equal(code, 0);
  });

  it('joined carries TURN URLs with a time-limited credential for the identity', async () => {
    const ice = await joinedIceServers(svc, room, await svc.token(room, 'alice', 'presenter'));
    const turn = ice.find((s) => [s.urls].flat().some((u) => u.startsWith('turn:')));
    assert.ok(turn, JSON.stringify(ice));
    assert.deepEqual([turn.urls].flat(), coturn.urls);
    const [expiry, identity] = (turn.username ?? '').split(':');
    assert.equal(identity, 'alice');
    const ttl = Number(expiry) - Date.now() / 1000;
    assert.ok(ttl > 590 && ttl <= 600, `expires in ${ttl} s`);
  });

  it('relay-only WHIP publish and WHEP play through coturn and the SFU: frames decode, both pairs relay', async () => {
    const pubIce = await joinedIceServers(svc, room, await svc.token(room, 'alice', 'presenter'));
    const subIce = await joinedIceServers(svc, room, await svc.token(room, 'mod', 'moderator'));
    const publisher = await newPage();
    const pub = await publishWhip(publisher, svc, room, await svc.token(room, 'alice', 'presenter'), { iceServers: pubIce, relay: true });
    assert.equal(pub.status, 201);
    assert.ok(pub.candidates.length > 0 && pub.candidates.every((c) => c.includes(' typ relay')), JSON.stringify(pub.candidates));
    await waitFor('publisher connected', 15000, () => peerReport(publisher, 'pub'), { until: (r) => r.connectionState === 'connected' });
    await sleep(1000);
    const viewer = await newPage();
    const sub = await playWhep(viewer, svc, room, await svc.token(room, 'mod', 'moderator'), { iceServers: subIce, relay: true });
    assert.equal(sub.status, 201);
    const a = await waitFor('frames through the relay', 20000, () => peerReport(viewer, 'sub'), { until: (r) => r.framesDecoded > 30 });
    const b = await waitFor('frames to keep coming', 10000, () => peerReport(viewer, 'sub'), { until: (r) => r.framesDecoded - a.framesDecoded > 20, throwOnTimeout: false });
    assert.ok(b.framesDecoded - a.framesDecoded > 20, `frames keep coming (${a.framesDecoded} → ${b.framesDecoded})`);
    assert.equal(b.localCandidateType, 'relay');
    assert.equal((await peerReport(publisher, 'pub')).localCandidateType, 'relay');
    assert.ok(coturn.logs.some((l) => /alice/.test(l)), 'coturn authenticated the publisher');
  });

  it('a wrong credential gathers no relay candidate and never connects', async () => {
    const page = await newPage();
    const bad: IceServer[] = [{ urls: coturn.urls, username: `${Math.floor(Date.now() / 1000) + 600}:eve`, credential: 'd3JvbmcgY3JlZGVudGlhbA==' }];
    const res = await publishWhip(page, svc, room, await svc.token(room, 'eve', 'presenter'), { iceServers: bad, relay: true, gatherTimeoutMs: 4000 });
    assert.deepEqual(res.candidates, []);
    await sleep(4000);
    assert.notEqual((await peerReport(page, 'pub')).connectionState, 'connected');
  });
}, { skip });
