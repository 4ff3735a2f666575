/**
 * What only the mediasoup engine does, driven by real Chromium pages straight against the engine:
 * browser simulcast with the layer chosen per subscriber, pipeToRouter when a room outgrows its
 * worker's consumer budget, ActiveSpeakerObserver events, and recovery from a dead worker.
 * Skips, with the reason, where no mediasoup worker binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import * as mediasoup from 'mediasoup';
import type { Page } from 'playwright-core';
import type { CloseReason, MediaEngine, SubscriberOffer } from '../../services/engine/EngineTypes.ts';
import { serveBlankPage } from '../support/blankPage.ts';
import { launchChromium, type LaunchedChromium } from '../support/chromium.ts';
import { mediasoupTestEngine } from '../support/mediasoupEngine.ts';
import { describeUnlessSkipped, testEngine } from '../support/engines.ts';
import { applyAnswer, inbound, openRtcPage, publisherOffer, simulcastPublisherOffer } from '../support/rtcPage.ts';
import { sleep, waitFor } from '../support/wait.ts';

const { skip } = testEngine('mediasoup');

let enginesMade = 0;

/** An engine with its own port range (17000, 17200, …). */
function engineWith(env: Record<string, string>): Promise<MediaEngine> {
  return mediasoupTestEngine(17000 + 200 * enginesMade++, env);
}

describeUnlessSkipped('mediasoup engine: simulcast, pipes, active speaker, worker death', skip, () => {
  let chromium: LaunchedChromium;
  let blank: Awaited<ReturnType<typeof serveBlankPage>>;
  const engines: MediaEngine[] = [];
  const workers: mediasoup.types.Worker[] = [];
  mediasoup.observer.on('newworker', (w) => workers.push(w));

  before(async () => {
    chromium = await launchChromium();
    blank = await serveBlankPage();
  });
  after(async () => {
    await chromium?.close();
    for (const e of engines) await e.close();
    await blank?.close();
  });

  const newPage = (): Promise<Page> => openRtcPage(chromium.context, blank.url);

  /** A subscriber page that answers every engine offer for `peerId`, in order. */
  function follow(engine: MediaEngine, roomId: string, peerId: string, page: Page): { answerAll(): Promise<void>; offers: SubscriberOffer[] } {
    const offers: SubscriberOffer[] = [];
    let handled = 0;
    engine.on('subscriberoffer', (room, peer, offer) => room === roomId && peer === peerId && offers.push(offer));
    return {
      offers,
      async answerAll() {
        for (const o of offers.filter((x) => x.version > handled)) {
          handled = o.version;
          const answer = await page.evaluate((s) => (window as unknown as { __answerOffer(s: string): Promise<string> }).__answerOffer(s), o.offer);
          await engine.answerSubscriber(roomId, peerId, o.version, answer);
        }
      },
    };
  }

  async function subscribeFollowing(engine: MediaEngine, roomId: string, peerId: string): Promise<{ page: Page; answerAll(): Promise<void> }> {
    const page = await newPage();
    const f = follow(engine, roomId, peerId, page);
    const first = await engine.subscribe(roomId, peerId);
    f.offers.push(first);
    await f.answerAll();
    return { page, answerAll: f.answerAll };
  }

  async function frameWidth(page: Page): Promise<number> {
    return page.evaluate(async () => {
      const pc = (window as unknown as { __sub: RTCPeerConnection }).__sub;
      let width = 0;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video' && s.frameWidth) width = Math.max(width, s.frameWidth as number);
      });
      return width;
    });
  }

  it('simulcast: a 720p three-layer publisher; each subscriber gets the layer it chose', async () => {
    const engine = await engineWith({ MEDIASOUP_WORKERS: '1' });
    engines.push(engine);
    assert.equal(engine.capabilities.simulcast, true);
    await engine.createRoom('sim');
    const pub = await newPage();
    const offer = await simulcastPublisherOffer(pub);
    const res = await engine.publish('sim', 'alice', offer);
    await applyAnswer(pub, '__pub', res.answer);
    await waitFor('the simulcast track', 10000, async () => (await engine.listTracks('sim')).length === 1);
    const trackId = res.tracks[0]!.trackId;

    const low = await subscribeFollowing(engine, 'sim', 'low');
    const high = await subscribeFollowing(engine, 'sim', 'high');
    await waitFor('both subscribers decoding', 20000, async () => (await low.answerAll(), await high.answerAll(), (await inbound(low.page)).framesDecoded > 10 && (await inbound(high.page)).framesDecoded > 10), { stepMs: 300 });

    await engine.setSubscriberLayers('sim', 'low', trackId, { spatialLayer: 0 });
    await engine.setSubscriberLayers('sim', 'high', trackId, { spatialLayer: 2 });
    // Chromium's encoder needs a few seconds of bandwidth estimate before it sends its top layer.
    const settled = await waitFor('each subscriber on its layer', 25000, async () => {
      const [l, h] = [await frameWidth(low.page), await frameWidth(high.page)];
      return l > 0 && l <= 400 && h >= 960;
    }, { stepMs: 500, throwOnTimeout: false });
    const widths = { low: await frameWidth(low.page), high: await frameWidth(high.page) };
    assert.ok(settled, `low should get the quarter layer and high the full one: ${JSON.stringify(widths)}`);
    await engine.closeRoom('sim', 'client_request');
    await Promise.all([pub.close(), low.page.close(), high.page.close()]);
  });

  it('pipeToRouter: past the per-worker consumer budget, new subscribers land on another worker and still decode', async () => {
    const engine = await engineWith({ MEDIASOUP_WORKERS: '2', MEDIASOUP_CONSUMERS_PER_WORKER: '2' });
    engines.push(engine);
    const routers: mediasoup.types.Router[] = [];
    for (const w of workers.slice(-2)) w.observer.on('newrouter', (r) => routers.push(r));
    await engine.createRoom('pipe');
    const pub = await newPage();
    const res = await engine.publish('pipe', 'alice', await publisherOffer(pub));
    await applyAnswer(pub, '__pub', res.answer);
    await waitFor('the two tracks of pipe', 10000, async () => (await engine.listTracks('pipe')).length === 2);

    // Audio + video = two consumers each: the first subscriber fills the budget of the room's worker.
    const subs = [await subscribeFollowing(engine, 'pipe', 's1'), await subscribeFollowing(engine, 'pipe', 's2'), await subscribeFollowing(engine, 'pipe', 's3')];
    const all = await waitFor('every subscriber decoding', 20000, async () => {
      for (const s of subs) await s.answerAll();
      const stats = await Promise.all(subs.map((s) => inbound(s.page)));
      return stats.every((s) => s.framesDecoded > 20 && s.audioBytes > 2000);
    }, { stepMs: 300, throwOnTimeout: false });
    assert.ok(all, `every subscriber decodes: ${JSON.stringify(await Promise.all(subs.map((s) => inbound(s.page))))}`);
    const roomRouters = routers.filter((r) => (r.appData as { roomId?: string }).roomId === 'pipe');
    assert.equal(roomRouters.length, 2, 'the room should have a second, piped router');
    await engine.closeRoom('pipe', 'client_request');
    await Promise.all([pub.close(), ...subs.map((s) => s.page.close())]);
  });

  it('active speaker: the room names a publishing peer as dominant speaker', async () => {
    const engine = await engineWith({ MEDIASOUP_WORKERS: '1' });
    engines.push(engine);
    assert.equal(engine.capabilities.activeSpeaker, true);
    const speakers: string[] = [];
    engine.on('activespeaker', (room, peer) => room === 'talk' && speakers.push(peer));
    await engine.createRoom('talk');
    const pub = await newPage();
    const res = await engine.publish('talk', 'alice', await publisherOffer(pub));
    await applyAnswer(pub, '__pub', res.answer);
    // Chromium's fake microphone beeps: alice is the only one making sound.
    await waitFor('an activespeaker event', 15000, () => speakers.length > 0);
    assert.equal(speakers[0], 'alice');
    await engine.closeRoom('talk', 'client_request');
    await pub.close();
  });

  it('worker death: legs close with engine_died, the room is rebuilt on the replacement worker, and media flows again', async () => {
    const engine = await engineWith({ MEDIASOUP_WORKERS: '1' });
    engines.push(engine);
    const closed: [string, string, CloseReason][] = [];
    engine.on('legclosed', (_room, peer, leg, reason) => closed.push([peer, leg, reason]));
    let died = false;
    engine.on('died', () => (died = true));
    await engine.createRoom('crash');
    const pub = await newPage();
    const res = await engine.publish('crash', 'alice', await publisherOffer(pub));
    await applyAnswer(pub, '__pub', res.answer);
    const sub = await subscribeFollowing(engine, 'crash', 'viewer');
    await waitFor('the subscriber decoding', 20000, async () => (await sub.answerAll(), (await inbound(sub.page)).framesDecoded > 10), { stepMs: 300 });

    const victim = workers.at(-1)!;
    process.kill(victim.pid, 'SIGKILL');
    assert.ok(await waitFor('closed legs', 10000, () => closed.length >= 2, { throwOnTimeout: false }), `legs should close: ${JSON.stringify(closed)}`);
    assert.deepEqual(closed.map(([peer, leg, reason]) => `${peer}/${leg}/${reason}`).sort(), ['alice/publisher/engine_died', 'viewer/subscriber/engine_died']);
    assert.equal(died, false, 'one dead worker is replaced, not fatal');
    assert.equal((await engine.listTracks('crash')).length, 0);

    // Clients reconnect: publish and subscribe again in the same room, on the new worker.
    await pub.evaluate(() => (window as unknown as { __pub: RTCPeerConnection }).__pub.close());
    // The replacement worker may still be starting: the room answers 503 until it has a router.
    let res2: Awaited<ReturnType<MediaEngine['publish']>> | undefined;
    const deadline = Date.now() + 10000;
    while (!res2) {
      try {
        res2 = await engine.publish('crash', 'alice', await publisherOffer(pub));
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(250);
      }
    }
    await applyAnswer(pub, '__pub', res2.answer);
    await sub.page.evaluate(() => {
      const w = window as unknown as { __sub?: RTCPeerConnection };
      w.__sub?.close();
      delete w.__sub;
    });
    const again = await subscribeFollowing(engine, 'crash', 'viewer');
    await waitFor('media flowing again after the worker was replaced', 20000, async () => (await again.answerAll(), (await inbound(again.page)).framesDecoded > 10), { stepMs: 300 });
    assert.notEqual(workers.at(-1)!.pid, victim.pid, 'a new worker process runs');
    await engine.closeRoom('crash', 'client_request');
    await Promise.all([pub.close(), sub.page.close(), again.page.close()]);
  });
});
