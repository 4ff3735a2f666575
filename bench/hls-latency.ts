/**
 * HLS latency bench: glass-to-glass latency of the LL-HLS broadcast as the audience sees it,
 * against a plain-HLS baseline of the same stage, in one run.
 *
 *   node bench/hls-latency.ts
 *
 * Re-executes itself inside `unshare -n` with only loopback up (bench/lib/harness.ts). In one
 * Chromium, a publisher page (bench/lib/stage-latency.page.ts) paints its clock onto a canvas
 * (test/support/latency-pattern.ts) and publishes it with a 440 Hz tone over WHIP to the real
 * service (startService()), which broadcasts the stage. A player page
 * (bench/lib/hls-latency.page.ts) reads the clock back from every presented frame:
 *   ours:     the watch page's HlsView (hls.js, low-latency mode) on /hls/<room>/index.m3u8;
 *   baseline: the same stage pulled over WHEP and transcoded with the same ffmpeg settings,
 *             packaged by ffmpeg's HLS muxer (1 s fMP4 segments, list of 6), served as static
 *             files, played by hls.js with its defaults (bench/lib/hls-baseline.ts).
 * The two run one after the other (the machine may have two cores: three x264 encodes at once
 * would measure CPU starvation); our broadcast is stopped through the API before the baseline.
 *
 * BENCH_ENGINES=embedded,mediasoup measures our path on each engine in turn, in the same run
 * (default: the engine the service picks); the baseline runs once, through the embedded engine
 * when it is among them (it runs last), else through the last one.
 * BENCH_FRAMES (default 450) decoded frames per path after BENCH_WARMUP_MS (default 5000; the
 * baseline gets 3 s more to settle at its start position). BENCH_DUMP=<file> writes the raw
 * samples. Exits non-zero when a path cannot run or decodes fewer than 300 frames;
 * BENCH_STRICT=1 also fails on missed targets.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { launchChromium, type LaunchedChromium } from '../test/support/chromium.ts';
import { startService, type RunningService } from '../test/support/service.ts';
import { ensureLoopbackNamespace, finishBench, runBench, serveBenchPages } from './lib/harness.ts';
import { startBaseline, type Baseline } from './lib/hls-baseline.ts';
import type { HlsBenchApi } from './lib/hls-latency.page.ts';
import { percentile, type LatencyStats } from '../test/support/latency-pattern.ts';
import type { LatencyBenchApi } from './lib/stage-latency.page.ts';
import { sleep, waitFor } from '../test/support/wait.ts';

ensureLoopbackNamespace();

const FRAMES = Number(process.env.BENCH_FRAMES ?? 450);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 5000);
const STRICT = process.env.BENCH_STRICT === '1';
const MIN_SAMPLES = 300;

type Api = LatencyBenchApi & HlsBenchApi;

function call<K extends keyof Api>(page: Page, fn: K, ...args: Parameters<Api[K]>): Promise<Awaited<ReturnType<Api[K]>>> {
  return page.evaluate(
    ([name, a]) => {
      const w = window as unknown as { latencyBench?: Record<string, unknown>; hlsBench?: Record<string, unknown> };
      const target = (w.hlsBench && name in w.hlsBench ? w.hlsBench : w.latencyBench)!;
      return (target[name] as (...x: unknown[]) => unknown)(...(a as unknown[]));
    },
    [fn, args] as const,
  ) as Promise<Awaited<ReturnType<Api[K]>>>;
}

async function openPage(chromium: LaunchedChromium, url: string, global: 'latencyBench' | 'hlsBench'): Promise<Page> {
  const page = await chromium.context.newPage();
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  await page.goto(url);
  await page.waitForFunction((g) => typeof (window as unknown as Record<string, unknown>)[g] === 'object', global);
  return page;
}

/** utime + stime of a process (all threads), microseconds; NaN if it is gone. */
function cpuMicros(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / clockTicks;
  } catch {
    return NaN;
  }
}
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function childFfmpegPid(parent: number | undefined): number | undefined {
  try {
    return Number(execFileSync('pgrep', ['-P', String(parent), '-x', 'ffmpeg'], { encoding: 'utf8' }).trim().split('\n')[0]) || undefined;
  } catch {
    return undefined;
  }
}

async function engineCpuMicros(service: RunningService): Promise<number> {
  try {
    const body = (await (await service.api('/api/stats')).json()) as Record<string, unknown>;
    const src = (typeof body.engine === 'object' && body.engine ? body.engine : body) as Record<string, unknown>;
    return typeof src.cpuMicros === 'number' ? src.cpuMicros : NaN;
  } catch {
    return NaN;
  }
}

interface PathResult {
  stats: LatencyStats;
  latencies: number[];
  pdtLatency: number[];
  level: string;
  fatalErrors: string[];
  framesDropped: number;
  windowMs: number;
  ffmpegCpu: number;
  serviceCpu?: number;
  engineCpu?: number;
}

/** Warm-up, then FRAMES decoded frames on player `id`, sampling the PDT readout once a second. */
async function measure(player: Page, id: string, warmupMs: number, cpuPids: { ffmpeg?: number; service?: number; service2?: RunningService }): Promise<PathResult> {
  await waitFor(`first decoded frames on ${id}`, 30000, async () => (await call(player, 'readerStats', id, false)).decoded >= 10);
  await sleep(warmupMs);
  await call(player, 'resetReader', id);
  const t0 = Date.now();
  const ff0 = cpuMicros(cpuPids.ffmpeg);
  const svc0 = cpuMicros(cpuPids.service);
  const eng0 = cpuPids.service2 ? await engineCpuMicros(cpuPids.service2) : NaN;
  const pdtLatency: number[] = [];
  const budget = (FRAMES / 30) * 3000 + 15000;
  await waitFor(`${FRAMES} decoded frames on ${id}`, budget, async () => {
    const info = await call(player, 'info', id);
    if (info.pdtLatencySec !== null) pdtLatency.push(info.pdtLatencySec * 1000);
    await sleep(800);
    return (await call(player, 'readerStats', id, false)).decoded >= FRAMES;
  }).catch((err: Error) => console.error(`  ${err.message}`));
  const windowMs = Date.now() - t0;
  const ffmpegCpu = (cpuMicros(cpuPids.ffmpeg) - ff0) / 1000 / windowMs;
  const serviceCpu = (cpuMicros(cpuPids.service) - svc0) / 1000 / windowMs;
  const engineCpu = cpuPids.service2 ? ((await engineCpuMicros(cpuPids.service2)) - eng0) / 1000 / windowMs : NaN;
  const stats = await call(player, 'readerStats', id, true);
  const info = await call(player, 'info', id);
  return {
    stats,
    latencies: stats.samples.map((s) => s.latencyMs),
    pdtLatency,
    level: info.level,
    fatalErrors: info.fatalErrors,
    framesDropped: info.framesDropped,
    windowMs,
    ffmpegCpu,
    serviceCpu,
    engineCpu,
  };
}

const s = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'n/a');
const pct = (f: number | undefined) => (f !== undefined && Number.isFinite(f) ? `${(f * 100).toFixed(0)}% of one core` : 'n/a');
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

/** Engines to measure, one after the other in this run (e.g. `embedded,mediasoup`); default: the service's own choice. */
const ENGINES = (process.env.BENCH_ENGINES ?? '').split(',').map((e) => e.trim()).filter(Boolean);

interface Session {
  service: RunningService;
  room: string;
  sender: Page;
  kind: string;
}

/** A service on `engine` with the pattern publisher live over WHIP. */
async function startSession(chromium: LaunchedChromium, pageUrl: string, engine: string | undefined): Promise<Session> {
  const service = await startService({ LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...(engine ? { ENGINE: engine } : {}) });
  try {
    const kind = ((await (await service.api('/api/stats')).json()) as { kind?: string }).kind ?? engine ?? 'default';
    console.log(`[${kind}] service: ${service.url}`);
    const room = await service.createRoom();
    const pubToken = await service.token(room, 'bench-pub', 'presenter');
    const sender = await openPage(chromium, pageUrl, 'latencyBench');
    const tracks = await call(sender, 'startSender', true);
    const offer = await call(sender, 'createSendOffer', 'pub');
    const whip = await call(sender, 'postSdp', `${service.url}/whip/${encodeURIComponent(room)}`, pubToken, offer);
    if (whip.status !== 201) throw new Error(`WHIP POST → ${whip.status} ${whip.body.slice(0, 300)} ${whip.error ?? ''}`);
    await call(sender, 'applyAnswer', 'pub', whip.body);
    await waitFor('publisher connected', 15000, async () => (await call(sender, 'connectionState', 'pub')) === 'connected');
    console.log(`[${kind}] publisher: pattern canvas 640x480@30 + ${tracks.audio} audio track over WHIP; ${FRAMES} frames per path`);
    return { service, room, sender, kind };
  } catch (err) {
    await service.stop();
    throw err;
  }
}

/** Our LL-HLS broadcast of the session's stage, played by the watch page's HlsView. */
async function measureOurs(session: Session, player: Page, problems: string[]): Promise<PathResult> {
  const { service, room, kind } = session;
  // The sender page opened after the player: bring the player back to the front, or Chromium
  // throttles its frame callbacks and the reader misses frames.
  await player.bringToFront();
  const src = `${service.url}/hls/${encodeURIComponent(room)}/index.m3u8`;
  await waitFor('the broadcast playlist', 20000, async () => (await fetch(src)).status === 200);
  await call(player, 'playOurs', 'ours', src);
  const ffmpegPid = childFfmpegPid(service.child.pid);
  const result = await measure(player, 'ours', WARMUP_MS, { ffmpeg: ffmpegPid, service: service.child.pid, service2: service });
  const broadcast = (await (await service.api(`/api/rooms/${encodeURIComponent(room)}/broadcast`)).json()) as { ffmpegRestarts?: number };
  if (childFfmpegPid(service.child.pid) !== ffmpegPid) problems.push(`[${kind}] the service restarted ffmpeg during the measurement; its CPU figure covers only part of the window`);
  console.log(`[${kind}] ours: p50 ${s(percentile(result.latencies, 50))}, ${result.stats.decoded} decoded, rendition ${result.level}, ffmpeg restarts so far ${broadcast.ffmpegRestarts}`);
  await call(player, 'close', 'ours');
  return result;
}

async function main(): Promise<number> {
  const pages = await serveBenchPages(['stage-latency', 'hls-latency']);
  const chromium = await launchChromium();
  let session: Session | undefined;
  let baseline: Baseline | undefined;
  const problems: string[] = [];
  const ours: { kind: string; result: PathResult }[] = [];
  let base: PathResult | undefined;
  try {
    const player = await openPage(chromium, pages.pageUrl('hls-latency'), 'hlsBench');
    // ---- ours, per engine; the last session stays up for the baseline ------------------------
    // The embedded engine goes last when measured, so the baseline's werift WHEP client pulls from
    // it: werift, like older libwebrtc, reads header extensions with its own offer's ids, and
    // mediasoup writes them under fixed ids of its own (see the README's WHEP notes).
    const engines = ENGINES.length ? [...ENGINES.filter((e) => e !== 'embedded'), ...ENGINES.filter((e) => e === 'embedded')] : [undefined];
    for (const [i, engine] of engines.entries()) {
      session = await startSession(chromium, pages.pageUrl('stage-latency'), engine);
      try {
        ours.push({ kind: session.kind, result: await measureOurs(session, player, problems) });
      } catch (err) {
        problems.push(`[${session.kind}] ${String(err)}`);
      }
      if (i < engines.length - 1) {
        await session.sender.close();
        await session.service.stop();
        session = undefined;
      }
    }

    // ---- baseline -----------------------------------------------------------------------------
    if (!session) throw new Error('no session left for the baseline');
    const { service, room } = session;
    const stop = await service.api(`/api/rooms/${encodeURIComponent(room)}/broadcast`, { method: 'DELETE' });
    if (stop.status !== 200) problems.push(`stopping our broadcast before the baseline → ${stop.status}`);
    const whepToken = await service.token(room, 'bench-baseline', 'moderator');
    try {
      const broadcastApi = `/api/rooms/${encodeURIComponent(room)}/broadcast`;
      baseline = await startBaseline({
        serviceUrl: service.url,
        room,
        token: whepToken,
        audioPort: 51700,
        videoPort: 51702,
        // A starting broadcast asks the publisher for a keyframe; stop it again at once.
        requestKeyframe: async () => {
          await service.api(broadcastApi, { method: 'POST' });
          await service.api(broadcastApi, { method: 'DELETE' });
        },
      });
      // Join an established stream, as a viewer would: hls.js starts 3 segments behind the
      // edge only when the playlist has them; joining a 1-segment playlist would flatter it.
      const url = baseline.playlistUrl;
      await waitFor('4 segments in the baseline playlist', 20000, async () => ((await (await fetch(url)).text()).match(/#EXTINF/g)?.length ?? 0) >= 4);
      await player.bringToFront();
      await call(player, 'playBaseline', 'baseline', baseline.playlistUrl);
      base = await measure(player, 'baseline', WARMUP_MS + 3000, { ffmpeg: baseline.ffmpegPid });
      console.log(`baseline (through ${session.kind}): p50 ${s(percentile(base.latencies, 50))}, ${base.stats.decoded} decoded, rendition ${base.level}`);
      await call(player, 'close', 'baseline');
    } catch (err) {
      problems.push(`baseline could not run: ${String(err).split('\n')[0]}`);
    }
  } catch (err) {
    problems.push(String(err));
  } finally {
    await baseline?.close();
    await chromium.close();
    await session?.service.stop();
    await pages.close();
  }

  // ---- report -------------------------------------------------------------------------------
  const p = (r: PathResult | undefined, q: number) => (r ? percentile(r.latencies, q) : NaN);
  console.log('\n=== HLS latency (glass to glass, same machine) ===');
  const rows: [string, PathResult | undefined][] = [...ours.map((o): [string, PathResult] => [`ours [${o.kind}]`, o.result]), ['baseline', base]];
  for (const [name, r] of rows) {
    if (!r) {
      console.log(`${name.padEnd(18)}  not run`);
      continue;
    }
    console.log(
      `${name.padEnd(18)}  p50 ${s(p(r, 50))}  p95 ${s(p(r, 95))}  min ${s(p(r, 0))}  max ${s(p(r, 100))}  ` +
        `(PDT readout p50 ${s(percentile(r.pdtLatency, 50))}); ${r.latencies.length} samples over ${(r.windowMs / 1000).toFixed(1)} s, ` +
        `failed ${r.stats.failed}, skipped ${r.stats.skipped}, dropped by the element ${r.framesDropped}; rendition ${r.level}; fatal hls.js errors: ${r.fatalErrors.join(', ') || 'none'}`,
    );
  }
  const summary: Record<string, unknown> = { baseline: { p50: p(base, 50), p95: p(base, 95), samples: base?.latencies.length ?? 0, ffmpegCpu: base?.ffmpegCpu } };
  for (const { kind, result } of ours) {
    const ratio = p(result, 50) / p(base, 50);
    const targets = { p50: p(result, 50) <= 2000, p95: p(result, 95) <= 3000, half: ratio <= 0.5 };
    console.log(`[${kind}] target  p50 ${s(p(result, 50))} ≤ 2.00 s   ${verdict(targets.p50)}`);
    console.log(`[${kind}] target  p95 ${s(p(result, 95))} ≤ 3.00 s   ${verdict(targets.p95)}`);
    console.log(`[${kind}] ratio   p50 / baseline p50 = ${Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a'}   target ≤ 0.50   ${verdict(targets.half)}`);
    console.log(`[${kind}] cpu     service ffmpeg (720p + 360p): ${pct(result.ffmpegCpu)}; baseline ffmpeg (720p only): ${pct(base?.ffmpegCpu)}`);
    const outsideEngine = Number.isFinite(result.engineCpu!) ? result.serviceCpu! - result.engineCpu! : NaN;
    console.log(
      `[${kind}] cpu     service process ${pct(result.serviceCpu)}, of which engine ${pct(result.engineCpu)}; ` +
        `packager + origin + HTTP/WS (service − engine) ${pct(outsideEngine)}, an upper bound on the packager's CPU`,
    );
    if (STRICT) for (const [k, ok] of Object.entries(targets)) if (!ok) problems.push(`[${kind}] target missed: ${k}`);
    summary[kind] = { p50: p(result, 50), p95: p(result, 95), samples: result.latencies.length, ratio, ffmpegCpu: result.ffmpegCpu, serviceCpu: result.serviceCpu, engineCpu: result.engineCpu };
  }
  if (ours.length === 2) {
    const [a, b] = ours as [(typeof ours)[number], (typeof ours)[number]];
    console.log(`${b.kind} / ${a.kind} (same run): p50 ${(p(b.result, 50) / p(a.result, 50)).toFixed(2)}, p95 ${(p(b.result, 95) / p(a.result, 95)).toFixed(2)}`);
  }
  console.log(
    'packager time from fragment arrival to part published: n/a (the packager does not expose it; it needs a per-part ' +
      'arrival→publish histogram in services/packager, e.g. on GET /api/stats)',
  );
  for (const [name, r] of rows) {
    if (r && r.latencies.length < MIN_SAMPLES) problems.push(`${name}: only ${r.latencies.length} samples (< ${MIN_SAMPLES})`);
  }
  console.log(`RESULT ${JSON.stringify(summary)}`);
  return finishBench(problems, () => Object.fromEntries([...ours.map((o) => [o.kind, o.result.stats.samples]), ['baseline', base?.stats.samples]]));
}

runBench(main);
