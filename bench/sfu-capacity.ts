// SFU capacity: one publisher bot (VP8, optionally opus) fans out to N subscriber bots, through
// the project's engine and, in the same run, through a bare engine doing the same forwarding:
//   embedded engine → bare werift on a worker thread (bench/lib/werift-baseline.thread.ts)
//   mediasoup engine → a bare mediasoup router (bench/lib/mediasoup-baseline.ts)
// With mediasoup, the embedded engine runs beside them in the same run, for its capacity figure.
// Bots are libwebrtc (@roamhq/wrtc) in a child process (bench/lib/sfu-bots.process.ts). The
// publisher offers and the forwarder answers; subscribers are offered to and answer, as stage
// members subscribe (see bench/lib/forwarder.ts for why not WHEP).
//
// Per step N it prints, for ours and the baseline: forwarded packets/s, the forwarder's CPU per
// forwarded packet (and its share of one core), what the bots received (packets/s, loss,
// received/expected, decoded fps of the slowest bot), and the main thread's event-loop delay
// (where HTTP and WebSocket run in the service). Then the ratio ours/baseline of CPU per packet
// and the PASS/FAIL targets.
//
// Run: npm run bench:sfu-capacity   (re-runs itself in a loopback-only network namespace)
// Every side runs in the same process with its own publisher bot; only one side's publisher
// sends at a time. Each step measures the sides in alternating windows (ABBA, BAAB on odd steps;
// ABCCBA with three), so load that drifts during a step (other processes) weighs on all alike.
// Env: BENCH_SUBSCRIBERS=1,5,10,20  BENCH_SECONDS=8 (measured per step and side)
//      BENCH_AUDIO=1 (0: video only)  BENCH_WIDTH/BENCH_HEIGHT/BENCH_FPS=640/360/30
//      BENCH_VIDEO_KBPS=1200 (pinned publisher video bitrate)  BENCH_VERBOSE=1 (per-bot counts)
//      ENGINE=auto|embedded|mediasoup  ENGINE_WORKER_THREAD=true  MEDIASOUP_WORKER_BIN
//      BENCH_EMBEDDED=0 (with mediasoup: leave out the embedded engine measured beside it)
// Ends with each side's capacity: subscribers of a BENCH_VIDEO_KBPS stream one core holds.
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ensureLoopbackNamespace } from './lib/harness.ts';
import { BotFleet, type BotCounters } from './lib/sfu-bots.ts';
import type { Forwarder } from './lib/forwarder.ts';
import { sleep } from '../test/support/wait.ts';

ensureLoopbackNamespace();
// The logger reads LOG_LEVEL when first imported: set it before loading project code.
process.env.LOG_LEVEL ??= 'warn';
const { loadConfig } = await import('../services/core/config.ts');
const { chooseEngine, createEngine, findMediasoupWorker } = await import('../services/engine/index.ts');
const { engineForwarder } = await import('./lib/forwarder.ts');
const { WeriftBaseline } = await import('./lib/werift-baseline.ts');

const STEPS = (process.env.BENCH_SUBSCRIBERS ?? '1,5,10,20').split(',').map((s) => Number(s.trim()));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const AUDIO = process.env.BENCH_AUDIO !== '0';
const WIDTH = Number(process.env.BENCH_WIDTH ?? 640);
const HEIGHT = Number(process.env.BENCH_HEIGHT ?? 360);
const FPS = Number(process.env.BENCH_FPS ?? 30);
const VIDEO_KBPS = Number(process.env.BENCH_VIDEO_KBPS ?? 1200);
/** Media flows this long after new subscribers join, before their flow is checked. */
const WARMUP_MS = 2000;
/** After a window's publisher pauses, this long for the last packets to arrive and decode before counters are read. */
const DRAIN_MS = 500;
/** A new publisher sends this long before the first step: its encoder settles at the pinned rate. */
const PUBLISHER_WARMUP_MS = 3000;
/** Time allowed for every subscriber of a side to receive its first packets. */
const FLOW_TIMEOUT_MS = 15000;
/** monitorEventLoopDelay samples with a timer of this period; the figures are the delay beyond it. */
const ELD_RESOLUTION_MS = 10;
if (STEPS.some((n) => !Number.isInteger(n) || n < 1) || !(SECONDS > 0)) {
  console.error('BENCH_SUBSCRIBERS must be positive integers ("1,5,10,20") and BENCH_SECONDS a positive number');
  process.exit(2);
}

interface Side {
  fwd: Forwarder;
  publisher: string;
  subscribers: string[];
}

interface Sample {
  /** Index into STEPS. */
  step: number;
  n: number;
  side: string;
  seconds: number;
  forwarded: number;
  cpuMicros: number;
  /** CPU of V8's background threads (GC, compiler) in the bench process; undefined where unknown or not applicable. */
  v8Micros: number | undefined;
  received: number;
  lost: number;
  published: number;
  publishedBytes: number;
  receivedBytes: number;
  minFps: number;
  pubFps: number;
  botsCpuMicros: number;
  /** Share of the whole machine's CPU in use (every process, including other people's), %. */
  hostBusy: number;
  eld: { p50: number; p99: number; max: number };
}

const cfg = loadConfig(
  {
    DEV: 'true',
    ENGINE: process.env.ENGINE ?? 'auto',
    ENGINE_WORKER_THREAD: process.env.ENGINE_WORKER_THREAD ?? 'true',
    MEDIA_IP: '127.0.0.1',
    MEDIA_PORT_RANGE: '40000-44999',
    LOG_LEVEL: process.env.LOG_LEVEL,
    MEDIASOUP_WORKER_BIN: process.env.MEDIASOUP_WORKER_BIN,
  },
  { strict: true },
);
const baselinePorts: [number, number] = [45000, 49999];

const bots = await BotFleet.start({ BENCH_WIDTH: String(WIDTH), BENCH_HEIGHT: String(HEIGHT), BENCH_FPS: String(FPS), BENCH_VIDEO_KBPS: String(VIDEO_KBPS) });
const engine = await createEngine(cfg);
const ours = await engineForwarder(
  engine,
  engine.kind === 'embedded'
    ? cfg.ENGINE_WORKER_THREAD
      ? 'engine worker thread CPU (engine.stats().cpuMicros = process.threadCpuUsage on that thread)'
      : 'main thread CPU (engine.stats().cpuMicros; ENGINE_WORKER_THREAD=false, so it includes the bench control plane)'
    : 'mediasoup worker processes CPU (engine.stats().cpuMicros: getResourceUsage ru_utime + ru_stime of every worker)',
  engine.kind === 'embedded',
);
const mediasoupBin = findMediasoupWorker(cfg);
let baseline: Forwarder;
if (engine.kind === 'embedded') {
  baseline = await WeriftBaseline.start(baselinePorts);
} else {
  // Loaded only here, so that the embedded path never loads mediasoup.
  const { MediasoupBaseline } = await import('./lib/mediasoup-baseline.ts');
  baseline = await MediasoupBaseline.start({ workerBin: mediasoupBin!, listenIp: '127.0.0.1', portRange: baselinePorts });
}
const skipped = mediasoupBin ? undefined : chooseEngine({ ENGINE: 'auto', MEDIASOUP_WORKER_BIN: cfg.MEDIASOUP_WORKER_BIN }).reason;
// Beside mediasoup, the embedded engine in the same run, for its capacity figure.
const reference =
  engine.kind === 'mediasoup' && process.env.BENCH_EMBEDDED !== '0'
    ? await engineForwarder(
        await createEngine(loadConfig({ DEV: 'true', ENGINE: 'embedded', ENGINE_WORKER_THREAD: 'true', MEDIA_IP: '127.0.0.1', MEDIA_PORT_RANGE: '35000-39999', LOG_LEVEL: process.env.LOG_LEVEL }, { strict: true })),
        'engine worker thread CPU (engine.stats().cpuMicros = process.threadCpuUsage on that thread)',
        true,
      )
    : undefined;

const sides: Side[] = [
  { fwd: ours, publisher: 'ours-pub', subscribers: [] },
  { fwd: baseline, publisher: 'base-pub', subscribers: [] },
  ...(reference ? [{ fwd: reference, publisher: 'emb-pub', subscribers: [] }] : []),
];

// Always on, reset at the start of each window: re-enabling a disabled monitor would count the gap.
const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
eld.enable();

const samples: Sample[] = [];
try {
  for (const side of sides) await startPublisher(side);
  for (const [i, n] of STEPS.entries()) {
    for (const side of sides) await prepare(side, n);
    // ABBA (BAAB on odd steps; ABCCBA with a third side): load on the machine that drifts during a
    // step weighs on every side alike.
    const order = i % 2 === 0 ? sides : [...sides].reverse();
    const runs = new Map<Side, Run>(sides.map((side) => [side, newRun()]));
    for (const side of [...order, ...[...order].reverse()]) await measureWindow(side, runs.get(side)!);
    for (const side of sides) samples.push({ step: i, n, side: side.fwd.name, ...finish(side, runs.get(side)!) });
  }
} finally {
  for (const side of sides) await side.fwd.close().catch(() => {});
  await bots.shutdown();
}
report();

async function startPublisher(side: Side): Promise<void> {
  const answer = await side.fwd.publish(await bots.publisher(side.publisher, AUDIO));
  await bots.answer(side.publisher, answer);
  await bots.setActive(side.publisher, true);
  const want = AUDIO ? ['audio', 'video'] : ['video'];
  const deadline = Date.now() + FLOW_TIMEOUT_MS;
  for (;;) {
    const live = await side.fwd.liveKinds();
    if (want.every((k) => live.includes(k))) break;
    if (Date.now() > deadline) throw new Error(`${side.fwd.name}: publisher tracks not live after ${FLOW_TIMEOUT_MS} ms (live: ${live.join(', ') || 'none'})`);
    await sleep(100);
  }
  await sleep(PUBLISHER_WARMUP_MS);
  await bots.setActive(side.publisher, false);
}

/** Brings the side to `n` subscribers and checks that every one of them receives and decodes. */
async function prepare(side: Side, n: number): Promise<void> {
  while (side.subscribers.length > n) {
    const id = side.subscribers.pop()!;
    await side.fwd.unsubscribe(id);
    await bots.close(id);
  }
  while (side.subscribers.length < n) {
    const id = `${side.publisher.replace(/-pub$/, '')}-sub${side.subscribers.length}`;
    await side.fwd.answer(id, await bots.subscriber(id, await side.fwd.subscribe(id)));
    side.subscribers.push(id);
  }
  await bots.setActive(side.publisher, true);
  try {
    await sleep(WARMUP_MS);
    await waitForFlow(side);
  } finally {
    await bots.setActive(side.publisher, false);
  }
}

/** What one side did over the windows of one step, summed. */
interface Run {
  seconds: number;
  forwarded: number;
  cpuMicros: number;
  v8Micros: number | undefined;
  botsCpuMicros: number;
  hostBusy: number;
  hostTotal: number;
  bots: Map<string, Omit<BotCounters, 'videoCodec'>>;
  /** Event-loop delay per window, ms beyond the sampling period. */
  eld: Sample['eld'][];
}

function newRun(): Run {
  return { seconds: 0, forwarded: 0, cpuMicros: 0, v8Micros: 0, botsCpuMicros: 0, hostBusy: 0, hostTotal: 0, bots: new Map(), eld: [] };
}

/**
 * One window: counters are read while the side is quiet (its publisher paused, the last packets
 * drained), so forwarder, publisher and subscriber counts all cover exactly the same packets.
 */
async function measureWindow(side: Side, run: Run): Promise<void> {
  const ids = [side.publisher, ...side.subscribers];
  const [c0, b0] = await Promise.all([side.fwd.counters(), bots.stats(ids)]);
  const host0 = hostTimes();
  const v8Before = v8BackgroundMicros();
  eld.reset();
  const t0 = performance.now();
  await bots.setActive(side.publisher, true);
  try {
    await sleep((SECONDS * 1000) / 2);
  } finally {
    await bots.setActive(side.publisher, false);
  }
  run.seconds += (performance.now() - t0) / 1000;
  await sleep(DRAIN_MS);
  const eldMs = (v: number) => Math.max(0, v / 1e6 - ELD_RESOLUTION_MS);
  run.eld.push({ p50: eldMs(eld.percentile(50)), p99: eldMs(eld.percentile(99)), max: eldMs(eld.max) });
  const host1 = hostTimes();
  const v8After = v8BackgroundMicros();
  const [c1, b1] = await Promise.all([side.fwd.counters(), bots.stats(ids)]);
  run.hostBusy += host1.busy - host0.busy;
  run.hostTotal += host1.total - host0.total;
  run.forwarded += c1.packetsForwarded - c0.packetsForwarded;
  run.cpuMicros += c1.cpuMicros - c0.cpuMicros;
  run.v8Micros = side.fwd.jsThread && run.v8Micros !== undefined && v8Before !== undefined && v8After !== undefined ? run.v8Micros + v8After - v8Before : undefined;
  run.botsCpuMicros += b1.cpuMicros - b0.cpuMicros;
  const codec = b1.bots[side.publisher]?.videoCodec;
  if (codec && codec.toLowerCase() !== 'video/vp8') throw new Error(`${side.fwd.name}: publisher sends ${codec}, not VP8`);
  for (const id of ids) {
    const before = b0.bots[id];
    const after = b1.bots[id];
    if (!before || !after) throw new Error(`${side.fwd.name}: no stats from bot ${id}`);
    const sum = run.bots.get(id) ?? { packetsReceived: 0, packetsLost: 0, bytesReceived: 0, framesDecoded: 0, packetsSent: 0, bytesSent: 0, framesEncoded: 0 };
    for (const key of Object.keys(sum) as (keyof typeof sum)[]) sum[key] += after[key] - before[key];
    run.bots.set(id, sum);
  }
}

/** Every subscriber must have received packets, and still be receiving them; fails loudly otherwise. */
async function waitForFlow(side: Side): Promise<void> {
  const deadline = Date.now() + FLOW_TIMEOUT_MS;
  let before = (await bots.stats(side.subscribers)).bots;
  for (;;) {
    await sleep(500);
    const now = (await bots.stats(side.subscribers)).bots;
    const stalled = side.subscribers.filter((id) => !now[id] || now[id]!.packetsReceived <= (before[id]?.packetsReceived ?? 0) || now[id]!.framesDecoded === 0);
    if (stalled.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${side.fwd.name}: ${stalled.length}/${side.subscribers.length} subscribers receive nothing or decode nothing: ` +
          stalled.map((id) => `${id} (packets ${now[id]?.packetsReceived ?? 0}, frames ${now[id]?.framesDecoded ?? 0})`).join(', '),
      );
    }
    before = now;
  }
}

function finish(side: Side, run: Run): Omit<Sample, 'step' | 'n' | 'side'> {
  const sub = (id: string) => run.bots.get(id)!;
  const silent = side.subscribers.filter((id) => sub(id).packetsReceived === 0);
  if (silent.length) throw new Error(`${side.fwd.name}: subscribers received nothing while measured: ${silent.join(', ')}`);
  if (process.env.BENCH_VERBOSE) {
    console.log(`${side.fwd.name} N=${side.subscribers.length}: ` + side.subscribers.map((id) => `${id} +${sub(id).packetsReceived}/-${sub(id).packetsLost}/${sub(id).framesDecoded}f`).join(' '));
  }
  const sum = (key: 'packetsReceived' | 'packetsLost' | 'bytesReceived') => side.subscribers.reduce((total, id) => total + sub(id)[key], 0);
  const pub = sub(side.publisher);
  return {
    seconds: run.seconds,
    forwarded: run.forwarded,
    cpuMicros: run.cpuMicros,
    v8Micros: run.v8Micros,
    received: sum('packetsReceived'),
    lost: sum('packetsLost'),
    receivedBytes: sum('bytesReceived'),
    published: pub.packetsSent,
    publishedBytes: pub.bytesSent,
    minFps: Math.min(...side.subscribers.map((id) => sub(id).framesDecoded / run.seconds)),
    pubFps: pub.framesEncoded / run.seconds,
    botsCpuMicros: run.botsCpuMicros,
    hostBusy: (100 * run.hostBusy) / run.hostTotal,
    // Histograms of separate windows cannot be merged: p50 is their mean, p99 and max the worse window's.
    eld: {
      p50: run.eld.reduce((s, w) => s + w.p50, 0) / run.eld.length,
      p99: Math.max(...run.eld.map((w) => w.p99)),
      max: Math.max(...run.eld.map((w) => w.max)),
    },
  };
}

/**
 * CPU of this process's V8 background threads (Linux: /proc/self/task/<tid>, named V8Worker),
 * µs, in 10 ms ticks. Their GC and compiler work serves whichever isolate is busy: in a window
 * only one side forwards, so the window's growth is charged to that side.
 */
function v8BackgroundMicros(): number | undefined {
  try {
    let ticks = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== 'V8Worker') continue;
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    }
    return ticks * 10_000;
  } catch {
    return undefined;
  }
}

function hostTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    busy += times.user + times.nice + times.sys + times.irq;
    total += times.user + times.nice + times.sys + times.irq + times.idle;
  }
  return { busy, total };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function report(): void {
  const perPacket = (s: Sample) => s.cpuMicros / s.forwarded;
  const withV8 = (s: Sample) => (s.v8Micros === undefined ? undefined : (s.cpuMicros + s.v8Micros) / s.forwarded);
  const lossPct = (s: Sample) => (100 * Math.max(0, s.lost)) / (s.received + Math.max(0, s.lost));
  console.log(
    `\nSFU capacity: 1 publisher (VP8 ${WIDTH}x${HEIGHT}@${FPS} pinned at ${VIDEO_KBPS} kbit/s${AUDIO ? ', opus' : ''}) → N subscribers, ${SECONDS} s measured per step and side, libwebrtc bots (@roamhq/wrtc)`,
  );
  for (const side of sides) console.log(`  ${side.fwd.name}: CPU = ${side.fwd.cpuSource}`);
  if (sides.some((side) => side.fwd.jsThread)) {
    console.log(`  "w/ V8 bg": µs/pkt counting also the CPU of V8's background threads (GC, compiler; /proc/self/task/*/comm = V8Worker) during the side's windows, which no thread figure includes`);
  }
  console.log(`  event-loop delay: monitorEventLoopDelay on the bench's main thread (the control plane: engine calls; HTTP/WS in the service), beyond its ${ELD_RESOLUTION_MS} ms sampling period; p50 averaged over a side's two windows, p99 and max from the worse one`);
  if (skipped) console.log(`mediasoup comparison skipped: ${skipped} (this run compares the embedded engine with bare werift only)`);
  const header = ['N', 'forwarder', 'fwd pkt/s', 'µs/pkt', 'w/ V8 bg', 'core %', 'recv pkt/s', 'loss %', 'recv/exp', 'pub fps', 'min fps', 'pub kbit/s', 'B/pkt', 'bots core %', 'host %', 'ELD p50/p99/max ms'];
  const widths = [3, 16, 9, 6, 8, 6, 10, 6, 8, 7, 7, 10, 5, 11, 6, 18];
  const row = (cells: string[]) => console.log(cells.map((c, i) => (i === 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  console.log('');
  row(header);
  const ratios: number[] = [];
  const ratiosWithV8: number[] = [];
  for (const [i, n] of STEPS.entries()) {
    const step = samples.filter((s) => s.step === i);
    for (const s of step) {
      const expected = n * s.published;
      row([
        String(n),
        s.side,
        (s.forwarded / s.seconds).toFixed(0),
        perPacket(s).toFixed(1),
        withV8(s)?.toFixed(1) ?? '-',
        ((100 * s.cpuMicros) / 1e6 / s.seconds).toFixed(1),
        (s.received / s.seconds).toFixed(0),
        lossPct(s).toFixed(2),
        expected ? (s.received / expected).toFixed(3) : '-',
        s.pubFps.toFixed(1),
        s.minFps.toFixed(1),
        ((s.publishedBytes * 8) / 1000 / s.seconds).toFixed(0),
        s.received ? (s.receivedBytes / s.received).toFixed(0) : '-',
        ((100 * s.botsCpuMicros) / 1e6 / s.seconds).toFixed(0),
        s.hostBusy.toFixed(0),
        `${s.eld.p50.toFixed(2)}/${s.eld.p99.toFixed(2)}/${s.eld.max.toFixed(2)}`,
      ]);
    }
    if (step.some((s) => s.hostBusy >= 90)) {
      console.log(`${''.padStart(widths[0]!)}  machine saturated (host ≥ 90% busy): loss, fps and delay at this step show CPU starvation of bots and forwarders, not a forwarding limit`);
    }
    const ourSample = step.find((s) => s.side === ours.name);
    const baseSample = step.find((s) => s.side === baseline.name);
    if (ourSample && baseSample) {
      const ratio = perPacket(ourSample) / perPacket(baseSample);
      ratios.push(ratio);
      const ourV8 = withV8(ourSample);
      const baseV8 = withV8(baseSample);
      const v8Ratio = ourV8 !== undefined && baseV8 !== undefined ? ourV8 / baseV8 : undefined;
      if (v8Ratio !== undefined) ratiosWithV8.push(v8Ratio);
      console.log(`${''.padStart(widths[0]!)}  ratio ours/baseline CPU per packet: ${ratio.toFixed(2)}${v8Ratio !== undefined ? ` (w/ V8 bg ${v8Ratio.toFixed(2)})` : ''}`);
    }
  }
  console.log('');
  const ourSamples = samples.filter((s) => s.side === ours.name);
  const baseSamples = samples.filter((s) => s.side === baseline.name);
  console.log(`totals: ours forwarded ${sumOf(ourSamples, 'forwarded')} packets, bots received ${sumOf(ourSamples, 'received')}; ${baseline.name} forwarded ${sumOf(baseSamples, 'forwarded')}, bots received ${sumOf(baseSamples, 'received')}`);
  console.log(`median CPU per forwarded packet: ours ${median(ourSamples.map(perPacket)).toFixed(1)} µs, ${baseline.name} ${median(baseSamples.map(perPacket)).toFixed(1)} µs`);
  const medianRatio = median(ratios);
  console.log(
    `ratio ours/baseline CPU per packet: median ${medianRatio.toFixed(2)} (per step: ${ratios.map((r) => r.toFixed(2)).join(', ')})` +
      (ratiosWithV8.length === ratios.length ? `; w/ V8 bg: median ${median(ratiosWithV8).toFixed(2)}` : ''),
  );
  if (engine.kind === 'embedded') {
    const top = baseSamples.find((s) => s.step === STEPS.length - 1)!;
    console.log(
      `${medianRatio <= 1.1 ? 'PASS' : 'FAIL'} embedded: CPU per packet within 1.1x bare werift (median ratio ${medianRatio.toFixed(2)}; bare werift at N=${top.n}: ${perPacket(top).toFixed(1)} µs/packet)`,
    );
  } else {
    console.log(`${medianRatio <= 1.1 ? 'PASS' : 'FAIL'} mediasoup: worker CPU per forwarded packet within 1.1x the bare router's (median ratio ${medianRatio.toFixed(2)})`);
    // Loss is judged at every step where the bare router had not yet filled a core.
    const belowCore = new Set(baseSamples.filter((s) => s.cpuMicros / 1e6 / s.seconds < 1).map((s) => s.step));
    const judged = ourSamples.filter((s) => belowCore.has(s.step));
    const worst = Math.max(0, ...judged.map(lossPct));
    const verdict = judged.length > 0 && worst < 1 ? 'PASS' : 'FAIL';
    if (belowCore.size === STEPS.length) {
      const busiest = baseSamples.reduce((a, b) => (b.cpuMicros / b.seconds > a.cpuMicros / a.seconds ? b : a));
      console.log(
        `${verdict} mediasoup: loss < 1% at every step (worst ${worst.toFixed(2)}%), but the bare router never filled a core here ` +
          `(at most ${((100 * busiest.cpuMicros) / 1e6 / busiest.seconds).toFixed(1)}% of one at N=${busiest.n}): the load where it would is not reached, the bots run out of CPU first`,
      );
    } else {
      console.log(`${verdict} mediasoup: loss < 1% up to the load where the bare router fills a core (worst ${worst.toFixed(2)}%; judged at N=${judged.map((s) => s.n).join(',') || 'none'})`);
    }
  }
  reportCapacity();
}

/**
 * Subscribers of a `VIDEO_KBPS` stream one core holds, per side. Each side's CPU rate is fitted
 * against its forwarding rate over the steps (least squares: a fixed part, then a cost per
 * packet), and a subscriber is charged the packet rate of such a stream at the run's median bytes
 * per packet, the same for every side (publishers do not hold the pinned rate exactly, and the
 * sides should differ by their cost per packet only). Beside it, the plain figure from the top
 * step's average cost per packet (fixed part included, so lower). Both extrapolate: on this
 * machine the bots run out of CPU long before a forwarder fills a core.
 */
function reportCapacity(): void {
  const bytesPerPacket = median(samples.filter((x) => x.received > 0).map((x) => x.receivedBytes / x.received));
  const pktPerSub = (VIDEO_KBPS * 1000) / 8 / bytesPerPacket;
  console.log(
    `\ncapacity: subscribers of a ${(VIDEO_KBPS / 1000).toFixed(1)} Mbit/s stream one core holds, extrapolated from the steps (fit: CPU = fixed + cost x packets; ` +
      `top: the top step's average cost per packet), at ${pktPerSub.toFixed(0)} pkt/s per subscriber (the run's median ${bytesPerPacket.toFixed(0)} bytes per packet)`,
  );
  const figures: string[] = [];
  for (const side of sides) {
    const list = samples.filter((x) => x.side === side.fwd.name);
    const top = list.at(-1);
    if (!top || top.forwarded === 0) continue;
    const fit = linearFit(list.map((x) => [x.forwarded / x.seconds, x.cpuMicros / x.seconds]));
    const perPacketTop = top.cpuMicros / top.forwarded;
    const byTop = 1e6 / (perPacketTop * pktPerSub);
    const byFit = fit && fit.slope > 0 && fit.intercept < 1e6 ? (1e6 - Math.max(0, fit.intercept)) / (fit.slope * pktPerSub) : undefined;
    console.log(
      `  ${side.fwd.name.padEnd(16)} ${byFit !== undefined ? `fit ${byFit.toFixed(0)} (fixed ${(Math.max(0, fit!.intercept) / 1e4).toFixed(1)}% of a core, ${fit!.slope.toFixed(1)} µs/pkt, r² ${fit!.r2.toFixed(2)})` : 'fit -'}; ` +
        `top ${byTop.toFixed(0)} (${perPacketTop.toFixed(1)} µs/pkt at N=${top.n}, ${((100 * top.cpuMicros) / 1e6 / top.seconds).toFixed(1)}% of a core)`,
    );
    figures.push(`${side.fwd.name} ${(byFit ?? byTop).toFixed(0)}`);
  }
  console.log(`most ${(VIDEO_KBPS / 1000).toFixed(1)} Mbit/s subscribers one core holds: ${figures.join(', ')}`);
}

/** Least-squares line through `points` ([x, y]), or undefined with fewer than two distinct x. */
function linearFit(points: [number, number][]): { slope: number; intercept: number; r2: number } | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  if (sxx === 0) return undefined;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const syy = points.reduce((s, [, y]) => s + (y - my) ** 2, 0);
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}

function sumOf(list: Sample[], key: 'forwarded' | 'received'): number {
  return list.reduce((s, x) => s + x[key], 0);
}
