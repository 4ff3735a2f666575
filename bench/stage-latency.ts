/**
 * Stage latency bench: glass-to-glass latency of the WebRTC stage, compared with a direct
 * browser-to-browser connection on the same machine.
 *
 *   npm run bench:stage-latency            (or: node bench/stage-latency.ts)
 *
 * It re-executes itself inside `unshare -n` with only loopback up unless it already runs in
 * such a namespace. In one Chromium, a sender page paints its clock onto a canvas
 * (test/support/latency-pattern.ts) and sends it with a 440 Hz tone in one MediaStream; a receiver
 * page reads the clock back from every presented frame.
 *   direct: RTCPeerConnection → RTCPeerConnection, SDP exchanged through this process.
 *   sfu:    the real service (startService(), ENGINE from BENCH_ENGINE or the service default):
 *           WHIP publish, WHEP play, with plain fetch + RTCPeerConnection from the pages.
 * Paths run back to back, BENCH_ROUNDS times (default 2), BENCH_FRAMES (default 330) decoded
 * frames each after a 20 s warm-up (BENCH_WARMUP_MS), which lets lip-sync settle on both paths. BENCH_PATHS=direct skips the SFU path; BENCH_AUDIO=0 sends
 * video only (no lip-sync with audio).
 *
 * The tone carries a clock too: a beep at every wall-clock half second, dated as the receiver's
 * audio output plays it (AudioWorklet + getOutputTimestamp), gives the audio's own glass-to-ear
 * latency per round and path, and how far the picture leads its sound.
 *
 * Per round it also prints the receiver's jitter-buffer target and minimum delays (video, audio),
 * how far apart it plays them by the sender reports (video − audio estimatedPlayoutTimestamp),
 * and the delay those reports claim (wall clock − estimatedPlayoutTimestamp) next to the measured
 * one. Diagnostics: BENCH_VERBOSE=1 lists the header extensions the receiver got;
 * BENCH_SETTLE_MS (default 1000) is the wait between WHIP and WHEP; BENCH_DIRECT_EXTENSIONS=a,b
 * keeps only the header extensions ending in those names on the direct path.
 *
 * BENCH_DUMP=<file> writes every raw sample as JSON.
 * BENCH_SERVICE_URL + BENCH_API_KEY bench an already running service instead of starting one.
 *
 * Figures need an otherwise idle machine: with other Chromium or ffmpeg jobs on the same cores,
 * both paths' jitter buffers and lip-sync delays grow and p50s swing by tens of ms per round.
 *
 * Targets: SFU p50 ≤ 2× direct (≤ 1.2× on the mediasoup engine), SFU p50 ≤ 100 ms, p95 ≤ 200 ms.
 * Exits non-zero when a path decodes too few frames (or >15 % are read from the wrong frame) or
 * cannot run. BENCH_STRICT=1 also fails
 * on missed targets.
 */
import type { Page } from 'playwright-core';
import { launchChromium, type LaunchedChromium } from '../test/support/chromium.ts';
import { serviceClient, startService, type RunningService, type ServiceClient } from '../test/support/service.ts';

type Service = ServiceClient;
import { ensureLoopbackNamespace, finishBench, runBench, serveBenchPages } from './lib/harness.ts';
import { checkRtpConsistency, percentile, type LatencySample, type LatencyStats } from '../test/support/latency-pattern.ts';
import type { LatencyBenchApi, SendCounters } from './lib/stage-latency.page.ts';
import { sleep, waitFor } from '../test/support/wait.ts';

ensureLoopbackNamespace();

const FRAMES = Number(process.env.BENCH_FRAMES ?? 330);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/**
 * Long enough for Chromium's lip-sync to settle on both paths. libwebrtc syncs a stream pair only
 * once it has two sender reports of each, and Chromium sends audio reports about every 5 s:
 * after a 3 s warm-up the direct path was measured before its sync began (skew 38-44 ms left
 * alone), while mediasoup, which reports more often, had the SFU path synced already.
 */
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 20000);
const PATHS = (process.env.BENCH_PATHS ?? 'direct,sfu').split(',').map((s) => s.trim());
const STRICT = process.env.BENCH_STRICT === '1';
const AUDIO = process.env.BENCH_AUDIO !== '0';

type Path = 'direct' | 'sfu';

interface RoundResult {
  path: Path;
  round: number;
  stats: LatencyStats;
  /** Samples left after the RTP consistency check. */
  kept: LatencySample[];
  mismatched: number;
  summary: Awaited<ReturnType<LatencyBenchApi['recvSummary']>>;
  engine?: { packets: number; cpuMicros: number; kind?: string } | string;
  /** The sender's video over the measured window. */
  send: SendWindow;
  notes: string[];
}

interface SendWindow {
  /** Mean wait of a packet in the sender's pacer, ms. */
  pacerMs: number;
  encodeMs: number;
  kbps: number;
  /** The sender's bandwidth estimate and encoder target at the end, kbit/s. */
  estimateKbps: number;
  targetKbps: number;
  limitation: string;
  width: number;
}

function sendWindow(a: SendCounters, b: SendCounters): SendWindow {
  const packets = Math.max(1, b.packetsSent - a.packetsSent);
  const frames = Math.max(1, b.framesEncoded - a.framesEncoded);
  return {
    pacerMs: ((b.packetSendDelaySec - a.packetSendDelaySec) / packets) * 1000,
    encodeMs: ((b.encodeSec - a.encodeSec) / frames) * 1000,
    kbps: ((b.bytesSent - a.bytesSent) * 8) / Math.max(1, b.at - a.at),
    estimateKbps: b.availableOutgoingBitrate / 1000,
    targetKbps: b.targetBitrate / 1000,
    limitation: b.qualityLimitationReason,
    width: b.frameWidth,
  };
}

/** Calls `window.latencyBench[fn](...args)` in a page. */
function call<K extends keyof LatencyBenchApi>(
  page: Page,
  fn: K,
  ...args: Parameters<LatencyBenchApi[K]>
): Promise<Awaited<ReturnType<LatencyBenchApi[K]>>> {
  return page.evaluate(
    ([name, a]) => (window.latencyBench[name as keyof LatencyBenchApi] as (...x: unknown[]) => unknown)(...(a as unknown[])),
    [fn, args] as const,
  ) as Promise<Awaited<ReturnType<LatencyBenchApi[K]>>>;
}

async function openPage(chromium: LaunchedChromium, url: string): Promise<Page> {
  const page = await chromium.context.newPage();
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  await page.goto(url);
  await page.waitForFunction(() => typeof window.latencyBench === 'object');
  return page;
}

/** Waits for frames, warms up, then collects FRAMES decoded frames on receiver `id`. */
async function collect(receiver: Page, id: string, onWindowStart?: () => Promise<void>): Promise<LatencyStats> {
  await waitFor(`first decoded frames on ${id}`, 20000, async () => (await call(receiver, 'readerStats', id, false)).decoded >= 10);
  await sleep(WARMUP_MS);
  await call(receiver, 'resetReader', id);
  await onWindowStart?.();
  const budget = (FRAMES / 30) * 3000 + 10000;
  await waitFor(`${FRAMES} decoded frames on ${id}`, budget, async () => (await call(receiver, 'readerStats', id, false)).decoded >= FRAMES).catch(
    (err: Error) => console.error(`  ${err.message}`),
  );
  return call(receiver, 'readerStats', id, true);
}

async function runDirect(sender: Page, receiver: Page, round: number): Promise<RoundResult> {
  const id = `direct${round}`;
  let offer = await call(sender, 'createSendOffer', id);
  // Diagnostic: BENCH_DIRECT_EXTENSIONS=toffset,... keeps only those header extensions on the direct path.
  const keep = process.env.BENCH_DIRECT_EXTENSIONS?.split(',');
  if (keep) offer = offer.split('\r\n').filter((l) => !l.startsWith('a=extmap:') || keep.some((k) => l.endsWith(k))).join('\r\n');
  const answer = await call(receiver, 'answerOffer', id, offer);
  await call(sender, 'applyAnswer', id, answer);
  let sendBefore: SendCounters | undefined;
  const stats = await collect(receiver, id, async () => {
    sendBefore = await call(sender, 'sendCounters', id);
  });
  const send = sendWindow(sendBefore!, await call(sender, 'sendCounters', id));
  const summary = await call(receiver, 'recvSummary', id);
  await call(receiver, 'close', id);
  await call(sender, 'close', id);
  return { path: 'direct', round, stats, ...checkRtpConsistency(stats.samples), summary, send, notes: [] };
}

interface EngineCounters {
  /** The engine's kind (`embedded`, `mediasoup`), when the service says. */
  kind?: string;
  packetsForwarded: number;
  cpuMicros: number;
}

/** Engine counters from GET /api/stats, or a reason why not. Accepts them at top level or under `engine`. */
async function engineCounters(service: Service): Promise<EngineCounters | string> {
  try {
    const res = await service.api('/api/stats');
    if (res.status !== 200) return `GET /api/stats → ${res.status}`;
    const body = (await res.json()) as Record<string, unknown>;
    const src = (typeof body.engine === 'object' && body.engine ? body.engine : body) as Record<string, unknown>;
    if (typeof src.packetsForwarded !== 'number' || typeof src.cpuMicros !== 'number') {
      return `GET /api/stats has no numeric packetsForwarded/cpuMicros: ${JSON.stringify(body).slice(0, 200)}`;
    }
    return { packetsForwarded: src.packetsForwarded, cpuMicros: src.cpuMicros, ...(typeof src.kind === 'string' ? { kind: src.kind } : {}) };
  } catch (err) {
    return `GET /api/stats failed: ${String(err)}`;
  }
}

/**
 * WHIP/WHEP POST from the page (plain fetch, cross-origin). If the browser cannot do it (CORS),
 * note that and do the same exchange from Node, so figures still come out.
 */
async function exchange(page: Page, url: string, token: string, sdp: string, notes: string[]) {
  const r = await call(page, 'postSdp', url, token, sdp);
  if (r.status !== 0) return { ...r, via: 'browser' as const };
  notes.push(`browser fetch to ${new URL(url).pathname} failed (${r.error}); CORS missing? Used a Node-side fetch instead`);
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/sdp' },
    body: sdp,
  });
  const loc = res.headers.get('location');
  return { ok: res.ok, status: res.status, location: loc ? new URL(loc, url).href : null, body: await res.text(), via: 'node' as const };
}

async function deleteResource(page: Page, url: string, token: string, via: 'browser' | 'node'): Promise<number> {
  if (via === 'browser') return (await call(page, 'deleteResource', url, token)).status;
  return (await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).status;
}

async function runSfu(service: Service, sender: Page, receiver: Page, round: number): Promise<RoundResult> {
  const notes: string[] = [];
  const id = `sfu${round}`;
  const room = await service.createRoom();
  const pubToken = await service.token(room, `bench-pub-${round}`, 'presenter');
  const viewToken = await service.token(room, `bench-view-${round}`, 'moderator');

  const offer = await call(sender, 'createSendOffer', id);
  const whip = await exchange(sender, `${service.url}/whip/${encodeURIComponent(room)}`, pubToken, offer, notes);
  if (whip.status !== 201) throw new Error(`WHIP POST → ${whip.status} ${whip.body.slice(0, 300)}`);
  if (!whip.location) notes.push('WHIP 201 without a readable Location (missing, or not in Access-Control-Expose-Headers)');
  await call(sender, 'applyAnswer', id, whip.body);
  await waitFor('publisher connected', 15000, async () => (await call(sender, 'connectionState', id)) === 'connected');
  await sleep(Number(process.env.BENCH_SETTLE_MS ?? 1000)); // let the engine see media and put the tracks on the stage

  const recvOffer = await call(receiver, 'createRecvOffer', id);
  const whep = await exchange(receiver, `${service.url}/whep/${encodeURIComponent(room)}`, viewToken, recvOffer, notes);
  if (whep.status !== 201) throw new Error(`WHEP POST → ${whep.status} ${whep.body.slice(0, 300)}`);
  if (!whep.location) notes.push('WHEP 201 without a readable Location (missing, or not in Access-Control-Expose-Headers)');
  await call(receiver, 'applyAnswer', id, whep.body);

  const counters: { before: EngineCounters | string } = { before: 'not sampled' };
  let sendBefore: SendCounters | undefined;
  const stats = await collect(receiver, id, async () => {
    counters.before = await engineCounters(service);
    sendBefore = await call(sender, 'sendCounters', id);
  });
  const send = sendWindow(sendBefore!, await call(sender, 'sendCounters', id));
  const before = counters.before;
  const after = await engineCounters(service);
  const summary = await call(receiver, 'recvSummary', id);
  let engine: RoundResult['engine'];
  if (typeof before === 'string') engine = before;
  else if (typeof after === 'string') engine = after;
  else engine = { packets: after.packetsForwarded - before.packetsForwarded, cpuMicros: after.cpuMicros - before.cpuMicros, ...(after.kind ? { kind: after.kind } : {}) };

  if (whep.location) {
    const s = await deleteResource(receiver, whep.location, viewToken, whep.via);
    if (s !== 200 && s !== 204) notes.push(`DELETE WHEP Location → ${s}`);
  }
  if (whip.location) {
    const s = await deleteResource(sender, whip.location, pubToken, whip.via);
    if (s !== 200 && s !== 204) notes.push(`DELETE WHIP Location → ${s}`);
  }
  await call(receiver, 'close', id);
  await call(sender, 'close', id);
  await service.api(`/api/rooms/${encodeURIComponent(room)}`, { method: 'DELETE' }).catch(() => {});
  return { path: 'sfu', round, stats, ...checkRtpConsistency(stats.samples), summary, engine, send, notes };
}

const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);
const fmt = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'n/a');
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

async function main(): Promise<number> {
  const pages = await serveBenchPages(['stage-latency']);
  const chromium = await launchChromium();
  let service: Service | null = null;
  let started: RunningService | null = null;
  const results: RoundResult[] = [];
  const problems: string[] = [];
  try {
    const sender = await openPage(chromium, pages.pageUrl('stage-latency'));
    const receiver = await openPage(chromium, pages.pageUrl('stage-latency'));
    const tracks = await call(sender, 'startSender', AUDIO);
    console.log(`sender: pattern canvas 640x480@30 + ${tracks.audio} audio track(s); ${FRAMES} frames per path, ${ROUNDS} round(s)`);

    if (PATHS.includes('sfu')) {
      try {
        const env: Record<string, string> = { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
        if (process.env.BENCH_ENGINE) env.ENGINE = process.env.BENCH_ENGINE;
        service = process.env.BENCH_SERVICE_URL ? serviceClient(process.env.BENCH_SERVICE_URL, process.env.BENCH_API_KEY ?? '') : (started = await startService(env));
        console.log(`service: ${service.url}`);
      } catch (err) {
        problems.push(`SFU path cannot run: service did not start: ${String(err).split('\n')[0]}`);
      }
    }

    for (let round = 1; round <= ROUNDS; round++) {
      if (PATHS.includes('direct')) {
        const r = await runDirect(sender, receiver, round);
        results.push(r);
        console.log(`round ${round} direct: p50 ${fmt(percentile(r.kept.map((s) => s.latencyMs), 50))}, ${r.stats.decoded} decoded, ${r.mismatched} dropped (RTP mismatch)`);
      }
      if (service) {
        try {
          const r = await runSfu(service, sender, receiver, round);
          results.push(r);
          console.log(`round ${round} sfu:    p50 ${fmt(percentile(r.kept.map((s) => s.latencyMs), 50))}, ${r.stats.decoded} decoded, ${r.mismatched} dropped (RTP mismatch)`);
          for (const n of r.notes) console.log(`  note: ${n}`);
        } catch (err) {
          problems.push(`SFU round ${round} failed: ${String(err)}`);
          console.error(`round ${round} sfu: ${String(err)}`);
        }
      }
    }
  } finally {
    await chromium.close();
    if (started) await started.stop();
    await pages.close();
  }

  // Report.
  const byPath = (p: Path) => results.filter((r) => r.path === p);
  const pooled = (p: Path) => byPath(p).flatMap((r) => r.kept.map((s) => s.latencyMs));
  const sum = (p: Path, k: 'decoded' | 'failed' | 'repeated' | 'skipped') => byPath(p).reduce((a, r) => a + r.stats[k], 0);
  const p50 = { direct: percentile(pooled('direct'), 50), sfu: percentile(pooled('sfu'), 50) };
  const p95 = { direct: percentile(pooled('direct'), 95), sfu: percentile(pooled('sfu'), 95) };

  console.log('\n=== stage latency (glass to glass, same machine) ===');
  for (const p of ['direct', 'sfu'] as const) {
    if (!byPath(p).length) {
      console.log(`${p.padEnd(6)}  not run`);
      continue;
    }
    const roundP50 = byPath(p).map((r) => percentile(r.kept.map((s) => s.latencyMs), 50));
    const last = byPath(p).at(-1)!.summary;
    console.log(
      `${p.padEnd(6)}  p50 ${fmt(p50[p])}  p95 ${fmt(p95[p])}  mean ${fmt(mean(pooled(p)))}  min ${fmt(percentile(pooled(p), 0))}  max ${fmt(percentile(pooled(p), 100))}` +
        (roundP50.length > 1 ? `  (round p50s: ${roundP50.map((v) => v.toFixed(1)).join(', ')})` : ''),
    );
    console.log(
      `        frames decoded ${sum(p, 'decoded')}, failed ${sum(p, 'failed')}, repeated ${sum(p, 'repeated')}, skipped ${sum(p, 'skipped')}, ` +
        `dropped as RTP-mismatched ${byPath(p).reduce((a, r) => a + r.mismatched, 0)}; ` +
        `${last.videoCodec} ${last.frameWidth}x${last.frameHeight}, video jitter buffer ${last.videoJitterBufferMs} ms, ` +
        `audio jitter buffer ${last.audioJitterBufferMs} ms, audio bytes ${last.audioBytesReceived}, video packets lost ${last.videoPacketsLost}`,
    );
    for (const r of byPath(p)) {
      const s = r.summary;
      console.log(
        `        round ${r.round}: video target/minimum ${s.videoTargetMs}/${s.videoMinimumMs} ms, audio target/minimum ${s.audioTargetMs}/${s.audioMinimumMs} ms, ` +
          `video−audio estimated playout ${Number.isFinite(s.playoutSkewMs) ? `${s.playoutSkewMs.toFixed(0)} ms` : 'n/a'}; ` +
          `claimed delay audio ${s.audioClaimedMs.toFixed(0)} ms, video ${s.videoClaimedMs.toFixed(0)} ms (measured video p50 ${percentile(r.kept.map((x) => x.latencyMs), 50).toFixed(0)} ms, ` +
          `audio to the ear p50 ${Number.isFinite(s.audioLatencyMs) ? `${s.audioLatencyMs.toFixed(0)} ms over ${s.audioOnsets} beeps` : 'n/a'})`,
      );
      const w = r.send;
      console.log(
        `          sender: pacer ${w.pacerMs.toFixed(1)} ms per packet, encode ${w.encodeMs.toFixed(1)} ms per frame, ${w.kbps.toFixed(0)} kbit/s sent ` +
          `(estimate ${w.estimateKbps.toFixed(0)}, target ${w.targetKbps.toFixed(0)} kbit/s at the end), ${w.width} px wide, limited by ${w.limitation || 'n/a'}`,
      );
    }
    if (process.env.BENCH_VERBOSE === '1') console.log(`        extensions received: ${byPath(p).at(-1)!.summary.extensions.join(' ')}`);
  }
  const ratio = p50.sfu / p50.direct;
  let cpuPerPacket = 'n/a';
  const engines = byPath('sfu').map((r) => r.engine);
  const counted = engines.filter((e): e is { packets: number; cpuMicros: number; kind?: string } => typeof e === 'object');
  if (counted.length) {
    const packets = counted.reduce((a, e) => a + e.packets, 0);
    const cpu = counted.reduce((a, e) => a + e.cpuMicros, 0);
    cpuPerPacket = packets > 0 ? `${(cpu / packets / 1000).toFixed(3)} ms (${packets} packets, ${(cpu / 1000).toFixed(0)} ms CPU in the window)` : 'n/a (no packets forwarded)';
  } else if (engines.length) {
    cpuPerPacket = `n/a (${String(engines.find((e) => typeof e === 'string'))})`;
  }
  const onMediasoup = counted.some((e) => e.kind === 'mediasoup');
  const targets = {
    ratio: ratio <= 2,
    ...(onMediasoup ? { mediasoupRatio: ratio <= 1.2 } : {}),
    sfuP50: p50.sfu <= 100,
    sfuP95: p95.sfu <= 200,
    directP95: p95.direct <= 200,
  };
  if (byPath('sfu').length && byPath('direct').length) {
    console.log(`ratio   SFU p50 / direct p50 = ${ratio.toFixed(2)}   target ≤ 2.00   ${verdict(targets.ratio)}`);
    // Issue 10 holds the mediasoup engine to a tighter ratio than the stage's first target.
    if (onMediasoup) console.log(`ratio   SFU p50 / direct p50 = ${ratio.toFixed(2)}   target on mediasoup ≤ 1.20   ${verdict(ratio <= 1.2)}`);
    // The sound, measured the same way (beeps dated as the receiver plays them): what forwarding
    // adds to audio, and how far ahead of its sound each path shows the picture.
    const audio = (p: Path) => percentile(byPath(p).map((r) => r.summary.audioLatencyMs).filter(Number.isFinite), 50);
    if (Number.isFinite(audio('direct')) && Number.isFinite(audio('sfu'))) {
      console.log(
        `audio   to the ear, median of round p50s: direct ${fmt(audio('direct'))}, SFU ${fmt(audio('sfu'))}, ratio ${(audio('sfu') / audio('direct')).toFixed(2)}; ` +
          `the picture leads its sound by ${fmt(audio('direct') - p50.direct)} direct, ${fmt(audio('sfu') - p50.sfu)} through the SFU`,
      );
    }
    // The video's way to the receiver alone (frame complete there), before jitter buffer,
    // lip-sync and the display's 16.7 ms refresh steps.
    const arrival = (p: Path) => percentile(byPath(p).flatMap((r) => r.kept.map((x) => x.arrivalMs).filter((v): v is number => v !== undefined)), 50);
    if (Number.isFinite(arrival('direct')) && Number.isFinite(arrival('sfu'))) {
      console.log(`arrival video frame complete at the receiver p50: direct ${fmt(arrival('direct'))}, SFU ${fmt(arrival('sfu'))}, the SFU adds ${fmt(arrival('sfu') - arrival('direct'))}`);
    }
  }
  if (byPath('sfu').length) {
    console.log(`target  SFU p50 ${fmt(p50.sfu)} ≤ 100 ms   ${verdict(targets.sfuP50)}`);
    console.log(`target  SFU p95 ${fmt(p95.sfu)} ≤ 200 ms   ${verdict(targets.sfuP95)}`);
  }
  if (byPath('direct').length) console.log(`target  direct p95 ${fmt(p95.direct)} ≤ 200 ms   ${verdict(targets.directP95)}`);
  console.log(`engine  CPU per forwarded RTP packet: ${cpuPerPacket}`);

  for (const p of PATHS as Path[]) {
    for (const r of byPath(p)) {
      if (r.stats.decoded < FRAMES) problems.push(`${p} round ${r.round}: only ${r.stats.decoded} of ${FRAMES} frames decoded`);
      // More than 15 % of frames read from the wrong frame means the receiver is too starved to measure.
      if (r.kept.length < 0.85 * FRAMES) problems.push(`${p} round ${r.round}: only ${r.kept.length} samples left after the RTP check`);
    }
  }
  if (STRICT) {
    for (const [k, ok] of Object.entries(targets)) if (!ok && byPath('sfu').length) problems.push(`target missed: ${k}`);
  }
  console.log(
    `RESULT ${JSON.stringify({
      direct: { p50: p50.direct, p95: p95.direct, samples: pooled('direct').length, decoded: sum('direct', 'decoded'), failed: sum('direct', 'failed') },
      sfu: { p50: p50.sfu, p95: p95.sfu, samples: pooled('sfu').length, decoded: sum('sfu', 'decoded'), failed: sum('sfu', 'failed') },
      ratio,
      cpuPerPacket,
    })}`,
  );
  return finishBench(problems, () => results.map((r) => ({ path: r.path, round: r.round, samples: r.stats.samples })));
}

runBench(main);
