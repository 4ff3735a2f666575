/**
 * Roles and moderation, working side, against the spawned service with Chromium pages that use
 * only plain RTCPeerConnection (test/support/rtcPage.ts); signaling is driven from Node over
 * the WebSocket. Hand queue order; promote → the viewer publishes and its tracks reach the
 * stage; demote → its tracks leave and publishing is refused again; mute pauses a track on the
 * server (the receiver stops decoding frames) and unmute resumes it; kick closes with 4010 and
 * blocks the identity (WS and WHIP, even with a fresh token) until unblocked; endBroadcast.
 *
 * Run: npm run build:player && node scripts/test.mjs test/e2e/moderation.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { Page } from 'playwright-core';
import type WebSocket from 'ws';
import { serveBlankPage } from '../support/blankPage.ts';
import { launchChromium, type LaunchedChromium } from '../support/chromium.ts';
import { describeEngines } from '../support/engines.ts';
import { applyAnswer, inbound, openRtcPage, publisherOffer } from '../support/rtcPage.ts';
import { startService, type RunningService } from '../support/service.ts';
import { connectClient, tryConnect, type JoinedClient, type Msg } from '../support/wsClient.ts';
import { sleep, waitFor } from '../support/wait.ts';

describeEngines('moderation', (engine) => {
  let svc: RunningService;
  let chromium: LaunchedChromium;
  let blank: { url: string; close(): Promise<void> };
  const sockets: WebSocket[] = [];
  const pages: Page[] = [];
  let nextId = 0;

  before(async () => {
    svc = await startService({ LOG_LEVEL: 'info' }, { engine });
    chromium = await launchChromium();
    blank = await serveBlankPage();
  });
  after(async () => {
    for (const ws of sockets) ws.terminate();
    for (const page of pages) await page.close().catch(() => {});
    await chromium?.close();
    await blank?.close();
    assert.equal(await svc?.stop(), 0, 'service exits 0 on SIGTERM');
  });

  /** The HTTP status of a refused upgrade, or 101 if it opened (then closed again). */
  async function upgradeStatus(token: string): Promise<number> {
    const result = await tryConnect(svc.url, `token=${encodeURIComponent(token)}`);
    if (!('ws' in result)) return result.status;
    result.ws.close();
    return 101;
  }

  const connect = async (room: string, identity: string, role: 'presenter' | 'moderator' | 'viewer') =>
    connectClient(svc.url, await svc.token(room, identity, role), { sockets, join: true, timeoutMs: 10000, label: identity });

  async function rtcPage(): Promise<Page> {
    const page = await openRtcPage(chromium.context, blank.url);
    pages.push(page);
    return page;
  }

  /** Publishes the page's fake camera+mic through `client`; resolves with the `published` reply. */
  async function publish(client: JoinedClient, page: Page): Promise<Msg> {
    const reply = await client.request({ type: 'publish', sdp: await publisherOffer(page) });
    assert.equal(reply.type, 'published', JSON.stringify(reply));
    await applyAnswer(page, '__pub', reply.sdp as string);
    return reply;
  }

  /** Subscribes `client` to the stage in `page` (as `__sub`) and answers every later offer. */
  async function subscribe(client: JoinedClient, page: Page): Promise<void> {
    const answer = async (offer: Msg) => {
      const sdp = await page.evaluate((s) => (window as unknown as { __answerOffer(s: string): Promise<string> }).__answerOffer(s), offer.sdp as string);
      client.ws.send(JSON.stringify({ v: 1, id: `a${++nextId}`, type: 'subscriberAnswer', version: offer.version, sdp }));
    };
    let chain = Promise.resolve();
    client.ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as Msg;
      if (msg.type === 'subscriberOffer' && msg.re === undefined) chain = chain.then(() => answer(msg)).catch(() => {});
    });
    const first = await client.request({ type: 'subscribe' });
    assert.equal(first.type, 'subscriberOffer', JSON.stringify(first));
    chain = chain.then(() => answer(first));
    await chain;
  }

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await svc.api(path, { method, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it('hand queue: in raise order, to moderators (events and joined), lowered by owner, moderator or API', async () => {
    await svc.createRoom('hands');
    const early = await connect('hands', 'mod-early', 'moderator');
    const [v1, v2, v3] = [await connect('hands', 'v1', 'viewer'), await connect('hands', 'v2', 'viewer'), await connect('hands', 'v3', 'viewer')];
    for (const v of [v2, v1, v3]) assert.equal((await v.request({ type: 'raiseHand' })).type, 'ok');
    await v2.request({ type: 'raiseHand' }); // again: keeps its place
    const order = (q: unknown) => (q as { identity: string }[]).map((h) => h.identity);
    const lastRaise = await early.next((m) => m.type === 'handRaised' && m.participantId === v3.pid);
    assert.deepEqual(order(lastRaise.queue), ['v2', 'v1', 'v3']);
    assert.equal(early.inbox.filter((m) => m.type === 'handRaised').length, 3);
    // The owner hears of its own hand, without the queue; other viewers hear nothing.
    const own = await v1.next((m) => m.type === 'handRaised');
    assert.equal(own.participantId, v1.pid);
    assert.equal(own.queue, undefined);
    assert.ok(!v1.inbox.some((m) => m.type === 'handRaised' && m.participantId !== v1.pid));

    const late = await connect('hands', 'mod-late', 'moderator');
    assert.deepEqual(order(late.joined.handQueue), ['v2', 'v1', 'v3']);
    assert.equal(v1.joined.handQueue, undefined, 'viewers do not get the queue');
    const raised = (late.joined.participants as { participantId: string; handRaised: boolean }[]).filter((p) => p.handRaised).length;
    assert.equal(raised, 3);

    await v1.request({ type: 'lowerHand' });
    assert.deepEqual(order((await late.next((m) => m.type === 'handLowered' && m.participantId === v1.pid)).queue), ['v2', 'v3']);
    await late.request({ type: 'lowerHand', participantId: v3.pid });
    const byMod = await v3.next((m) => m.type === 'handLowered');
    assert.equal(byMod.reason, 'moderator');
    assert.equal(byMod.by, late.pid);
    const viaApi = await api('GET', '/api/rooms/hands/hands');
    assert.deepEqual(order(viaApi.json.queue), ['v2']);
    assert.deepEqual(order((await api('DELETE', `/api/rooms/hands/hands/${v2.pid}`)).json.queue), []);
    for (const c of [early, late, v1, v2, v3]) c.ws.close();
  });

  it('promote → the viewer publishes and is on stage; demote → its tracks leave and publish is refused again', async () => {
    await svc.createRoom('stage');
    const mod = await connect('stage', 'mod', 'moderator');
    const presenter = await connect('stage', 'pres', 'presenter');
    const viewer = await connect('stage', 'viewer', 'viewer');
    const viewerPage = await rtcPage();

    assert.equal((await viewer.request({ type: 'publish', sdp: await publisherOffer(viewerPage) })).code, 'forbidden');
    await viewer.request({ type: 'raiseHand' });
    await mod.next((m) => m.type === 'handRaised');

    assert.equal((await mod.request({ type: 'promote', participantId: viewer.pid })).type, 'ok');
    for (const c of [viewer, presenter, mod]) {
      const changed = await c.next((m) => m.type === 'roleChanged' && m.participantId === viewer.pid);
      assert.deepEqual([changed.role, changed.previousRole, changed.by], ['guest', 'viewer', mod.pid]);
    }
    assert.equal((await mod.next((m) => m.type === 'handLowered' && m.participantId === viewer.pid)).reason, 'promoted');
    const members = (await api('GET', '/api/rooms/stage')).json.members as { participantId: string; role: string }[];
    assert.equal(members.find((m) => m.participantId === viewer.pid)?.role, 'guest');

    // No reconnect: the same socket may publish now.
    await publish(viewer, viewerPage);
    for (const kind of ['audio', 'video']) {
      await presenter.next((m) => m.type === 'trackPublished' && (m.track as { participantId: string; kind: string }).participantId === viewer.pid && (m.track as { kind: string }).kind === kind, 15000);
    }
    // The presenter's page receives the guest's camera.
    const presenterPage = await rtcPage();
    await subscribe(presenter, presenterPage);
    await waitFor('the presenter decoding the guest video', 15000, async () => (await inbound(presenterPage)).framesDecoded > 10);

    // Demote over the HTTP API this time.
    const demoted = await api('POST', `/api/rooms/stage/participants/${viewer.pid}/demote`);
    assert.equal(demoted.status, 200);
    assert.equal((demoted.json.participant as { role: string }).role, 'viewer');
    const back = await viewer.next((m) => m.type === 'roleChanged' && m.role === 'viewer');
    assert.equal(back.by, undefined, 'API actions carry no by');
    assert.equal((await viewer.next((m) => m.type === 'unpublished' && m.re === undefined)).reason, 'demoted');
    for (const kind of ['audio', 'video']) {
      const gone = await presenter.next((m) => m.type === 'trackUnpublished' && (m.track as { participantId: string; kind: string }).participantId === viewer.pid && (m.track as { kind: string }).kind === kind);
      // Revision 6: a decision, not a fault: the stage views drop its tile at once.
      assert.equal(gone.reason, 'client_request', `trackUnpublished ${kind} says why`);
    }
    const stageTracks = (await api('GET', '/api/rooms/stage')).json.tracks;
    assert.equal(stageTracks, 0);
    const again = await viewer.request({ type: 'publish', sdp: await publisherOffer(viewerPage) });
    assert.equal(again.code, 'forbidden');
    // Promote/demote are one step each: a second demote is a conflict.
    assert.equal((await api('POST', `/api/rooms/stage/participants/${viewer.pid}/demote`)).status, 409);
    assert.equal((await mod.request({ type: 'promote', participantId: presenter.pid })).code, 'invalid_state');
    for (const c of [mod, presenter, viewer]) c.ws.close();
  });

  it('mute pauses a track on the server (receiver stops decoding), unmute resumes; everyone is told', async () => {
    await svc.createRoom('mute');
    const mod = await connect('mute', 'mod', 'moderator');
    const presenter = await connect('mute', 'pres', 'presenter');
    const presenterPage = await rtcPage();
    await publish(presenter, presenterPage);
    const modPage = await rtcPage();
    await mod.next((m) => m.type === 'trackPublished' && (m.track as { kind: string }).kind === 'video', 15000);
    await subscribe(mod, modPage);
    await waitFor('frames before mute', 15000, async () => (await inbound(modPage)).framesDecoded > 10);

    assert.equal((await mod.request({ type: 'mute', participantId: presenter.pid, kind: 'video' })).type, 'ok');
    for (const c of [mod, presenter]) {
      const muted = await c.next((m) => m.type === 'trackMuted');
      assert.equal(muted.participantId, presenter.pid);
      assert.equal(muted.kind, 'video');
      assert.equal((muted.track as { muted: boolean }).muted, true);
    }
    await sleep(700);
    const a = (await inbound(modPage)).framesDecoded;
    await sleep(1500);
    const b = (await inbound(modPage)).framesDecoded;
    assert.ok(b - a <= 1, `frames stopped while muted (${a} → ${b})`);
    const state = (await api('GET', '/api/rooms/mute')).json.members as { participantId: string; muted: string[] }[];
    assert.deepEqual(state.find((m) => m.participantId === presenter.pid)?.muted, ['video']);

    const unmuted = await api('POST', `/api/rooms/mute/participants/${presenter.pid}/unmute`, { kind: 'video' });
    assert.equal(unmuted.status, 200);
    await presenter.next((m) => m.type === 'trackUnmuted');
    await waitFor('frames resuming after unmute', 10000, async () => (await inbound(modPage)).framesDecoded > b + 15);
    for (const c of [mod, presenter]) c.ws.close();
  });

  it('kick closes with 4010 and blocks the identity (WS and WHIP, even with a fresh token) until unblocked', async () => {
    await svc.createRoom('kick');
    const mod = await connect('kick', 'mod', 'moderator');
    const target = await connect('kick', 'troll', 'presenter');
    assert.equal((await mod.request({ type: 'kick', participantId: target.pid, reason: 'spam' })).type, 'ok');
    const kicked = await target.next((m) => m.type === 'participantKicked');
    assert.deepEqual([kicked.participantId, kicked.identity, kicked.reason, kicked.by], [target.pid, 'troll', 'spam', mod.pid]);
    assert.equal((await target.next((m) => m.type === 'bye')).reason, 'kicked');
    assert.deepEqual(await target.closed, { code: 4010, reason: 'kicked' });
    assert.equal((await mod.next((m) => m.type === 'participantLeft' && m.participantId === target.pid)).reason, 'kicked');
    assert.equal(((await mod.next((m) => m.type === 'identityBlocked')).block as { identity: string }).identity, 'troll');

    const fresh = await svc.token('kick', 'troll', 'presenter');
    assert.equal(await upgradeStatus(fresh), 403);
    // A real offer, so that only the block can refuse it.
    const offer = await publisherOffer(await rtcPage());
    const whip = await fetch(`${svc.url}/whip/kick`, { method: 'POST', headers: { authorization: `Bearer ${fresh}`, 'content-type': 'application/sdp' }, body: offer });
    assert.equal(whip.status, 403);
    assert.equal(((await whip.json()) as { error: { message: string } }).error.message, 'identity is blocked in this room');
    // The block is checked before the offer: even garbage SDP gets 403, not 400.
    const garbage = await fetch(`${svc.url}/whip/kick`, { method: 'POST', headers: { authorization: `Bearer ${fresh}`, 'content-type': 'application/sdp' }, body: 'not sdp' });
    assert.equal(garbage.status, 403);
    const blocks = (await api('GET', '/api/rooms/kick/blocks')).json.blocks as { identity: string; by: string; reason: string; blockedAt: string }[];
    assert.deepEqual(blocks.map((b) => [b.identity, b.by, b.reason]), [['troll', mod.pid, 'spam']]);
    assert.ok(!Number.isNaN(Date.parse(blocks[0]!.blockedAt)));
    // Others are not affected.
    assert.equal(await upgradeStatus(await svc.token('kick', 'someone-else', 'viewer')), 101);

    assert.equal((await api('DELETE', '/api/rooms/kick/blocks/troll')).status, 200);
    assert.equal((await api('DELETE', '/api/rooms/kick/blocks/troll')).status, 404);
    await mod.next((m) => m.type === 'identityUnblocked' && m.identity === 'troll');
    const back = await connect('kick', 'troll', 'presenter');
    assert.equal(back.joined.role, 'presenter');

    // Kick over the API, then unblock over the WebSocket.
    const apiKick = await api('POST', `/api/rooms/kick/participants/${back.pid}/kick`, {});
    assert.equal(apiKick.status, 200);
    assert.equal((await back.closed).code, 4010);
    assert.equal(await upgradeStatus(fresh), 403);
    assert.equal((await mod.request({ type: 'unblock', identity: 'troll' })).type, 'ok');
    assert.equal(await upgradeStatus(fresh), 101);
    mod.ws.close();
  });

  it('console page: shows participants and the hand queue in order; its buttons promote, mute and kick', async () => {
    await svc.createRoom('console');
    const page = await chromium.context.newPage();
    pages.push(page);
    await page.goto(`${svc.url}/console?room=console&token=${await svc.token('console', 'mia', 'moderator')}`);
    await page.waitForSelector('[data-testid="status"][data-state="ready"]');
    const [v1, v2] = [await connect('console', 'first', 'viewer'), await connect('console', 'second', 'viewer')];
    await v2.request({ type: 'raiseHand' });
    await v1.request({ type: 'raiseHand' });
    const queue = () => page.$$eval('[data-testid="hand"]', (els) => els.map((e) => e.getAttribute('data-identity')));
    assert.ok(await waitFor('the queue second,first', 10000, async () => (await queue()).join() === 'second,first', { throwOnTimeout: false }), `queue: ${await queue()}`);
    const row = (pid: string) => `[data-testid="participant"][data-participant-id="${pid}"]`;
    assert.equal(await page.getAttribute(row(v1.pid), 'data-role'), 'viewer');

    await page.click(`[data-testid="hand"][data-participant-id="${v1.pid}"] [data-testid="hand-promote"]`);
    assert.equal((await v1.next((m) => m.type === 'roleChanged')).role, 'guest');
    await page.waitForSelector(`${row(v1.pid)}[data-role="guest"]`);
    assert.deepEqual(await queue(), ['second']);

    await page.click(`${row(v1.pid)} [data-testid="mute-audio"]`);
    assert.equal((await v1.next((m) => m.type === 'trackMuted')).kind, 'audio');
    await page.waitForSelector(`${row(v1.pid)} [data-testid="unmute-audio"]`);

    await page.click(`${row(v1.pid)} [data-testid="demote"]`);
    assert.equal((await v1.next((m) => m.type === 'roleChanged' && m.role === 'viewer')).previousRole, 'guest');

    await page.click(`${row(v2.pid)} [data-testid="kick"]`);
    assert.equal((await v2.closed).code, 4010);
    await page.waitForSelector('[data-testid="block"][data-identity="second"]');
    assert.equal(await page.$(row(v2.pid)), null);
    await page.click('[data-testid="block"][data-identity="second"] [data-testid="unblock"]');
    await waitFor('no block left', 10000, async () => (await page.$$('[data-testid="block"]')).length === 0);
    assert.equal(await upgradeStatus(await svc.token('console', 'second', 'viewer')), 101);
    // No moderator token, no console.
    await page.goto(`${svc.url}/console?room=console&token=${await svc.token('console', 'nosy', 'viewer')}`);
    await page.waitForSelector('[data-testid="status"][data-state="error"]');
    v1.ws.close();
  });

  it('endBroadcast: a moderator ends the HLS broadcast and the room is told', async () => {
    await svc.createRoom('bcast');
    const mod = await connect('bcast', 'mod', 'moderator');
    assert.equal(mod.joined?.broadcast, 'none', 'joined reports no broadcast before anyone is live');
    const presenter = await connect('bcast', 'pres', 'presenter');
    await publish(presenter, await rtcPage());
    await presenter.next((m) => m.type === 'broadcastStarted', 20000);
    assert.equal((await mod.request({ type: 'endBroadcast' })).type, 'ok');
    for (const c of [mod, presenter]) assert.equal((await c.next((m) => m.type === 'broadcastEnded', 10000)).reason, 'api');
    assert.equal((await api('GET', '/api/rooms/bcast/broadcast')).json.state, 'ended');
    assert.equal((await mod.request({ type: 'endBroadcast' })).code, 'invalid_state');
    const late = await connect('bcast', 'late', 'viewer');
    assert.equal(late.joined?.broadcast, 'ended', 'a client joining later learns the broadcast ended');
    late.ws.close();
    for (const c of [mod, presenter]) c.ws.close();
  });
});
