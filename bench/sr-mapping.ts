/**
 * Sender-report check for the mediasoup engine (a diagnostic for bench:stage-latency's lip-sync
 * delay):
 *
 *   MEDIASOUP_WORKER_BIN=... node bench/sr-mapping.ts
 *
 * PROBE_SECONDS (default 15): how long reports are collected; PROBE_MIRROR_AFTER_MS (default
 * 300): when the mirrors start after both tracks are live.
 *
 * A Chromium page publishes fake camera + microphone (one msid) to the engine; both tracks are
 * mirrored as plain RTP, whose RTCP sender reports mediasoup writes the way it writes them for
 * every consumer (RtpStreamSend). Each mirror report's NTP time is compared with the NTP time the
 * publisher's own reports (the producers' `sr` trace) give its RTP timestamp. If the two kinds
 * disagree, a receiver lip-syncing them delays one by the difference.
 *
 * Prints, per kind, the median and range of (mirror NTP − publisher-implied NTP) and the
 * audio − video difference. Exits 1 when a kind got fewer than 3 reports of either side.
 */
import { createSocket, type Socket } from 'node:dgram';
import * as mediasoup from 'mediasoup';
import type { Producer } from 'mediasoup/types';
import type { MediaEngine } from '../services/engine/EngineTypes.ts';
import { serveBlankPage } from '../test/support/blankPage.ts';
import { launchChromium } from '../test/support/chromium.ts';
import { mediasoupTestEngine } from '../test/support/mediasoupEngine.ts';
import { openRtcPage, publisherOffer } from '../test/support/rtcPage.ts';
import { sleep, waitFor } from '../test/support/wait.ts';
import { ensureLoopbackNamespace, runBench } from './lib/harness.ts';

ensureLoopbackNamespace();

const SECONDS = Number(process.env.PROBE_SECONDS ?? 15);
const NTP_EPOCH_OFFSET_S = 2208988800;
const CLOCK: Record<string, number> = { audio: 48000, video: 90000 };

interface Report {
  at: number;
  ntpMs: number;
  rtp: number;
}

const ntpToMs = (sec: number, frac: number) => (sec - NTP_EPOCH_OFFSET_S) * 1000 + (frac / 2 ** 32) * 1000;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1] ?? NaN;

async function main(): Promise<number> {
  const producers: Producer[] = [];
  mediasoup.observer.on('newworker', (w) =>
    w.observer.on('newrouter', (r) => r.observer.on('newtransport', (t) => t.observer.on('newproducer', (p) => producers.push(p)))),
  );
  const engine: MediaEngine = await mediasoupTestEngine(19400);
  const chromium = await launchChromium();
  const blank = await serveBlankPage();
  const sockets: Socket[] = [];
  const published: Record<string, Report[]> = { audio: [], video: [] };
  const mirrored: Record<string, Report[]> = { audio: [], video: [] };
  /** Per kind: RTP timestamp → arrival of its last mirrored packet (Date.now, ms). */
  const arrivals: Record<string, Map<number, number>> = { audio: new Map(), video: new Map() };
  try {
    const page = await openRtcPage(chromium.context, blank.url);
    await engine.createRoom('sr');
    const res = await engine.publish('sr', 'alice', await publisherOffer(page));
    await page.evaluate((sdp) => (window as unknown as { __applyAnswer(n: string, s: string): Promise<void> }).__applyAnswer('__pub', sdp), res.answer);
    await waitFor('two live tracks', 15000, async () => (await engine.listTracks('sr')).length === 2);
    await sleep(Number(process.env.PROBE_MIRROR_AFTER_MS ?? 300));
    for (const p of producers) {
      p.on('trace', (t) => {
        if (t.type !== 'sr') return;
        const i = t.info as { ntpSec: number; ntpFrac: number; rtpTs: number };
        published[p.kind]!.push({ at: Date.now(), ntpMs: ntpToMs(i.ntpSec, i.ntpFrac), rtp: i.rtpTs });
      });
      await p.enableTraceEvent(['sr']);
    }
    let port = 47600;
    for (const track of await engine.listTracks('sr')) {
      const rtp = createSocket('udp4');
      const rtcp = createSocket('udp4');
      sockets.push(rtp, rtcp);
      await new Promise<void>((r) => rtp.bind(port, '127.0.0.1', r));
      await new Promise<void>((r) => rtcp.bind(port + 1, '127.0.0.1', r));
      rtp.on('message', (b) => {
        if (b.length >= 12) arrivals[track.kind]!.set(b.readUInt32BE(4), Date.now());
      });
      rtcp.on('message', (b) => {
        // A compound packet starts with the sender report (PT 200).
        if (b.length >= 20 && b[1] === 200) mirrored[track.kind]!.push({ at: Date.now(), ntpMs: ntpToMs(b.readUInt32BE(8), b.readUInt32BE(12)), rtp: b.readUInt32BE(16) });
      });
      await engine.mirrorTrack('sr', track.trackId, { ip: '127.0.0.1', rtpPort: port, rtcpPort: port + 1 });
      port += 2;
    }
    await sleep(SECONDS * 1000);
  } finally {
    for (const s of sockets) s.close();
    await chromium.close();
    await engine.close();
    await blank.close();
  }

  const problems: string[] = [];
  const medians: Record<string, number> = {};
  for (const kind of ['audio', 'video']) {
    const pubs = published[kind]!;
    const errs: number[] = [];
    const early: number[] = [];
    const trail: string[] = [];
    for (const m of mirrored[kind]!) {
      const p = [...pubs].reverse().find((x) => x.at <= m.at);
      // Sent before the publisher's first report reached the engine: judged by that first report.
      const ref = p ?? pubs[0];
      if (!ref) continue;
      const err = m.ntpMs - (ref.ntpMs + (((m.rtp - ref.rtp) | 0) / CLOCK[kind]!) * 1000);
      (p ? errs : early).push(err);
      trail.push(`${((m.at - mirrored[kind]![0]!.at) / 1000).toFixed(1)}s ${err.toFixed(1)}`);
    }
    if (process.env.PROBE_VERBOSE === '1') console.log(`${kind.padEnd(5)}  each engine SR (time since the first: error ms): ${trail.join(', ')}`);
    if (early.length) console.log(`${kind.padEnd(5)}  ${early.length} engine SR(s) before the publisher's first: ${early.map((e) => e.toFixed(1)).join(', ')} ms`);
    if (pubs.length < 3 || errs.length < 3) problems.push(`${kind}: ${pubs.length} publisher reports, ${errs.length} comparable mirror reports`);
    medians[kind] = median(errs);
    console.log(
      `${kind.padEnd(5)}  publisher SRs ${pubs.length}, engine SRs ${mirrored[kind]!.length}; engine NTP − publisher-implied NTP: ` +
        `median ${medians[kind]!.toFixed(2)} ms, range ${Math.min(...errs).toFixed(2)}…${Math.max(...errs).toFixed(2)} ms`,
    );
  }
  // Arrival at the mirror minus capture (by the publisher's last report), for packets after the
  // first report: the sender's own pipeline plus the engine's forwarding, per kind.
  for (const kind of ['audio', 'video']) {
    const pubs = published[kind]!;
    if (!pubs.length) continue;
    const delays: number[] = [];
    for (const [ts, at] of arrivals[kind]!) {
      const p = [...pubs].reverse().find((x) => x.at <= at);
      if (!p) continue;
      delays.push(at - (p.ntpMs + (((ts - p.rtp) | 0) / CLOCK[kind]!) * 1000));
    }
    const sorted = [...delays].sort((a, b) => a - b);
    console.log(`${kind.padEnd(5)}  capture → mirrored: p10 ${sorted[Math.floor(sorted.length * 0.1)]?.toFixed(1)} ms, median ${median(delays).toFixed(1)} ms, p90 ${sorted[Math.floor(sorted.length * 0.9)]?.toFixed(1)} ms (${delays.length} timestamps)`);
  }
  console.log(`audio − video mapping difference: ${(medians.audio! - medians.video!).toFixed(2)} ms (what a lip-syncing receiver would add to one of them)`);
  for (const p of problems) console.error(`problem: ${p}`);
  return problems.length ? 1 : 0;
}

runBench(main);
