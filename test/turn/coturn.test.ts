/**
 * TURN credentials against a real coturn (Debian's), started by the test with a generated
 * config (use-auth-secret, static-auth-secret, 127.0.0.1 relays). Two Chromium pages with
 * `iceTransportPolicy: 'relay'` connect only through coturn's relays:
 * - with credentials from TurnService they connect, the selected pair is relay↔relay, and
 *   data flows both ways;
 * - with a wrong secret, or a credential whose expiry has passed, no relay candidate is
 *   gathered and they never connect.
 *
 * Run: node scripts/test.mjs test/turn/coturn.test.ts
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { TurnService, turnCredential } from '../../services/turn/TurnCredentials.ts';
import type { IceServer } from '../../services/turn/TurnTypes.ts';
import { serveBlankPage } from '../support/blankPage.ts';
import { launchChromium, type LaunchedChromium } from '../support/chromium.ts';
import { startCoturn, TURNSERVER_PATH, type RunningCoturn } from '../support/coturn.ts';

const skip = existsSync(TURNSERVER_PATH) ? false : `no coturn at ${TURNSERVER_PATH} (apt-get install coturn)`;

interface PairResult {
  connected: boolean;
  offerCandidates: string[];
  answerCandidates: string[];
  localType?: string;
  remoteType?: string;
  echoed?: string;
}

/**
 * Runs a relay-only data channel connection between page A (offerer) and page B (answerer),
 * exchanging complete SDP through the test.
 */
async function relayPair(a: Page, b: Page, iceA: IceServer[], iceB: IceServer[], waitMs: number): Promise<PairResult> {
  const setup = (ice: IceServer[]) => {
    const w = window as unknown as Record<string, unknown>;
    (w.pc as RTCPeerConnection | undefined)?.close();
    const pc = new RTCPeerConnection({ iceServers: ice, iceTransportPolicy: 'relay' });
    w.pc = pc;
    w.candidates = [] as string[];
    pc.addEventListener('icecandidate', (e) => e.candidate && (w.candidates as string[]).push(e.candidate.candidate));
    w.gathered = () =>
      new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        const t = setTimeout(resolve, 8000);
        pc.addEventListener('icegatheringstatechange', () => {
          if (pc.iceGatheringState === 'complete') {
            clearTimeout(t);
            resolve();
          }
        });
      });
    pc.addEventListener('datachannel', (e) => {
      e.channel.onmessage = (m) => e.channel.send(`echo:${m.data}`);
    });
  };
  await a.evaluate(setup, iceA);
  await b.evaluate(setup, iceB);
  const offer = await a.evaluate(async () => {
    const w = window as unknown as Record<string, unknown> & { pc: RTCPeerConnection; gathered(): Promise<void> };
    const dc = w.pc.createDataChannel('probe');
    w.dc = dc;
    w.echo = new Promise<string>((resolve) => (dc.onmessage = (m) => resolve(String(m.data))));
    await w.pc.setLocalDescription(await w.pc.createOffer());
    await w.gathered();
    return w.pc.localDescription!.sdp;
  });
  const answer = await b.evaluate(async (sdp) => {
    const w = window as unknown as { pc: RTCPeerConnection; gathered(): Promise<void> };
    await w.pc.setRemoteDescription({ type: 'offer', sdp });
    await w.pc.setLocalDescription(await w.pc.createAnswer());
    await w.gathered();
    return w.pc.localDescription!.sdp;
  }, offer);
  return a.evaluate(
    async ([sdp, wait]) => {
      const w = window as unknown as Record<string, unknown> & { pc: RTCPeerConnection; dc: RTCDataChannel; echo: Promise<string>; candidates: string[] };
      await w.pc.setRemoteDescription({ type: 'answer', sdp: sdp as string });
      const answerCandidates = (sdp as string).split(/\r?\n/).filter((l) => l.startsWith('a=candidate:'));
      const open = await new Promise<boolean>((resolve) => {
        if (w.dc.readyState === 'open') return resolve(true);
        const t = setTimeout(() => resolve(false), wait as number);
        w.dc.onopen = () => {
          clearTimeout(t);
          resolve(true);
        };
      });
      const result: Record<string, unknown> = { connected: false, offerCandidates: w.candidates, answerCandidates };
      if (!open) return result;
      w.dc.send('ping');
      result.echoed = await Promise.race([w.echo, new Promise<string>((r) => setTimeout(() => r('timeout'), 5000))]);
      result.connected = w.pc.connectionState === 'connected';
      const stats = await w.pc.getStats();
      stats.forEach((s) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) {
          const pair = stats.get(s.selectedCandidatePairId);
          result.localType = stats.get(pair.localCandidateId)?.candidateType;
          result.remoteType = stats.get(pair.remoteCandidateId)?.candidateType;
        }
      });
      return result;
    },
    [answer, waitMs] as const,
  ) as unknown as Promise<PairResult>;
}

describe('coturn with TURN REST credentials', { skip }, () => {
  let coturn: RunningCoturn;
  let chromium: LaunchedChromium;
  let blank: Awaited<ReturnType<typeof serveBlankPage>>;
  let a: Page;
  let b: Page;

  before(async () => {
    coturn = await startCoturn();
    blank = await serveBlankPage();
    chromium = await launchChromium();
    a = await chromium.context.newPage();
    b = await chromium.context.newPage();
    await a.goto(blank.url);
    await b.goto(blank.url);
  });
  after(async () => {
    await chromium?.close();
    await blank?.close();
    await coturn?.close();
  });

  it('valid time-limited credentials: relay-only pages connect through coturn and exchange data', async () => {
    const turn = new TurnService({ urls: coturn.urls, secret: coturn.secret, ttlSeconds: 600 });
    const result = await relayPair(a, b, turn.iceServers('alice'), turn.iceServers('bob'), 15000);
    assert.ok(result.offerCandidates.length > 0 && result.offerCandidates.every((c) => c.includes(' typ relay')), JSON.stringify(result.offerCandidates));
    assert.equal(result.connected, true, JSON.stringify(result));
    assert.equal(result.localType, 'relay');
    assert.equal(result.remoteType, 'relay');
    assert.equal(result.echoed, 'echo:ping');
    assert.ok(coturn.logs.some((l) => /alice/.test(l)), 'coturn saw the time-limited username');
  });

  it('a credential signed with a wrong secret gathers no relay candidate and never connects', async () => {
    const good = new TurnService({ urls: coturn.urls, secret: coturn.secret });
    const wrong = new TurnService({ urls: coturn.urls, secret: 'not-the-coturn-secret' });
    const result = await relayPair(a, b, wrong.iceServers('mallory'), good.iceServers('bob'), 4000);
    assert.deepEqual(result.offerCandidates, []);
    assert.equal(result.connected, false);
    assert.ok(coturn.logs.some((l) => /mallory/.test(l) && /401/.test(l)), 'coturn answered 401 Unauthorized');
  });

  it('an expired credential (right secret, expiry in the past) is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = turnCredential(coturn.secret, 'late', 60, now - 3600);
    assert.ok(expired.expiresAt < now);
    const ice: IceServer[] = [{ urls: coturn.urls, username: expired.username, credential: expired.credential }];
    const good = new TurnService({ urls: coturn.urls, secret: coturn.secret });
    const result = await relayPair(a, b, ice, good.iceServers('bob'), 4000);
    assert.deepEqual(result.offerCandidates, []);
    assert.equal(result.connected, false);
    assert.ok(coturn.logs.some((l) => /:late>/.test(l) && /401/.test(l)), 'coturn answered 401 Unauthorized');
  });
});
