/**
 * WHEP viewers on the mediasoup engine, against real Chromium pages and a real worker:
 * - a receiver that numbers its codecs its own way is sent its own payload types (a router
 *   numbered its way, fed by pipeToRouter);
 * - under random loss, NACKs are answered by retransmission (no rtx: the packet is resent as it
 *   was), so the picture keeps going;
 * - a receiver whose offer leaves mediasoup no extension id for a bandwidth estimate (Chromium's
 *   own offer) is squeezed through a slow link: its simulcast layer comes down and it keeps
 *   decoding, where mediasoup alone would keep sending the top layer into a frozen picture.
 * Loopback faults are tc and nft rules in the run's own network namespace (test/support/loopbackShaping.ts).
 * Skips, with the reason, where no mediasoup worker binary exists or loopback cannot be shaped.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, it } from 'node:test';
import * as mediasoup from 'mediasoup';
import type { Page } from 'playwright-core';
import type { MediaEngine } from '../../services/engine/EngineTypes.ts';
import { serveBlankPage } from '../support/blankPage.ts';
import { launchChromium, type LaunchedChromium } from '../support/chromium.ts';
import { describeUnlessSkipped, testEngine } from '../support/engines.ts';
import { loopbackShapingUnavailable, loseAtRandom, packetsLostAtRandom, restoreLoopback, shapeLoopback } from '../support/loopbackShaping.ts';
import { mediasoupTestEngine } from '../support/mediasoupEngine.ts';
import { applyAnswer, inbound, openRtcPage, publisherOffer, rewrittenViewerOffer, simulcastPublisherOffer, viewerOffer } from '../support/rtcPage.ts';
import { sleep, waitFor } from '../support/wait.ts';

const skip = testEngine('mediasoup').skip || loopbackShapingUnavailable({ randomLoss: true });

/** One worker: its WebRtcServer listens on the range's first port, which the tc rules match. */
const PORT_BASE = 16000;

/**
 * `sdp` with payload types `a` and `b` swapped everywhere they appear (m= lines, rtpmap, fmtp,
 * rtcp-fb, and apt= and red's references): the same codecs, numbered differently.
 */
function swapPayloadTypes(sdp: string, a: number, b: number): string {
  const swap = (n: string) => (Number(n) === a ? String(b) : Number(n) === b ? String(a) : n);
  return sdp
    .split('\r\n')
    .map((line) => {
      if (line.startsWith('m=')) {
        const parts = line.split(' ');
        return [...parts.slice(0, 3), ...parts.slice(3).map(swap)].join(' ');
      }
      const attr = /^a=(rtpmap|fmtp|rtcp-fb):(\d+)( .*)?$/.exec(line);
      if (!attr) return line;
      let rest = attr[3] ?? '';
      if (attr[1] === 'fmtp') rest = rest.replace(/apt=(\d+)/, (_, n: string) => `apt=${swap(n)}`).replace(/^ (\d+(?:\/\d+)+)$/, (_, list: string) => ` ${list.split('/').map(swap).join('/')}`);
      return `a=${attr[1]}:${swap(attr[2]!)}${rest}`;
    })
    .join('\r\n');
}

/** The viewer's UDP port: its offer's host candidate on loopback. */
function candidatePort(sdp: string): string {
  const m = /a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+) typ host/.exec(sdp);
  assert.ok(m, 'the viewer offers a loopback host candidate');
  return m[1]!;
}

/** Frames the viewer decodes within `ms`. */
async function framesWithin(page: Page, ms: number): Promise<number> {
  const before = (await inbound(page)).framesDecoded;
  await sleep(ms);
  return (await inbound(page)).framesDecoded - before;
}

describeUnlessSkipped('mediasoup engine: WHEP viewers (numbering, NACK, layers without an estimate)', skip, () => {
  let chromium: LaunchedChromium;
  let blank: Awaited<ReturnType<typeof serveBlankPage>>;
  let engine: MediaEngine;
  const routers: mediasoup.types.Router[] = [];
  /** Consumers by the peer id of the transport they were made on. */
  const consumers = new Map<string, mediasoup.types.Consumer[]>();
  const onWorker = (w: mediasoup.types.Worker) =>
    w.observer.on('newrouter', (r) => {
      routers.push(r);
      r.observer.on('newtransport', (t) => {
        const peer = (t.appData as { peerId?: string }).peerId;
        if (peer) t.observer.on('newconsumer', (c) => consumers.set(peer, [...(consumers.get(peer) ?? []), c]));
      });
    });

  before(async () => {
    mediasoup.observer.on('newworker', onWorker);
    engine = await mediasoupTestEngine(PORT_BASE, { MEDIASOUP_WORKERS: '1' });
    chromium = await launchChromium();
    blank = await serveBlankPage();
  });
  afterEach(() => restoreLoopback());
  after(async () => {
    mediasoup.observer.off('newworker', onWorker);
    restoreLoopback();
    await chromium?.close();
    await engine?.close();
    await blank?.close();
  });

  const newPage = (): Promise<Page> => openRtcPage(chromium.context, blank.url);

  async function publish(room: string, simulcast: boolean): Promise<Page> {
    await engine.createRoom(room);
    const pub = await newPage();
    const res = await engine.publish(room, 'alice', simulcast ? await simulcastPublisherOffer(pub, { audio: true }) : await publisherOffer(pub));
    await applyAnswer(pub, '__pub', res.answer);
    await waitFor('alice live', 10000, async () => (await engine.listTracks(room)).length === 2);
    return pub;
  }

  const videoConsumer = (peer: string) => consumers.get(peer)?.find((c) => c.kind === 'video' && !c.closed);

  it('a receiver that numbers its codecs its own way is sent them, from a router numbered its way', async () => {
    const pub = await publish('numbering', false);
    const viewer = await newPage();
    // opus and VP8 each move to another codec's number (red 63, VP9 98), as another browser might number them.
    const offer = await rewrittenViewerOffer(viewer, (sdp) => swapPayloadTypes(swapPayloadTypes(sdp, 111, 63), 96, 98));
    assert.match(offer, /a=rtpmap:98 VP8\/90000/);
    assert.match(offer, /a=rtpmap:63 opus\/48000/);
    const { answer, tracks } = await engine.subscribeWithOffer('numbering', 'whep', offer);
    assert.equal(tracks.length, 2);
    assert.match(answer, /m=video \d+ UDP\/TLS\/RTP\/SAVPF 98\r\n/, 'VP8 is answered under the number the receiver gave it');
    assert.match(answer, /m=audio \d+ UDP\/TLS\/RTP\/SAVPF 63\r\n/);
    await applyAnswer(viewer, '__sub', answer);
    assert.ok(await waitFor('the receiver decoding', 15000, async () => {
      const s = await inbound(viewer);
      return s.framesDecoded > 20 && s.audioBytes > 2000;
    }, { throwOnTimeout: false }), `the receiver decodes: ${JSON.stringify(await inbound(viewer))}`);
    const own = routers.filter((r) => !r.closed && (r.appData as { roomId?: string; numbering?: string }).roomId === 'numbering');
    assert.equal(own.length, 2, 'the room has a second router, numbered the receiver\'s way');
    assert.ok(own.some((r) => r.rtpCapabilities.codecs!.some((c) => c.mimeType === 'video/VP8' && c.preferredPayloadType === 98)));
    await engine.closeRoom('numbering', 'client_request');
    await Promise.all([pub.close(), viewer.close()]);
  });

  it('under 2% loss to the receiver, NACKs are answered by retransmission and the picture keeps going', async () => {
    const pub = await publish('lossy', true);
    const viewer = await newPage();
    const offer = await viewerOffer(viewer);
    const { answer } = await engine.subscribeWithOffer('lossy', 'whep-lossy', offer);
    assert.match(answer, /a=rtcp-fb:\d+ nack\r\n/, 'the answer offers plain NACK');
    assert.doesNotMatch(answer, /rtx\/90000/, 'no rtx: retransmissions go in the media stream itself');
    await applyAnswer(viewer, '__sub', answer);
    await waitFor('decoding before the loss', 15000, async () => (await inbound(viewer)).framesDecoded > 20);
    loseAtRandom({ sport: PORT_BASE, dport: Number(candidatePort(offer)), percent: 2 });
    await sleep(8000);
    const frames = await framesWithin(viewer, 4000);
    const stat = (await videoConsumer('whep-lossy')!.getStats()).find((s) => s.type === 'outbound-rtp')!;
    const received = await viewer.evaluate(async () => {
      const video = { nackCount: 0, packetsLost: 0, freezeCount: 0, pliCount: 0 };
      (await (window as unknown as { __sub: RTCPeerConnection }).__sub.getStats()).forEach((s) => {
        if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
        for (const key of Object.keys(video) as (keyof typeof video)[]) video[key] += (s as unknown as Record<string, number>)[key] ?? 0;
      });
      return video;
    });
    console.log(
      `# 2% loss: ${packetsLostAtRandom()} packets dropped; receiver: ${JSON.stringify(received)}, ${frames} frames in 4 s; ` +
        `consumer: ${stat.nackCount} NACKs, ${stat.packetsRetransmitted} packets resent, ${stat.packetsRepaired} repaired, layers ${JSON.stringify(videoConsumer('whep-lossy')!.currentLayers)}`,
    );
    assert.ok(received.nackCount > 0 && stat.nackCount > 0, `the receiver NACKs lost packets (${received.nackCount} sent, ${stat.nackCount} received)`);
    assert.ok(stat.packetsRepaired > 0, `the consumer resends what was lost (${stat.packetsRetransmitted} resent, ${stat.packetsRepaired} repaired)`);
    // The fake camera sends 20 fps; a third of that is a picture that keeps going under load.
    assert.ok(frames >= 25, `frames decoded in 4 s under 2% loss: ${frames}`);
    await engine.closeRoom('lossy', 'client_request');
    await Promise.all([pub.close(), viewer.close()]);
  });

  it('a receiver without a bandwidth estimate behind a 400 kbit/s link: its layer comes down and it keeps decoding', async () => {
    const pub = await publish('slow', true);
    const viewer = await newPage();
    const offer = await viewerOffer(viewer);
    const { answer } = await engine.subscribeWithOffer('slow', 'whep-slow', offer);
    assert.doesNotMatch(answer, /transport-cc|goog-remb/, "Chromium's offer leaves mediasoup no extension id for an estimate");
    await applyAnswer(viewer, '__sub', answer);
    // A layer above the lowest first (the top one once the publisher's encoder has ramped up), as
    // mediasoup sends it with nothing to go by. The publisher sends its second layer only once its
    // own bandwidth estimate allows it: within 20 s in earlier runs, after 22 s on this machine
    // (2026-12-04, Chromium 156.0.8078.114, a worker built here), so the wait is generous.
    const layers = () => ({ preferred: videoConsumer('whep-slow')?.preferredLayers, current: videoConsumer('whep-slow')?.currentLayers });
    assert.ok(
      await waitFor('a layer above the lowest', 60000, async () => (layers().current?.spatialLayer ?? -1) >= 1 && (await inbound(viewer)).framesDecoded > 20, { throwOnTimeout: false }),
      `a layer above the lowest flows first: ${JSON.stringify(layers())}`,
    );
    shapeLoopback({ match: ['match', 'ip', 'sport', String(PORT_BASE), '0xffff', 'match', 'ip', 'dport', candidatePort(offer), '0xffff'], rate: '400kbit', queue: 30 });
    // 400 kbit/s holds the quarter layer (150 kbit/s) and audio, not the half one (500 kbit/s).
    const down = await waitFor('the lowest layer', 30000, () => layers().preferred?.spatialLayer === 0 && layers().current?.spatialLayer === 0, { stepMs: 500, throwOnTimeout: false });
    assert.ok(down, `the layer comes down to the lowest: ${JSON.stringify(layers())}`);
    // Decoding again, steadily, at the lower layer.
    let frames = 0;
    const steady = await waitFor('steady decoding', 20000, async () => (frames = await framesWithin(viewer, 3000)) >= 20, { stepMs: 0, throwOnTimeout: false });
    console.log(`# 400 kbit/s: layers ${JSON.stringify(layers())}, ${frames} frames in 3 s`);
    assert.ok(steady, `the receiver decodes steadily behind the slow link (last window: ${frames} frames in 3 s)`);
    await engine.closeRoom('slow', 'client_request');
    await Promise.all([pub.close(), viewer.close()]);
  });
});
