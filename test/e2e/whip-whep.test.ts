/**
 * WHIP ingest and WHEP playback against the running service, from pages that use only plain
 * RTCPeerConnection + fetch (no project player code): fake camera+mic published over WHIP,
 * played over WHEP (frames decoded keep growing, audio bytes arrive), then both sessions ended
 * with DELETE on their Location (200), and a second DELETE is 404.
 *
 * Run: node scripts/test.mjs test/e2e/whip-whep.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { Page } from 'playwright-core';
import { serveBlankPage } from '../support/blankPage.ts';
import { launchChromium, type LaunchedChromium } from '../support/chromium.ts';
import { describeEngines } from '../support/engines.ts';
import { startService, type RunningService } from '../support/service.ts';
import { sleep, waitFor } from '../support/wait.ts';

interface HttpResult {
  status: number;
  location: string | null;
  contentType: string | null;
  body: string;
  error?: string;
}

/** Installs tiny RTCPeerConnection + fetch helpers in a page (the page's only code). */
async function installHelpers(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as Record<string, unknown>;
    const gathered = (pc: RTCPeerConnection) =>
      new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        const t = setTimeout(resolve, 5000);
        pc.addEventListener('icegatheringstatechange', () => {
          if (pc.iceGatheringState === 'complete') {
            clearTimeout(t);
            resolve();
          }
        });
      });
    w.publishOffer = async () => {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
      const pc = new RTCPeerConnection({ iceServers: [] });
      for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      w.pc = pc;
      return pc.localDescription!.sdp;
    };
    w.playOffer = async () => {
      (w.pc as RTCPeerConnection | undefined)?.close();
      const pc = new RTCPeerConnection({ iceServers: [] });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
      const stream = new MediaStream();
      const video = document.createElement('video');
      video.autoplay = true;
      video.muted = true;
      video.srcObject = stream;
      document.body.append(video);
      pc.ontrack = (ev) => stream.addTrack(ev.track);
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      w.pc = pc;
      return pc.localDescription!.sdp;
    };
    w.applyAnswer = (sdp: string) => (w.pc as RTCPeerConnection).setRemoteDescription({ type: 'answer', sdp });
    w.state = () => (w.pc as RTCPeerConnection).connectionState;
    w.http = async (method: string, url: string, token: string | null, sdp?: string) => {
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (sdp !== undefined) headers['content-type'] = 'application/sdp';
      try {
        const res = await fetch(url, { method, headers, body: sdp });
        const loc = res.headers.get('location');
        return {
          status: res.status,
          location: loc ? new URL(loc, url).href : null,
          contentType: res.headers.get('content-type'),
          body: await res.text(),
        };
      } catch (err) {
        return { status: 0, location: null, contentType: null, body: '', error: String(err) };
      }
    };
    w.inbound = async () => {
      const out = { framesDecoded: 0, audioBytes: 0, videoBytes: 0 };
      (await (w.pc as RTCPeerConnection).getStats()).forEach((s: Record<string, unknown>) => {
        if (s.type !== 'inbound-rtp') return;
        if (s.kind === 'video') {
          out.framesDecoded += Number(s.framesDecoded ?? 0);
          out.videoBytes += Number(s.bytesReceived ?? 0);
        }
        if (s.kind === 'audio') out.audioBytes += Number(s.bytesReceived ?? 0);
      });
      return out;
    };
  });
}

type Fns = {
  publishOffer(): Promise<string>;
  playOffer(): Promise<string>;
  applyAnswer(sdp: string): Promise<void>;
  state(): string;
  http(method: string, url: string, token: string | null, sdp?: string): Promise<HttpResult>;
  inbound(): Promise<{ framesDecoded: number; audioBytes: number; videoBytes: number }>;
};

const http = (page: Page, method: string, url: string, token: string | null, sdp?: string) =>
  page.evaluate(([m, u, t, s]) => (window as unknown as Fns).http(m!, u!, t ?? null, s ?? undefined), [method, url, token, sdp] as const);

/** The direction the answer gives an m-line of `kind` (sendonly when the engine sends media there). */
function answerDirection(sdp: string, kind: 'audio' | 'video'): string | undefined {
  const section = sdp.split(/\r?\nm=/).find((s) => s.replace(/^m=/, '').startsWith(`${kind} `));
  return section?.match(/a=(sendrecv|sendonly|recvonly|inactive)/)?.[1];
}

describeEngines('WHIP ingest and WHEP playback', (engine) => {
  let service: RunningService;
  let chromium: LaunchedChromium;
  let room: string;
  let presenterToken: string;
  let viewerToken: string;
  let blank: Awaited<ReturnType<typeof serveBlankPage>> | undefined;

  before(async () => {
    service = await startService({}, { engine });
    chromium = await launchChromium();
    room = await service.createRoom();
    presenterToken = await service.token(room, 'whip-presenter', 'presenter');
    viewerToken = await service.token(room, 'whep-moderator', 'moderator');
  });

  after(async () => {
    await chromium?.close();
    // After Chromium: the blank page server's close() waits for Chromium's keep-alive sockets.
    await blank?.close();
    await service?.stop();
  });

  /** A page on the service's own origin (a secure context) with only the helpers above. */
  async function page(): Promise<Page> {
    const p = await chromium.context.newPage();
    await p.goto(`${service.url}/healthz`);
    await installHelpers(p);
    return p;
  }

  it('refuses a WHIP offer without a token', async () => {
    const p = await page();
    const res = await http(p, 'POST', `${service.url}/whip/${room}`, null, 'v=0\r\n');
    assert.equal(res.status, 401, res.body);
    await p.close();
  });

  it('publishes fake camera+mic over WHIP and plays it over WHEP; DELETE ends both', async () => {
    const pub = await page();
    const offer = await pub.evaluate(() => (window as unknown as Fns).publishOffer());
    const whip = await http(pub, 'POST', `${service.url}/whip/${encodeURIComponent(room)}`, presenterToken, offer);
    assert.equal(whip.status, 201, `WHIP POST: ${whip.status} ${whip.body}`);
    assert.match(whip.contentType ?? '', /^application\/sdp/);
    assert.ok(whip.location, 'WHIP 201 carries a Location');
    assert.match(whip.body, /^v=0/);
    await pub.evaluate((sdp) => (window as unknown as Fns).applyAnswer(sdp), whip.body);
    await waitFor('publisher connected', 15000, () => pub.evaluate(() => (window as unknown as Fns).state()), { until: (s) => s === 'connected' });

    // WHEP answers with the stage's current tracks; they go live once the engine sees media.
    const viewer = await page();
    const whepUrl = `${service.url}/whep/${encodeURIComponent(room)}`;
    let whep: HttpResult | undefined;
    for (let attempt = 0; attempt < 20; attempt++) {
      const recvOffer = await viewer.evaluate(() => (window as unknown as Fns).playOffer());
      whep = await http(viewer, 'POST', whepUrl, viewerToken, recvOffer);
      assert.equal(whep.status, 201, `WHEP POST: ${whep.status} ${whep.body}`);
      if (answerDirection(whep.body, 'video') === 'sendonly' && answerDirection(whep.body, 'audio') === 'sendonly') break;
      if (whep.location) await http(viewer, 'DELETE', whep.location, viewerToken);
      await sleep(500);
    }
    assert.ok(whep);
    assert.match(whep.contentType ?? '', /^application\/sdp/);
    assert.ok(whep.location, 'WHEP 201 carries a Location');
    assert.equal(answerDirection(whep.body, 'video'), 'sendonly', 'WHEP answer sends video');
    assert.equal(answerDirection(whep.body, 'audio'), 'sendonly', 'WHEP answer sends audio');
    await viewer.evaluate((sdp) => (window as unknown as Fns).applyAnswer(sdp), whep.body);

    const inbound = () => viewer.evaluate(() => (window as unknown as Fns).inbound());
    const first = await waitFor('WHEP frames decoded', 20000, inbound, { until: (s) => s.framesDecoded > 0 && s.audioBytes > 0 });
    const later = await waitFor('frames and audio to keep coming', 10000, inbound, {
      until: (s) => s.framesDecoded > first.framesDecoded + 10 && s.audioBytes > first.audioBytes,
      throwOnTimeout: false,
    });
    assert.ok(later.framesDecoded > first.framesDecoded + 10, `frames keep decoding: ${first.framesDecoded} → ${later.framesDecoded}`);
    assert.ok(later.audioBytes > first.audioBytes, `audio keeps arriving: ${first.audioBytes} → ${later.audioBytes}`);

    const delWhep = await http(viewer, 'DELETE', whep.location, viewerToken);
    assert.equal(delWhep.status, 200, `DELETE WHEP: ${delWhep.status} ${delWhep.body}`);
    const delWhepAgain = await http(viewer, 'DELETE', whep.location, viewerToken);
    assert.equal(delWhepAgain.status, 404, `second DELETE WHEP: ${delWhepAgain.status} ${delWhepAgain.body}`);

    const delWhip = await http(pub, 'DELETE', whip.location, presenterToken);
    assert.equal(delWhip.status, 200, `DELETE WHIP: ${delWhip.status} ${delWhip.body}`);
    const delWhipAgain = await http(pub, 'DELETE', whip.location, presenterToken);
    assert.equal(delWhipAgain.status, 404, `second DELETE WHIP: ${delWhipAgain.status} ${delWhipAgain.body}`);

    await viewer.close();
    await pub.close();
  });

  it('answers cross-origin WHIP/WHEP requests with CORS headers (browser clients on other origins)', async () => {
    // A page on another origin (a plain blank page server on its own port).
    blank = await serveBlankPage();
    const p = await chromium.context.newPage();
    await p.goto(blank.url);
    await installHelpers(p);
    for (const path of ['whip', 'whep']) {
      // A bad token still needs a readable response (preflight + Access-Control-Allow-Origin), not a network error.
      const res = await http(p, 'POST', `${service.url}/${path}/${encodeURIComponent(room)}`, 'not-a-token', 'v=0\r\n');
      assert.notEqual(res.status, 0, `cross-origin POST /${path} blocked: ${res.error}`);
      assert.equal(res.status, 401, `cross-origin POST /${path}: ${res.status} ${res.body}`);
    }
    await p.close();
  });
});
