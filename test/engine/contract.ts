import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { Page } from 'playwright-core';
import { InvalidSdpError } from '../../services/core/errors.ts';
import type { CloseReason, MediaEngine, SubscriberOffer } from '../../services/engine/EngineTypes.ts';
import { serveBlankPage } from '../support/blankPage.ts';
import { launchChromium, type LaunchedChromium } from '../support/chromium.ts';
import { describeUnlessSkipped } from '../support/engines.ts';
import { inbound, openRtcPage } from '../support/rtcPage.ts';
import { sleep, waitFor } from '../support/wait.ts';

type PageFns = {
  __startPublisher(): Promise<string>;
  __applyAnswer(name: string, sdp: string): Promise<void>;
  __answerOffer(sdp: string): Promise<string>;
};

/**
 * The `iceConnectTimeoutMs` the factories give their engines: short, so that the contract sees
 * a leg that never connects closed, and long enough that every leg a page connects makes it.
 */
export const CONTRACT_ICE_CONNECT_TIMEOUT_MS = 5000;

/** A captured Chromium offer whose sender never starts ICE (nobody answers the engine's checks). */
const SILENT_OFFER = readFileSync(new URL('../fixtures/sdp/chrome-publish-single.sdp', import.meta.url), 'utf8');

/**
 * The contract every MediaEngine implementation must meet, driven by real Chromium pages.
 * Run it with a factory, and with `skip` (test/support/engines.ts: `testEngine(kind).skip`)
 * where the engine cannot run here: it then shows as one skipped test with the reason.
 */
export function engineContract(name: string, factory: () => Promise<MediaEngine>, { skip }: { skip?: string | false } = {}): void {
  describeUnlessSkipped(`engine contract: ${name}`, skip, () => {
    let engine: MediaEngine;
    let chromium: LaunchedChromium;
    let blank: Awaited<ReturnType<typeof serveBlankPage>>;
    const offers: { peerId: string; offer: SubscriberOffer }[] = [];
    const unpublished: { roomId: string; peerId: string; kind: string; reason: CloseReason }[] = [];

    before(async () => {
      engine = await factory();
      engine.on('subscriberoffer', (_room, peerId, offer) => offers.push({ peerId, offer }));
      engine.on('trackunpublished', (roomId, track, reason) => unpublished.push({ roomId, peerId: track.peerId, kind: track.kind, reason }));
      chromium = await launchChromium();
      blank = await serveBlankPage();
    });
    after(async () => {
      await chromium?.close();
      await engine?.close();
      await blank?.close();
    });

    const newPage = (): Promise<Page> => openRtcPage(chromium.context, blank.url);
    const fns = (page: Page) => ({
      startPublisher: () => page.evaluate(() => (window as unknown as PageFns).__startPublisher()),
      applyAnswer: (pc: string, sdp: string) => page.evaluate(([n, s]) => (window as unknown as PageFns).__applyAnswer(n!, s!), [pc, sdp]),
      answerOffer: (sdp: string) => page.evaluate((s) => (window as unknown as PageFns).__answerOffer(s), sdp),
    });

    it('rejects malformed SDP with InvalidSdpError', async () => {
      await engine.createRoom('bad');
      for (const sdp of ['', 'hello', 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n']) {
        await assert.rejects(engine.publish('bad', 'p', sdp), (err: unknown) => err instanceof InvalidSdpError || (err as { code?: string }).code === 'invalid_sdp');
      }
      await engine.closeRoom('bad', 'client_request');
    });

    it('forwards a publisher to an engine-offer subscriber, and renegotiates when a second publisher arrives and leaves', async () => {
      await engine.createRoom('r1');
      const sub = await newPage();
      const subFns = fns(sub);
      // Subscribe before anyone publishes: the first offer carries only the data channel.
      const first = await engine.subscribe('r1', 'viewer');
      assert.equal(Object.keys(first.mids).length, 0);
      await engine.answerSubscriber('r1', 'viewer', first.version, await subFns.answerOffer(first.offer));

      const pubA = await newPage();
      const a = fns(pubA);
      const result = await engine.publish('r1', 'alice', await a.startPublisher());
      await a.applyAnswer('__pub', result.answer);

      // Answer renegotiation offers in order, each once.
      let handled = first.version;
      const answerNext = async () => {
        for (const o of offers.filter((x) => x.peerId === 'viewer' && x.offer.version > handled)) {
          handled = o.offer.version;
          await engine.answerSubscriber('r1', 'viewer', o.offer.version, await subFns.answerOffer(o.offer.offer));
        }
      };
      // Two tracks go live (audio, video): answer the offers as they come.
      const live = await waitFor('alice decoded', 20000, async () => {
        await answerNext();
        const s = await inbound(sub);
        return s.framesDecoded > 10 && s.audioBytes > 1000;
      }, { stepMs: 500, throwOnTimeout: false });
      const s1 = await inbound(sub);
      assert.ok(live, `subscriber should decode alice: ${JSON.stringify(s1)}`);
      const tracks = await engine.listTracks('r1');
      assert.deepEqual(tracks.map((t) => t.kind).sort(), ['audio', 'video']);
      assert.ok(tracks.every((t) => t.peerId === 'alice'));

      const pubB = await newPage();
      const b = fns(pubB);
      const rb = await engine.publish('r1', 'bob', await b.startPublisher());
      await b.applyAnswer('__pub', rb.answer);
      const both = await waitFor('two video tracks', 20000, async () => {
        await answerNext();
        const s = await inbound(sub);
        return s.videoTracks >= 2;
      }, { stepMs: 500, throwOnTimeout: false });
      assert.ok(both, 'subscriber should receive two video tracks');
      const before = (await inbound(sub)).framesDecoded;
      const kept = await waitFor('frames to keep decoding', 10000, async () => (await inbound(sub)).framesDecoded > before + 20, { stepMs: 250, throwOnTimeout: false });
      assert.ok(kept, 'frames keep decoding with two publishers');

      // Kicked: each of its tracks leaves with the reason its leg closed with.
      await engine.closePublisher('r1', 'bob', 'kicked');
      await waitFor("only alice's tracks", 10000, async () => (await engine.listTracks('r1')).every((t) => t.peerId === 'alice'));
      const bobGone = () => unpublished.filter((u) => u.roomId === 'r1' && u.peerId === 'bob');
      await waitFor("bob's trackunpublished events", 10000, () => bobGone().length >= 2, { throwOnTimeout: false });
      assert.deepEqual(bobGone().map((u) => `${u.kind}:${u.reason}`).sort(), ['audio:kicked', 'video:kicked'], `trackunpublished for bob: ${JSON.stringify(unpublished)}`);
      const stats = await engine.stats();
      assert.ok(stats.packetsForwarded > 100, `packets forwarded: ${stats.packetsForwarded}`);
      assert.ok(stats.cpuMicros > 0);
      await engine.closeRoom('r1', 'client_request');
      await Promise.all([sub.close(), pubA.close(), pubB.close()]);
    });

    it('closes legs whose ICE never connects with ice_timeout, and leaves connected ones alone', async () => {
      await engine.createRoom('r-ice');
      const closed: [string, string, CloseReason][] = [];
      const onClosed = (room: string, peerId: string, leg: string, reason: CloseReason) => {
        if (room === 'r-ice') closed.push([peerId, leg, reason]);
      };
      engine.on('legclosed', onClosed);
      const pub = await newPage();
      try {
        const p = fns(pub);
        const res = await engine.publish('r-ice', 'alice', await p.startPublisher());
        await p.applyAnswer('__pub', res.answer);
        await waitFor('the two tracks of r-ice', 10000, async () => (await engine.listTracks('r-ice')).length === 2);
        // Created after alice's leg: when these time out, alice's deadline has passed too.
        await engine.publish('r-ice', 'silent', SILENT_OFFER);
        await engine.subscribe('r-ice', 'unanswered');
        await waitFor('the two silent legs to close', CONTRACT_ICE_CONNECT_TIMEOUT_MS + 8000, () => closed.length >= 2);
        await sleep(500);
        assert.deepEqual(closed.sort(), [['silent', 'publisher', 'ice_timeout'], ['unanswered', 'subscriber', 'ice_timeout']]);
        assert.deepEqual((await engine.listTracks('r-ice')).map((t) => t.peerId), ['alice', 'alice'], "alice's connected leg lives on");
      } finally {
        engine.off('legclosed', onClosed);
        await engine.closeRoom('r-ice', 'client_request');
        await pub.close();
      }
    });

    it('answers a client (WHEP-style) recvonly offer with the stage audio and video', async () => {
      await engine.createRoom('r2');
      const pub = await newPage();
      const p = fns(pub);
      const res = await engine.publish('r2', 'alice', await p.startPublisher());
      await p.applyAnswer('__pub', res.answer);
      await waitFor('the two tracks of r2', 10000, async () => (await engine.listTracks('r2')).length === 2);

      const viewer = await newPage();
      const offer = await viewer.evaluate(async () => {
        const w = window as unknown as Record<string, unknown> & { __gathered(pc: RTCPeerConnection): Promise<void> };
        const pc = new RTCPeerConnection({ iceServers: [] });
        pc.addTransceiver('audio', { direction: 'recvonly' });
        pc.addTransceiver('video', { direction: 'recvonly' });
        w.__sub = pc;
        await pc.setLocalDescription(await pc.createOffer());
        await w.__gathered(pc);
        return pc.localDescription!.sdp;
      });
      const { answer, tracks } = await engine.subscribeWithOffer('r2', 'whep', offer);
      assert.equal(tracks.length, 2);
      await fns(viewer).applyAnswer('__sub', answer);
      assert.ok(await waitFor('the whep viewer decoding', 15000, async () => {
        const s = await inbound(viewer);
        return s.framesDecoded > 10 && s.audioBytes > 1000;
      }, { throwOnTimeout: false }), `whep viewer decodes: ${JSON.stringify(await inbound(viewer))}`);
      await engine.closeRoom('r2', 'client_request');
      await Promise.all([pub.close(), viewer.close()]);
    });

    it('mirrors stage tracks as plain RTP that a real ffmpeg decodes', async () => {
      await engine.createRoom('r3');
      const pub = await newPage();
      const p = fns(pub);
      const res = await engine.publish('r3', 'alice', await p.startPublisher());
      await p.applyAnswer('__pub', res.answer);
      await waitFor('the two tracks of r3', 10000, async () => (await engine.listTracks('r3')).length === 2);
      const tracks = await engine.listTracks('r3');
      const dir = await mkdtemp(join(tmpdir(), 'mirror-'));
      try {
        const counts = await Promise.all(
          tracks.map(async (track, i) => {
            const target = { ip: '127.0.0.1', rtpPort: 47000 + i * 4, rtcpPort: 47001 + i * 4 };
            // Describe the stream first so ffmpeg is listening before the first packet.
            const probe = await engine.mirrorTrack('r3', track.trackId, target);
            const file = join(dir, `${track.kind}.sdp`);
            await writeFile(file, probe.sdp);
            const ff = spawn('ffmpeg', ['-hide_banner', '-nostats', '-protocol_whitelist', 'file,udp,rtp', '-i', file, '-t', '3', '-f', 'null', '-'], { stdio: ['ignore', 'ignore', 'pipe'] });
            let log = '';
            ff.stderr.on('data', (d: Buffer) => (log += d.toString()));
            await sleep(500);
            // Retarget once ffmpeg listens: the mirror asks the publisher for a keyframe again.
            await engine.mirrorTrack('r3', track.trackId, target);
            const code = await new Promise<number | null>((resolve) => ff.on('exit', resolve));
            const frames = Number(/frame=\s*(\d+)/.exec(log)?.[1] ?? 0);
            const audio = /Audio: opus/.test(log) && /size=.*time=00:00:0[2-3]/.test(log);
            return { kind: track.kind, code, frames, audio, log: log.slice(-400) };
          }),
        );
        for (const c of counts) {
          assert.equal(c.code, 0, c.log);
          if (c.kind === 'video') assert.ok(c.frames > 30, `ffmpeg decoded ${c.frames} mirrored video frames\n${c.log}`);
          else assert.ok(c.audio, `ffmpeg decoded mirrored audio\n${c.log}`);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
        await engine.closeRoom('r3', 'client_request');
        await pub.close();
      }
    });

    it("keeps a mirror's sequence numbers and timestamps continuous when it is mirrored again to the same receiver", async () => {
      await engine.createRoom('r4');
      const pub = await newPage();
      const p = fns(pub);
      const res = await engine.publish('r4', 'alice', await p.startPublisher());
      await p.applyAnswer('__pub', res.answer);
      await waitFor('the two tracks of r4', 10000, async () => (await engine.listTracks('r4')).length === 2);
      const tracks = await engine.listTracks('r4');
      const sockets: Socket[] = [];
      try {
        const runs = await Promise.all(
          tracks.map(async (track, i) => {
            // A receiver of our own in ffmpeg's place, which records every packet's numbering.
            const target = { ip: '127.0.0.1', rtpPort: 47100 + i * 4, rtcpPort: 47101 + i * 4 };
            const rtp = createSocket('udp4');
            const rtcp = createSocket('udp4');
            sockets.push(rtp, rtcp);
            await Promise.all([
              new Promise<void>((r) => rtp.bind(target.rtpPort, target.ip, r)),
              new Promise<void>((r) => rtcp.bind(target.rtcpPort, target.ip, r)),
            ]);
            const packets: { seq: number; ts: number; after: boolean }[] = [];
            let retargeted = false;
            rtp.on('message', (msg: Buffer) => {
              if (msg.length >= 12) packets.push({ seq: msg.readUInt16BE(2), ts: msg.readUInt32BE(4), after: retargeted });
            });
            await engine.mirrorTrack('r4', track.trackId, target);
            await waitFor('20 mirrored packets', 10000, () => packets.length >= 20, { stepMs: 100, throwOnTimeout: false });
            await engine.mirrorTrack('r4', track.trackId, target);
            retargeted = true;
            await waitFor('20 packets after the second mirrorTrack', 10000, () => packets.filter((x) => x.after).length >= 20, { stepMs: 100, throwOnTimeout: false });
            return { kind: track.kind, clockRate: track.kind === 'audio' ? 48000 : 90000, packets };
          }),
        );
        for (const run of runs) {
          const { packets } = run;
          assert.ok(packets.filter((x) => !x.after).length >= 20 && packets.filter((x) => x.after).length >= 20, `${run.kind}: ${packets.length} packets around the second mirrorTrack`);
          // Consecutive packets: the sequence number moves forward by a little (a short gap, a
          // reordered packet) and the timestamp by less than two seconds of media, never backwards.
          for (let i = 1; i < packets.length; i++) {
            const dSeq = (((packets[i]!.seq - packets[i - 1]!.seq) % 65536) + 65536 + 32768) % 65536 - 32768;
            const dTs = ((packets[i]!.ts - packets[i - 1]!.ts) | 0) / run.clockRate;
            assert.ok(dSeq >= -20 && dSeq <= 500, `${run.kind}: sequence number jumped by ${dSeq} at packet ${i} of ${packets.length} (${packets[i]!.after ? 'after' : 'before'} the second mirrorTrack)`);
            assert.ok(dTs > -0.5 && dTs < 2, `${run.kind}: timestamp jumped by ${dTs.toFixed(3)} s at packet ${i}`);
          }
        }
      } finally {
        for (const s of sockets) s.close();
        await engine.closeRoom('r4', 'client_request');
        await pub.close();
      }
    });
  });
}
