// Measures whether the media engine's CPU work makes the HTTP/WebSocket edge unresponsive.
//
// For each engine placement (worker thread, then the main thread), in one run:
//   1 WHIP publisher (fake camera + mic in Chromium) and VIEWERS WHEP viewers on the stage,
//   then for SECONDS a probe sends sequential GET /healthz requests and WebSocket ping/pong
//   round trips, and records their latency. Also probes with no media as the floor.
// Prints p50/p99/max per placement and the ratio of loaded to idle p99.
//
// Run: npm run bench:edge   (wraps itself in a network namespace with only loopback up)
import { spawnSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import type { Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { serveBlankPage } from '../test/support/blankPage.ts';
import { launchChromium } from '../test/support/chromium.ts';
import { applyAnswer, inbound, installRtcHelpers, publisherOffer, viewerOffer } from '../test/support/rtcPage.ts';
import { startService, type RunningService } from '../test/support/service.ts';
import { sleep, waitFor } from '../test/support/wait.ts';

const VIEWERS = Number(process.env.VIEWERS ?? 6);
const SECONDS = Number(process.env.SECONDS ?? 10);

if (Object.keys(networkInterfaces()).some((name) => name !== 'lo') && !process.env.BENCH_NO_NETNS) {
  const r = spawnSync('unshare', ['-n', 'sh', '-c', `ip link set lo up && exec '${process.execPath}' ${process.argv.slice(1).map((a) => `'${a}'`).join(' ')}`], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function probe(service: RunningService, token: string, seconds: number) {
  const http: number[] = [];
  const ws: number[] = [];
  const socket = new WebSocket(`${service.url.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const pending = new Map<string, (v: void) => void>();
  socket.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { type: string; re?: string };
    if (msg.re && pending.has(msg.re)) pending.get(msg.re)!();
  });
  const request = (body: { id: string; [k: string]: unknown }) =>
    new Promise<void>((resolve) => {
      pending.set(body.id, resolve);
      socket.send(JSON.stringify(body));
    });
  await request({ v: 1, type: 'join', id: 'j' });
  const end = Date.now() + seconds * 1000;
  let n = 0;
  while (Date.now() < end) {
    let t = performance.now();
    const res = await fetch(`${service.url}/healthz`);
    await res.arrayBuffer();
    http.push(performance.now() - t);
    t = performance.now();
    await request({ v: 1, type: 'ping', id: `p${n++}` });
    ws.push(performance.now() - t);
    await sleep(20);
  }
  socket.close();
  return { http, ws };
}

const fmt = (v: number[]) => `p50 ${percentile(v, 50).toFixed(2)} ms  p99 ${percentile(v, 99).toFixed(2)} ms  max ${Math.max(...v).toFixed(2)} ms  (n=${v.length})`;

const blank = await serveBlankPage();
const chromium = await launchChromium();
const results: Record<string, { http: number[]; ws: number[]; packets: number; cpuMicros: number }> = {};
try {
  for (const [label, thread] of [['engine on worker thread', 'true'], ['engine on main thread', 'false']] as const) {
    const service = await startService({ ENGINE_WORKER_THREAD: thread, LOG_LEVEL: 'warn' });
    try {
      const room = await service.createRoom();
      const presenter = await service.token(room, 'pub', 'presenter');
      const idle = await probe(service, await service.token(room, 'probe-idle', 'viewer'), 3);
      results[`${label}, idle`] = { ...idle, packets: 0, cpuMicros: 0 };

      const pubPage = await chromium.context.newPage();
      await pubPage.goto(blank.url);
      await installRtcHelpers(pubPage);
      const whip = await fetch(`${service.url}/whip/${room}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${presenter}`, 'content-type': 'application/sdp' },
        body: await publisherOffer(pubPage),
      });
      if (whip.status !== 201) throw new Error(`WHIP ${whip.status}: ${await whip.text()}`);
      await applyAnswer(pubPage, '__pub', await whip.text());
      await sleep(1500);
      const viewers: Page[] = [];
      for (let i = 0; i < VIEWERS; i++) {
        const page = await chromium.context.newPage();
        await page.goto(blank.url);
        await installRtcHelpers(page);
        const token = await service.token(room, `viewer${i}`, 'presenter');
        const whep = await fetch(`${service.url}/whep/${room}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/sdp' },
          body: await viewerOffer(page),
        });
        if (whep.status !== 201) throw new Error(`WHEP ${whep.status}: ${await whep.text()}`);
        await applyAnswer(page, '__sub', await whep.text());
        viewers.push(page);
      }
      await waitFor('media flowing to the last viewer', 20000, async () => (await inbound(viewers.at(-1)!)).framesDecoded > 30);
      const statsBefore = (await (await service.api('/api/stats')).json()) as { packetsForwarded: number; cpuMicros: number };
      const loaded = await probe(service, await service.token(room, 'probe', 'viewer'), SECONDS);
      const statsAfter = (await (await service.api('/api/stats')).json()) as { packetsForwarded: number; cpuMicros: number };
      results[`${label}, ${VIEWERS} viewers`] = {
        ...loaded,
        packets: statsAfter.packetsForwarded - statsBefore.packetsForwarded,
        // On the main thread the engine's CPU cannot be told apart from the edge's: only the worker figure is the engine's own.
        cpuMicros: statsAfter.cpuMicros - statsBefore.cpuMicros,
      };
      await Promise.all([pubPage.close(), ...viewers.map((p) => p.close())]);
    } finally {
      await service.stop();
    }
  }
} finally {
  await chromium.close();
  await blank.close();
}

console.log(`\nedge responsiveness (1 publisher, ${VIEWERS} WHEP viewers, ${SECONDS} s probe)`);
for (const [label, r] of Object.entries(results)) {
  console.log(`${label.padEnd(40)} HTTP ${fmt(r.http)}`);
  console.log(`${''.padEnd(40)} WS   ${fmt(r.ws)}`);
  if (r.packets) {
    console.log(`${''.padEnd(40)} packets forwarded during probe: ${r.packets} (${(r.packets / SECONDS).toFixed(0)}/s), engine-thread CPU ${(r.cpuMicros / 1000).toFixed(0)} ms = ${(r.cpuMicros / r.packets / 1000).toFixed(3)} ms per forwarded packet`);
  }
}
const ratio = (a: string, b: string) => (percentile(results[a]!.http, 99) / percentile(results[b]!.http, 99)).toFixed(2);
console.log(`HTTP p99 loaded/idle: worker thread ${ratio(`engine on worker thread, ${VIEWERS} viewers`, 'engine on worker thread, idle')}x, main thread ${ratio(`engine on main thread, ${VIEWERS} viewers`, 'engine on main thread, idle')}x`);
