/**
 * Role-switch bench: how long the watch page takes to switch a viewer onto the stage and back,
 * and what the viewer sees meanwhile.
 *
 *   npm run build:player && node bench/role-switch.ts      (BENCH_CYCLES=5 by default)
 *   BENCH_ENGINES=embedded,mediasoup runs the cycles on each engine in turn, in the same run, and
 *   compares them (default: the engine the service picks).
 *
 * Re-executes itself inside `unshare -n` with only loopback up (bench/lib/harness.ts). The real
 * service (startService()) runs a room whose presenter publishes the latency pattern
 * (test/support/latency-pattern.ts, painted at 30 fps with a 440 Hz tone) over WHIP from a bench
 * page (bench/lib/stage-latency.page.ts): every frame differs from the last, so a sample equal to
 * the previous one is a real freeze. The viewer is the real /watch page (player/dist: build it
 * first) with a viewer token, watching the LL-HLS broadcast. Its consent prompt is accepted by an
 * instant user (a 10 ms poll injected into the page), so the figures are the system's, not a
 * person's reaction time; the prompt's time is printed apart anyway.
 *
 * Each cycle:
 *   promote (HTTP API) → the page captures its fake camera, publishes, subscribes, and shows the
 *     stage once it has decoded frames: measured from the API call to `shownAt` (the stage put
 *     on top, with a decoded frame in every tile);
 *   BENCH_STAGE_MS on stage (default 8000, the program restarts with the guest in it);
 *   demote (HTTP API) → HLS restarts at the live edge behind the stage and is shown once its
 *     playhead advances over media of the re-encoded program: from the API call to `shownAt`;
 *   BENCH_AUDIENCE_MS in the audience (default 8000).
 * The page's frame sampler (player/src/switching/frame-sampler.ts) samples the visible element
 * every 100 ms during each switch and 1 s past it: black (mean luma < 16), frozen (same picture
 * as 100 ms earlier), stalled (no current frame; the element shows its last one), and audio
 * played twice (must be 0).
 *
 * Exits non-zero when a cycle does not complete; BENCH_STRICT=1 also fails on missed targets.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { launchChromium, type LaunchedChromium } from '../test/support/chromium.ts';
import { startService, type RunningService } from '../test/support/service.ts';
import { ensureLoopbackNamespace, finishBench, runBench, serveBenchPages } from './lib/harness.ts';
import { percentile } from '../test/support/latency-pattern.ts';
import type { LatencyBenchApi } from './lib/stage-latency.page.ts';
import type { FrameSample } from '../player/src/switching/frame-sampler.ts';
import type { SwitchRecord } from '../player/src/switching/role-switch-controller.ts';
import { sleep, waitFor } from '../test/support/wait.ts';

ensureLoopbackNamespace();

const CYCLES = Number(process.env.BENCH_CYCLES ?? process.env.N ?? 5);
const STAGE_MS = Number(process.env.BENCH_STAGE_MS ?? 8000);
const AUDIENCE_MS = Number(process.env.BENCH_AUDIENCE_MS ?? 8000);
const STRICT = process.env.BENCH_STRICT === '1';
const SAMPLE_TAIL_MS = 1200;
/** Engines to run, one after the other in this run (e.g. `embedded,mediasoup`); default: the service's own choice. */
const ENGINES = (process.env.BENCH_ENGINES ?? '').split(',').map((e) => e.trim()).filter(Boolean);

interface SwitchResult {
  /** API call → the new view shown, ms. */
  apiToShownMs: number;
  /** API call → the page got roleChanged, ms. */
  apiToEventMs: number;
  consentMs?: number;
  samples: number;
  black: number;
  frozen: number;
  /** Frozen samples while the old view was still shown (before `shownAt`). */
  frozenBefore: number;
  stalled: number;
  twice: number;
  minLuma: number;
}

function callSender<K extends keyof LatencyBenchApi>(page: Page, fn: K, ...args: Parameters<LatencyBenchApi[K]>): Promise<Awaited<ReturnType<LatencyBenchApi[K]>>> {
  return page.evaluate(
    ([name, a]) => ((window as unknown as { latencyBench: Record<string, (...x: unknown[]) => unknown> }).latencyBench[name]!)(...(a as unknown[])),
    [fn, args] as const,
  ) as Promise<Awaited<ReturnType<LatencyBenchApi[K]>>>;
}

const watchState = (page: Page) =>
  page.evaluate(() => {
    const w = (window as unknown as { __watch: { mode: string; switches: SwitchRecord[]; hls: { state: string; currentTime: number } | null; publishing?: string } }).__watch;
    return { mode: w.mode, switches: w.switches, hls: w.hls ? { state: w.hls.state, currentTime: w.hls.currentTime } : null, publishing: w.publishing };
  });
const samplesOf = (page: Page, index: number) =>
  page.evaluate((i) => (window as unknown as { __watch: { samples: FrameSample[] } }).__watch.samples.filter((s) => s.switchIndex === i), index);

async function broadcastTracks(service: RunningService, room: string): Promise<number> {
  const res = await service.api(`/api/rooms/${encodeURIComponent(room)}/broadcast`);
  return res.status === 200 ? ((await res.json()) as { tracks: number }).tracks : -1;
}

/** Runs one switch through the API; resolves once it is done on the page and sampled. */
async function runSwitch(service: RunningService, room: string, viewer: Page, pid: string, action: 'promote' | 'demote', index: number): Promise<SwitchResult> {
  const calledAt = Date.now();
  const res = await service.api(`/api/rooms/${encodeURIComponent(room)}/participants/${encodeURIComponent(pid)}/${action}`, { method: 'POST' });
  if (res.status !== 200) throw new Error(`${action} → ${res.status} ${await res.text()}`);
  let record: SwitchRecord | undefined;
  await waitFor(`${action} #${index} done on the page`, 45000, async () => {
    record = (await watchState(viewer)).switches[index];
    if (record?.abandoned) throw new Error(`${action} #${index} abandoned: ${record.abandoned}`);
    return record?.doneAt !== undefined;
  }, { stepMs: 50 });
  await sleep(SAMPLE_TAIL_MS);
  const samples = await samplesOf(viewer, index);
  const r = record!;
  return {
    apiToShownMs: r.shownAt! - calledAt,
    apiToEventMs: r.startedAt - calledAt,
    ...(r.consentAt !== undefined ? { consentMs: r.consentAt - r.startedAt } : {}),
    samples: samples.length,
    black: samples.filter((s) => s.black).length,
    frozen: samples.filter((s) => !s.changed).length,
    frozenBefore: samples.filter((s) => !s.changed && s.at < r.shownAt!).length,
    stalled: samples.filter((s) => s.stalled).length,
    twice: samples.filter((s) => s.audible === 'both').length,
    minLuma: Math.min(...samples.map((s) => s.luma)),
  };
}

/** One engine's session: a service, a presenter, a viewer, CYCLES promote/demote cycles. */
async function runEngine(chromium: LaunchedChromium, pageUrl: string, engine: string | undefined, problems: string[]): Promise<{ kind: string; promotes: SwitchResult[]; demotes: SwitchResult[] }> {
  let service: RunningService | undefined;
  const promotes: SwitchResult[] = [];
  const demotes: SwitchResult[] = [];
  let kind = engine ?? 'default';
  const pagesOpen: Page[] = [];
  try {
    service = await startService({ LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...(engine ? { ENGINE: engine } : {}) });
    kind = ((await (await service.api('/api/stats')).json()) as { kind?: string }).kind ?? kind;
    const room = await service.createRoom();
    console.log(`[${kind}] service: ${service.url}, room ${room}; ${CYCLES} cycles, ${STAGE_MS} ms on stage, ${AUDIENCE_MS} ms in the audience`);

    const sender = await chromium.context.newPage();
    pagesOpen.push(sender);
    sender.on('pageerror', (err) => console.error(`[sender page error] ${err.message}`));
    await sender.goto(pageUrl);
    await sender.waitForFunction(() => typeof (window as unknown as { latencyBench?: unknown }).latencyBench === 'object');
    await callSender(sender, 'startSender', true);
    const offer = await callSender(sender, 'createSendOffer', 'pub');
    const whip = await callSender(sender, 'postSdp', `${service.url}/whip/${encodeURIComponent(room)}`, await service.token(room, 'bench-pub', 'presenter'), offer);
    if (whip.status !== 201) throw new Error(`WHIP POST → ${whip.status} ${whip.body.slice(0, 300)}`);
    await callSender(sender, 'applyAnswer', 'pub', whip.body);
    await waitFor('publisher connected', 15000, async () => (await callSender(sender, 'connectionState', 'pub')) === 'connected', { stepMs: 50 });

    const viewer = await chromium.context.newPage();
    pagesOpen.push(viewer);
    viewer.on('pageerror', (err) => console.error(`[viewer page error] ${err.message}`));
    // An instant user: accepts the consent prompt as soon as it shows.
    await viewer.addInitScript(() => {
      setInterval(() => {
        const prompt = document.querySelector<HTMLElement>('[data-testid="consent"]');
        if (prompt && !prompt.hidden) document.querySelector<HTMLButtonElement>('[data-testid="consent-accept"]')?.click();
      }, 10);
    });
    const token = await service.token(room, 'bench-viewer', 'viewer');
    await viewer.goto(`${service.url}/watch?room=${encodeURIComponent(room)}&token=${encodeURIComponent(token)}`);
    await waitFor('the viewer playing HLS', 45000, async () => {
      const st = await watchState(viewer);
      return st.mode === 'hls' && st.hls?.state === 'playing';
    }, { stepMs: 50 });
    const pid = await viewer.evaluate(() => (window as unknown as { __watch: { participantId: string } }).__watch.participantId);
    await sleep(3000);

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const p = await runSwitch(service, room, viewer, pid, 'promote', cycle * 2);
      promotes.push(p);
      await waitFor('publishing live', 15000, async () => (await watchState(viewer)).publishing === 'live', { stepMs: 50 });
      await sleep(Math.max(0, STAGE_MS - SAMPLE_TAIL_MS));
      const onStageTracks = await broadcastTracks(service, room);
      if (onStageTracks !== 4) problems.push(`[${kind}] cycle ${cycle + 1}: the program has ${onStageTracks} tracks with the guest on stage (expected 4)`);
      const d = await runSwitch(service, room, viewer, pid, 'demote', cycle * 2 + 1);
      demotes.push(d);
      await sleep(Math.max(0, AUDIENCE_MS - SAMPLE_TAIL_MS));
      const a = await watchState(viewer);
      await sleep(1000);
      const b = await watchState(viewer);
      if (!(a.hls && b.hls && b.hls.currentTime > a.hls.currentTime + 0.5)) problems.push(`[${kind}] cycle ${cycle + 1}: HLS not advancing in the audience (${a.hls?.currentTime} → ${b.hls?.currentTime})`);
      console.log(
        `[${kind}] cycle ${cycle + 1}: promote → WebRTC shown ${ms(p.apiToShownMs)} (consent ${ms(p.consentMs ?? NaN)}), black ${p.black}, frozen ${p.frozen}/${p.samples}; ` +
          `demote → HLS shown ${ms(d.apiToShownMs)}, black ${d.black}, frozen ${d.frozen}/${d.samples} (stalled ${d.stalled})`,
      );
    }
  } catch (err) {
    problems.push(`[${kind}] ${String(err)}`);
  } finally {
    for (const page of pagesOpen) await page.close().catch(() => {});
    await service?.stop();
  }
  if (promotes.length < CYCLES || demotes.length < CYCLES) problems.push(`[${kind}] only ${promotes.length}/${demotes.length} of ${CYCLES} cycles completed`);
  return { kind, promotes, demotes };
}

async function main(): Promise<number> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const built = spawnSync(process.execPath, [`${root}scripts/build-player.mjs`], { stdio: 'inherit' });
  if (built.status !== 0) throw new Error('player build failed');
  const pages = await serveBenchPages(['stage-latency']);
  const chromium: LaunchedChromium = await launchChromium();
  const problems: string[] = [];
  const runs: Awaited<ReturnType<typeof runEngine>>[] = [];
  try {
    // One engine after the other in the same run and Chromium (two broadcasts at once would measure CPU starvation).
    for (const engine of ENGINES.length ? ENGINES : [undefined]) runs.push(await runEngine(chromium, pages.pageUrl('stage-latency'), engine, problems));
  } finally {
    await chromium.close();
    await pages.close();
  }

  const sec = (v: number) => (Number.isFinite(v) ? `${(v / 1000).toFixed(2)} s` : 'n/a');
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const stat = (rs: SwitchResult[], f: (r: SwitchResult) => number) => ({ p50: percentile(rs.map(f), 50), max: percentile(rs.map(f), 100) });
  const sum = (rs: SwitchResult[], f: (r: SwitchResult) => number) => rs.reduce((n, r) => n + f(r), 0);
  const results: Record<string, unknown> = {};
  for (const { kind, promotes, demotes } of runs) {
    const up = stat(promotes, (r) => r.apiToShownMs);
    const down = stat(demotes, (r) => r.apiToShownMs);
    const consent = stat(promotes, (r) => r.consentMs ?? NaN);
    const black = sum(promotes, (r) => r.black) + sum(demotes, (r) => r.black);
    const twice = sum(promotes, (r) => r.twice) + sum(demotes, (r) => r.twice);
    console.log(`\n=== role switch, ${kind} engine: ${promotes.length} promote / ${demotes.length} demote (same machine) ===`);
    console.log(`promote → first WebRTC frame shown   p50 ${sec(up.p50)}  max ${sec(up.max)}   target p50 ≤ 1.00 s   ${verdict(up.p50 <= 1000)}`);
    console.log(`   of which: API → roleChanged on the page p50 ${sec(stat(promotes, (r) => r.apiToEventMs).p50)}; consent prompt (instant user) p50 ${sec(consent.p50)}`);
    console.log(`demote → HLS playing on screen       p50 ${sec(down.p50)}  max ${sec(down.max)}   target p50 ≤ 2.00 s   ${verdict(down.p50 <= 2000)}`);
    console.log(`black samples (luma < 16)            promote ${sum(promotes, (r) => r.black)}, demote ${sum(demotes, (r) => r.black)}   target 0   ${verdict(black === 0)}`);
    console.log(
      `frozen samples (same as 100 ms before) promote ${sum(promotes, (r) => r.frozen)}/${sum(promotes, (r) => r.samples)}, ` +
        `demote ${sum(demotes, (r) => r.frozen)}/${sum(demotes, (r) => r.samples)}; before the swap (old view) promote ${sum(promotes, (r) => r.frozenBefore)}, ` +
        `demote ${sum(demotes, (r) => r.frozenBefore)}; stalled (no current frame) ${sum(promotes, (r) => r.stalled) + sum(demotes, (r) => r.stalled)}`,
    );
    console.log(`audio from both views at once       ${twice} samples   target 0   ${verdict(twice === 0)}`);
    results[kind] = { promote: up, demote: down, consent, black, twice, promotes, demotes };
    if (twice > 0) problems.push(`[${kind}] audio played from both views at once`);
    if (STRICT) {
      if (!(up.p50 <= 1000)) problems.push(`[${kind}] target missed: promote p50`);
      if (!(down.p50 <= 2000)) problems.push(`[${kind}] target missed: demote p50`);
      if (black > 0) problems.push(`[${kind}] target missed: black frames`);
    }
  }
  const [first, second] = runs;
  if (first && second && first.promotes.length && second.promotes.length) {
    const ratio = (f: (r: SwitchResult) => number, rs: 'promotes' | 'demotes') => stat(second[rs], f).p50 / stat(first[rs], f).p50;
    console.log(
      `\n${second.kind} / ${first.kind} (p50, same run): promote ${ratio((r) => r.apiToShownMs, 'promotes').toFixed(2)}, demote ${ratio((r) => r.apiToShownMs, 'demotes').toFixed(2)}; ` +
        `black samples ${sum(second.promotes, (r) => r.black) + sum(second.demotes, (r) => r.black)} vs ${sum(first.promotes, (r) => r.black) + sum(first.demotes, (r) => r.black)}`,
    );
  }
  console.log(`RESULT ${JSON.stringify(results)}`);
  return finishBench(problems);
}

const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)} ms` : 'n/a');

runBench(main);
