/**
 * Timed-metadata sync: how far from the frame it was attached to does a viewer's hls.js page
 * fire a timed-metadata item?
 *
 * A sender page paints its clock into every frame (the latency pattern,
 * test/support/latency-pattern.ts) and publishes it over WHIP to a real service, which
 * broadcasts it as LL-HLS. A player page runs the watch page's HlsView and MetadataCueController
 * and reads the pattern of every presented frame. The bench POSTs `BENCH_ITEMS` (default 10)
 * metadata items, one every `BENCH_GAP_MS` (default 2500), and for each one:
 *   - the attached frame: from the rendition the player was playing, the segment holding the
 *     item's START-DATE is fetched from the origin and decoded with ffmpeg; the frame at
 *     (START-DATE − segment PROGRAM-DATE-TIME) gives the sender clock painted into it;
 *   - the fired frame: the pattern of the frame the player presented when it fired the item.
 * offset = fired frame's clock − attached frame's clock (ms; frames are 33 ms apart). It prints
 * each item, the median and the largest |offset|, and PASS/FAIL against ±1 part (200 ms).
 *
 *   npm run bench:metadata-sync     (BENCH_ENGINE=mediasoup|embedded to choose the engine)
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { launchChromium, type LaunchedChromium } from '../test/support/chromium.ts';
import { FFMPEG } from '../test/support/ffmpegSource.ts';
import { decodePattern, percentile, restoreTimestamp } from '../test/support/latency-pattern.ts';
import { startService } from '../test/support/service.ts';
import { sleep, waitFor } from '../test/support/wait.ts';
import { ensureLoopbackNamespace, finishBench, runBench, serveBenchPages } from './lib/harness.ts';
import type { MetadataBenchApi } from './lib/metadata-sync.page.ts';
import type { LatencyBenchApi } from './lib/stage-latency.page.ts';

ensureLoopbackNamespace();

const run = promisify(execFile);
const ITEMS = Number(process.env.BENCH_ITEMS ?? 10);
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 2500);
const TARGET_MS = 200;
const W = 128;
const H = 96;

type Apis = { latencyBench: LatencyBenchApi; metadataBench: MetadataBenchApi };

function call<G extends keyof Apis, K extends keyof Apis[G]>(
  page: Page,
  global: G,
  fn: K,
  ...args: Apis[G][K] extends (...a: infer P) => unknown ? P : never
): Promise<Awaited<Apis[G][K] extends (...a: never[]) => infer R ? R : never>> {
  return page.evaluate(([g, f, a]) => {
    const target = (window as unknown as Record<string, Record<string, (...x: unknown[]) => unknown>>)[g]!;
    return target[f]!(...a);
  }, [global, fn as string, args] as const) as never;
}

async function openPage(chromium: LaunchedChromium, url: string, global: keyof Apis): Promise<Page> {
  const page = await chromium.context.newPage();
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  await page.goto(url);
  await page.waitForFunction((g) => typeof (window as unknown as Record<string, unknown>)[g] === 'object', global);
  return page;
}

interface StoredSegment {
  pdtMs: number;
  durationSec: number;
  uri: string;
  initUri: string;
}

/** Complete segments of a media playlist, and the START-DATE of each DATERANGE by id. */
function parsePlaylist(text: string): { segments: StoredSegment[]; starts: Map<string, number> } {
  const segments: StoredSegment[] = [];
  const starts = new Map<string, number>();
  let pdt = NaN;
  let init = '';
  let duration = NaN;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-MAP:')) init = /URI="([^"]+)"/.exec(line)![1]!;
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice('#EXT-X-PROGRAM-DATE-TIME:'.length));
    else if (line.startsWith('#EXT-X-DATERANGE:')) starts.set(/ID="([^"]+)"/.exec(line)![1]!, Date.parse(/START-DATE="([^"]+)"/.exec(line)![1]!));
    else if (line.startsWith('#EXTINF:')) duration = Number(line.slice('#EXTINF:'.length).replace(',', ''));
    else if (line && !line.startsWith('#')) segments.push({ pdtMs: pdt, durationSec: duration, uri: line, initUri: init });
  }
  return { segments, starts };
}

/** The sender clock painted into the frame at `startMs` of the rendition at `levelUrl`, decoded by ffmpeg from the origin's segment. */
async function attachedFrameClock(levelUrl: string, id: string, dir: string): Promise<{ sentAt: number; frameIndex: number; frames: number } | string> {
  let found: { segment: StoredSegment; startMs: number } | undefined;
  await waitFor(`the segment holding ${id}`, 15000, async () => {
    const { segments, starts } = parsePlaylist(await (await fetch(levelUrl)).text());
    const startMs = starts.get(id);
    if (startMs === undefined) return false;
    const segment = segments.find((s) => s.pdtMs - 0.5 <= startMs && startMs < s.pdtMs + s.durationSec * 1000 - 0.5);
    found = segment ? { segment, startMs } : undefined;
    return found !== undefined;
  }, { throwOnTimeout: false, stepMs: 300 });
  if (!found) return 'its segment never appeared complete in the playlist';
  const { segment, startMs } = found;
  const [init, media] = await Promise.all(
    [segment.initUri, segment.uri].map(async (u) => Buffer.from(await (await fetch(new URL(u, levelUrl))).arrayBuffer())),
  );
  const file = join(dir, `${id}.mp4`);
  await writeFile(file, Buffer.concat([init!, media!]));
  const { stdout } = await run(
    FFMPEG,
    ['-hide_banner', '-loglevel', 'error', '-i', file, '-an', '-vf', `crop=ih*4/3:ih,scale=${W}:${H}`, '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgba', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  );
  const frameBytes = W * H * 4;
  const frames = Math.floor(stdout.length / frameBytes);
  if (frames === 0) return 'ffmpeg decoded no frame';
  const frameIndex = Math.min(frames - 1, Math.round((startMs - segment.pdtMs) / ((segment.durationSec * 1000) / frames)));
  const decoded = decodePattern(stdout.subarray(frameIndex * frameBytes, (frameIndex + 1) * frameBytes), W, H);
  if (!decoded) return `frame ${frameIndex} of ${frames} did not decode`;
  return { sentAt: restoreTimestamp(decoded.timestampLow32, Date.now()), frameIndex, frames };
}

async function main(): Promise<number> {
  const problems: string[] = [];
  const pages = await serveBenchPages(['stage-latency', 'metadata-sync']);
  const chromium = await launchChromium();
  const service = await startService({ LOG_LEVEL: 'warn', ...(process.env.BENCH_ENGINE ? { ENGINE: process.env.BENCH_ENGINE } : {}) });
  const dir = await mkdtemp(join(tmpdir(), 'stagecast-mdsync-'));
  const offsets: number[] = [];
  const playerOffsets: number[] = [];
  try {
    const room = await service.createRoom();
    const token = await service.token(room, 'bench-pub', 'presenter');
    const sender = await openPage(chromium, pages.pageUrl('stage-latency'), 'latencyBench');
    await call(sender, 'latencyBench', 'startSender', true);
    const offer = await call(sender, 'latencyBench', 'createSendOffer', 'pub');
    const whip = await call(sender, 'latencyBench', 'postSdp', `${service.url}/whip/${encodeURIComponent(room)}`, token, offer);
    if (whip.status !== 201) throw new Error(`WHIP POST → ${whip.status} ${whip.body.slice(0, 200)}`);
    await call(sender, 'latencyBench', 'applyAnswer', 'pub', whip.body);
    await waitFor('publisher connected', 15000, async () => (await call(sender, 'latencyBench', 'connectionState', 'pub')) === 'connected');

    const player = await openPage(chromium, pages.pageUrl('metadata-sync'), 'metadataBench');
    await player.bringToFront();
    const src = `${service.url}/hls/${encodeURIComponent(room)}/index.m3u8`;
    await waitFor('the broadcast playlist', 30000, async () => (await fetch(src)).status === 200);
    await call(player, 'metadataBench', 'play', src);
    await waitFor('decoded frames on the player', 40000, async () => (await call(player, 'metadataBench', 'state')).decoded >= 90);
    await sleep(3000);
    console.log(`service ${service.url}, room ${room}; ${ITEMS} items, one every ${GAP_MS} ms`);

    for (let i = 0; i < ITEMS; i++) {
      const res = await service.api(`/api/rooms/${encodeURIComponent(room)}/metadata`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ payload: { n: i } }),
      });
      if (res.status !== 201) {
        problems.push(`item ${i}: POST → ${res.status} ${await res.text()}`);
        continue;
      }
      const postedAt = Date.now();
      const { id } = (await res.json()) as { id: string };
      if (process.env.BENCH_DEBUG) {
        for (const r of ['720p', '360p']) {
          const text = await (await fetch(`${service.url}/hls/${encodeURIComponent(room)}/${r}/index.m3u8`)).text();
          console.log(`  [debug] ${r}: ${text.split('\n').filter((l) => l.includes(id)).length} DATERANGE lines for ${id}; ${text.split('\n').filter((l) => l.startsWith('#EXT-X-DATERANGE')).length} in all`);
        }
      }
      // Decode the attached frame now: a player far behind the live edge fires after its segment left the live window.
      const levelUrl = await call(player, 'metadataBench', 'levelUrl');
      const attachedPromise = attachedFrameClock(levelUrl, id, dir);
      const cue = await waitFor(`the cue of ${id}`, 15000, async () => (await call(player, 'metadataBench', 'cues')).find((c) => c.id === id), {
        throwOnTimeout: false,
      });
      if (!cue) {
        problems.push(`item ${i} (${id}) never fired on the player: ${JSON.stringify(await call(player, 'metadataBench', 'debug'))}`);
        await attachedPromise;
        continue;
      }
      const fired = await call(player, 'metadataBench', 'frameAt', cue.mediaTime);
      const attached = await attachedPromise;
      if (cue.levelUrl !== levelUrl) problems.push(`item ${i}: the player switched level between the POST and the cue; compared against ${levelUrl}`);
      const hlsMs = (cue.mediaTime - cue.startTime) * 1000;
      const seen = await call(player, 'metadataBench', 'seen', id);
      const seenText = seen
        ? `; in a playlist ${(seen.at - postedAt).toFixed(0)} ms after the POST, playhead ${((seen.startTime - seen.currentTime) * 1000).toFixed(0)} ms before its start`
        : '';
      playerOffsets.push(hlsMs);
      if (typeof attached === 'string' || !fired?.sentAt) {
        problems.push(`item ${i} (${id}): ${typeof attached === 'string' ? attached : 'the fired frame did not decode'}`);
      } else {
        const offset = fired.sentAt - attached.sentAt;
        offsets.push(offset);
        console.log(
          `  ${id}: fired frame − attached frame ${offset.toFixed(0)} ms (attached: frame ${attached.frameIndex}/${attached.frames} of its segment); ` +
            `hls.js start ${cue.startTime.toFixed(3)} s, fired at ${cue.mediaTime.toFixed(3)} s (${hlsMs.toFixed(0)} ms)${seenText}`,
        );
      }
      await sleep(GAP_MS);
    }
  } finally {
    await chromium.close();
    await service.stop();
    await pages.close();
    await rm(dir, { recursive: true, force: true });
  }
  if (offsets.length > 0) {
    const abs = offsets.map(Math.abs);
    const median = percentile(offsets, 50);
    const maxAbs = Math.max(...abs);
    console.log(`\nfired frame − attached frame, decoded from the pattern: median ${median.toFixed(0)} ms, max |offset| ${maxAbs.toFixed(0)} ms over ${offsets.length} items`);
    console.log(`player: fired media time − hls.js DATERANGE start: median ${percentile(playerOffsets, 50).toFixed(0)} ms, max ${Math.max(...playerOffsets.map(Math.abs)).toFixed(0)} ms`);
    console.log(`${Math.abs(median) <= TARGET_MS ? 'PASS' : 'FAIL'}: median within ±${TARGET_MS} ms (one part)`);
    console.log(`${maxAbs <= TARGET_MS ? 'PASS' : 'FAIL'}: every item within ±${TARGET_MS} ms`);
  } else problems.push('no item was measured');
  return finishBench(problems);
}

runBench(main);
