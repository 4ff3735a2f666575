/**
 * mediasoup only: the engine's one worker process is SIGKILLed while a presenter is live from
 * the studio page and a stage member (moderator token) watches the stage view. The service
 * stays healthy (every /healthz probe answers 200), and the stage view decodes frames again
 * within about 10 s, on its own: neither page is reloaded (the server tells the publisher
 * `unpublished` engine_died and the subscribers that their leg closed; the clients reconnect).
 * Only observable behaviour is checked: decoded frames, the picture, /healthz.
 *
 * Run: npm run build:player && MEDIASOUP_WORKER_BIN=… node scripts/test.mjs test/e2e/mediasoup-worker-death.test.ts
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { it } from 'node:test';
import type { Page } from 'playwright-core';
import { describeEngines } from '../support/engines.ts';
import { clickGoLive, openPlayerPage, pollPage, usePlayerRoom, waitForStatus as waitForPageStatus } from '../support/pages.ts';
import { sleep, waitFor } from '../support/wait.ts';

/** From the kill until the stage view has decoded frames again. */
const RECOVERY_MS = 10_000;
/** Frames decoded within one window that count as "decoding again" (the fake camera sends 30 fps). */
const FRAMES_AGAIN = 20;
const WINDOW_MS = 2000;
/** How long a live stage view may take to decode FRAMES_AGAIN more frames before the kill. */
const KEEPS_DECODING_MS = 10_000;
/** Frames still in the receiver's jitter buffer at the kill may decode shortly after it; growth before this does not count. */
const AFTER_KILL_MS = 1000;

interface TileStats {
  participantId: string;
  framesDecoded: number;
}
type WatchWindow = { __watch: { tiles(): Promise<TileStats[]> } };
type MarkedWindow = { __notReloaded?: true };

/**
 * Pids of the processes under `root` (children, grandchildren…) running mediasoup's worker:
 * named mediasoup-worker, or the MEDIASOUP_WORKER_BIN this run was given.
 */
async function mediasoupWorkers(root: number): Promise<number[]> {
  const parentOf = new Map<number, number>();
  const argv0Of = new Map<number, string>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid …"; comm may hold spaces and parentheses.
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      // The executable path, not comm: comm is cut to 15 characters ("mediasoup-worke").
      argv0Of.set(Number(entry), (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0')[0] ?? '');
    } catch {
      // Exited while we looked.
    }
  }
  const isUnder = (pid: number): boolean => {
    for (let p = parentOf.get(pid); p !== undefined && p > 1; p = parentOf.get(p)) if (p === root) return true;
    return false;
  };
  const isWorker = (argv0: string) => basename(argv0) === 'mediasoup-worker' || (!!process.env.MEDIASOUP_WORKER_BIN && argv0 === process.env.MEDIASOUP_WORKER_BIN);
  return [...argv0Of].filter(([pid, argv0]) => isWorker(argv0) && isUnder(pid)).map(([pid]) => pid);
}

describeEngines(
  'mediasoup worker death',
  (engine) => {
    const ctx = usePlayerRoom({ engine, env: { MEDIASOUP_WORKERS: '1' } });
    let studio: Page;
    let watch: Page;

    const waitForStatus = (page: Page, expected: string, timeout?: number) => waitForPageStatus(page, expected, ctx.pageErrors, timeout);

    /** Frames decoded over every tile of the stage view; undefined while the view has no stats to give (a connection being replaced). */
    const framesDecoded = (page: Page) =>
      page
        .evaluate(async () => (await (window as unknown as WatchWindow).__watch.tiles()).reduce((sum, t) => sum + t.framesDecoded, 0))
        .catch(() => undefined);

    it('a presenter is live and a stage member decodes it', async () => {
      watch = await openPlayerPage(ctx, '/watch', 'watcher', 'moderator');
      await waitForStatus(watch, 'watching');
      studio = await openPlayerPage(ctx, '/studio', 'alice', 'presenter');
      await clickGoLive(studio);
      await waitForStatus(studio, 'live');
      const decoding = await pollPage(watch, async () => (await (window as unknown as WatchWindow).__watch.tiles()).some((t) => t.framesDecoded > 0), undefined, 15000);
      assert.ok(decoding, `the stage view decodes no frame within 15 s; page errors: ${ctx.pageErrors.join(' | ') || 'none'}`);
      // It keeps decoding. A fresh mediasoup consumer starts on a low temporal layer (fewer frames
      // per second) until its bandwidth estimate grows, so the growth gets a deadline, not a rate.
      const before = await framesDecoded(watch);
      const startedAt = Date.now();
      const later = await waitFor('the stage view to keep decoding', KEEPS_DECODING_MS, () => framesDecoded(watch), {
        until: (f) => before !== undefined && f !== undefined && f - before >= FRAMES_AGAIN,
        stepMs: 250,
        throwOnTimeout: false,
      });
      assert.ok(before !== undefined && later !== undefined && later - before >= FRAMES_AGAIN, `frames decoded grew from ${before} to ${later} in ${Date.now() - startedAt} ms`);
    });

    it('SIGKILL of the worker: /healthz stays 200, and the stage view decodes again within 10 s without a reload', async () => {
      const workers = await mediasoupWorkers(ctx.svc.child.pid!);
      assert.equal(workers.length, 1, `one mediasoup-worker under the service (MEDIASOUP_WORKERS=1), found ${JSON.stringify(workers)}`);
      const [worker] = workers as [number];
      // A reload would lose these.
      for (const page of [watch, studio]) await page.evaluate(() => ((window as unknown as MarkedWindow).__notReloaded = true));

      const health: { at: number; status: number | string }[] = [];
      let probing = true;
      const prober = (async () => {
        while (probing) {
          const status = await fetch(`${ctx.svc.url}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
            async (res) => {
              await res.body?.cancel();
              return res.status;
            },
            (err: Error) => err.message,
          );
          health.push({ at: Date.now(), status });
          await sleep(200);
        }
      })();

      const killedAt = Date.now();
      process.kill(worker, 'SIGKILL');
      try {
        // The kill took: the service has reaped its worker (a zombie has no cmdline, so it no longer matches).
        const deadline = killedAt + 5000;
        while ((await mediasoupWorkers(ctx.svc.child.pid!)).includes(worker)) {
          assert.ok(Date.now() < deadline, `mediasoup-worker ${worker} still there 5 s after SIGKILL`);
          await sleep(100);
        }

        // Decoding again: some sample taken at least AFTER_KILL_MS after the kill, and a later one
        // at most WINDOW_MS after it, FRAMES_AGAIN apart. Totals may drop to 0 as a connection is
        // replaced; only growth within the window counts.
        const samples: { at: number; frames: number }[] = [];
        let recoveredAt: number | undefined;
        while (recoveredAt === undefined && Date.now() - killedAt < RECOVERY_MS) {
          const frames = await framesDecoded(watch);
          const at = Date.now();
          if (frames !== undefined && at - killedAt >= AFTER_KILL_MS) {
            if (samples.some((s) => at - s.at <= WINDOW_MS && frames - s.frames >= FRAMES_AGAIN)) recoveredAt = at;
            samples.push({ at, frames });
          }
          await sleep(250);
        }
        assert.ok(
          recoveredAt !== undefined,
          `the stage view did not decode ${FRAMES_AGAIN} frames within ${WINDOW_MS} ms in the ${RECOVERY_MS} ms after the kill; ` +
            `frames seen: ${JSON.stringify(samples.map((s) => [s.at - killedAt, s.frames]))}; page errors: ${ctx.pageErrors.join(' | ') || 'none'}`,
        );
        console.log(`# stage view decoding again ${recoveredAt - killedAt} ms after the worker was killed`);
      } finally {
        probing = false;
        await prober;
      }

      const unhealthy = health.filter((h) => h.status !== 200);
      assert.deepEqual(unhealthy.map((h) => ({ ms: h.at - killedAt, status: h.status })), [], `every /healthz probe, from just before the kill until the view recovered, answered 200 (${health.length} probes)`);
      assert.ok(health.length >= 3, `/healthz was probed throughout (${health.length} probes)`);

      for (const [name, page] of [['watch', watch], ['studio', studio]] as const) {
        assert.equal(await page.evaluate(() => (window as unknown as MarkedWindow).__notReloaded), true, `the ${name} page was not reloaded`);
      }
      const picture = await watch.$$eval('video[data-testid="tile"]', (videos) => videos.map((v) => [(v as HTMLVideoElement).videoWidth, (v as HTMLVideoElement).readyState]));
      assert.ok(picture.some(([width, ready]) => width! > 0 && ready! >= 2), `a tile shows a picture again: ${JSON.stringify(picture)}`);
      assert.deepEqual(ctx.pageErrors, [], 'no uncaught page errors');
    });
  },
  { engines: ['mediasoup'] },
);
