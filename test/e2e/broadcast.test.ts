import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { it } from 'node:test';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { describeEngines } from '../support/engines.ts';
import { clickGoLive, openPlayerPage, usePlayerRoom, waitForStatus as waitForPageStatus } from '../support/pages.ts';
import type { HlsViewSnapshot } from '../../player/src/hls/hls-view-types.ts';
import { sleep, waitFor } from '../support/wait.ts';

const run = promisify(execFile);

/**
 * The broadcast path end to end: a presenter's studio page goes live, the service composes the
 * stage into the 720p/360p LL-HLS ladder, and a viewer-token watch page plays it with hls.js in
 * low-latency mode. Then the transcoder's ffmpeg is killed mid-broadcast: the service restarts
 * it (a discontinuity) and the player must carry on without a fatal error.
 */

/** Longest the playhead may stand still across an ffmpeg kill and restart, on a loaded machine. */
const STILL_LIMIT_MS = 5000;

type WatchWindow = { __watch: { hls: HlsViewSnapshot | null; role?: string } };

describeEngines('broadcast: studio → LL-HLS → watch (viewer)', (engine) => {
  const ctx = usePlayerRoom({ engine });
  let viewer: Page;

  const open = (path: string, identity: string, role: 'presenter' | 'viewer') => openPlayerPage(ctx, path, identity, role);

  const snapshot = async (page: Page): Promise<HlsViewSnapshot> => {
    const s = await page.evaluate(() => (window as unknown as WatchWindow).__watch.hls);
    assert.ok(s, 'window.__watch.hls exists on a viewer page');
    return s;
  };

  const waitForStatus = (page: Page, expected: string, timeout?: number) => waitForPageStatus(page, expected, ctx.pageErrors, timeout);

  async function broadcastStatus(): Promise<{ state: string; ffmpegRestarts: number }> {
    const res = await ctx.svc.api(`/api/rooms/${encodeURIComponent(ctx.room)}/broadcast`);
    assert.equal(res.status, 200, 'GET broadcast status');
    return (await res.json()) as { state: string; ffmpegRestarts: number };
  }

  it('a viewer waits for the broadcast while nobody is live', async () => {
    viewer = await open('/watch', 'vic', 'viewer');
    await waitForStatus(viewer, 'waiting for broadcast', 15000);
    assert.equal(await viewer.evaluate(() => (window as unknown as WatchWindow).__watch.role), 'viewer');
    const res = await fetch(`${ctx.svc.url}/hls/${encodeURIComponent(ctx.room)}/index.m3u8`);
    assert.equal(res.status, 404, 'no playlist before anyone is live');
    assert.equal(await viewer.locator('video[data-testid="tile"]').count(), 0, 'no WebRTC tiles for the audience');
  });

  it('plays the broadcast once a presenter goes live: picture advances, frames and audio decode, no fatal error', async () => {
    const studio = await open('/studio', 'alice', 'presenter');
    await clickGoLive(studio);
    await waitForStatus(studio, 'live');

    // The waiting page picks the broadcast up by itself (it asks for the playlist every second).
    await waitForStatus(viewer, 'playing', 30000);
    // Outcomes with a deadline, not a rate over a fixed window: a loaded 2-core machine can stall
    // the page for a second, and what matters is that playback keeps going.
    const a = await snapshot(viewer);
    const t0 = Date.now();
    const b = await waitFor('the broadcast to keep playing', 15000, () => snapshot(viewer), {
      until: (s) => s.currentTime - a.currentTime >= 2.4 && s.framesDecoded - a.framesDecoded >= 60 && s.audioDecodedBytes - a.audioDecodedBytes > 10000,
      stepMs: 250,
      throwOnTimeout: false,
    });
    const took = Date.now() - t0;
    assert.ok(b.currentTime - a.currentTime >= 2.4, `currentTime advanced ${(b.currentTime - a.currentTime).toFixed(2)} s in ${took} ms`);
    assert.ok(b.framesDecoded - a.framesDecoded >= 60, `frames decoded grew by ${b.framesDecoded - a.framesDecoded} in ${took} ms`);
    assert.ok(b.audioTracks >= 1, `buffered media carries audio (audioTracks ${b.audioTracks})`);
    assert.ok(b.audioDecodedBytes - a.audioDecodedBytes > 10000, `audio decoded grew by ${b.audioDecodedBytes - a.audioDecodedBytes} bytes in ${took} ms`);
    assert.ok(b.videoWidth > 0 && b.videoHeight > 0, `picture ${b.videoWidth}x${b.videoHeight}`);
    assert.ok(b.latencySec !== null && b.latencySec > 0 && b.latencySec < 5, `latency readout ${b.latencySec} s`);
    assert.match((await viewer.locator('[data-testid="latency"]').textContent()) ?? '', /^latency \d+\.\d s$/);
    assert.deepEqual(b.fatalErrors, [], 'no fatal hls.js error');
    // Read until it says so: a loaded machine may stall the view for a moment.
    await waitForStatus(viewer, 'playing', 15000);
    console.log(`# viewer: latency ${b.latencySec?.toFixed(2)} s (target ${b.targetLatencySec}), ${b.videoWidth}x${b.videoHeight}, non-fatal errors: ${b.errors.map((e) => e.details).join(', ') || 'none'}`);
  });

  it('ffprobe sees both renditions (1280x720 and 640x360 video) and audio', async () => {
    const url = `${ctx.svc.url}/hls/${encodeURIComponent(ctx.room)}/index.m3u8`;
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,width,height', '-of', 'json', url], { timeout: 60000 });
    const streams = (JSON.parse(stdout) as { streams: { codec_type: string; width?: number; height?: number }[] }).streams;
    const sizes = streams.filter((s) => s.codec_type === 'video').map((s) => `${s.width}x${s.height}`);
    assert.ok(sizes.includes('1280x720'), `video streams ${JSON.stringify(sizes)} include 1280x720`);
    assert.ok(sizes.includes('640x360'), `video streams ${JSON.stringify(sizes)} include 640x360`);
    assert.ok(streams.some((s) => s.codec_type === 'audio'), 'an audio stream');
  });

  it('carries on when the transcoder\'s ffmpeg is killed: the playhead stands still a few seconds at most, no fatal hls.js error', async () => {
    const restartsBefore = (await broadcastStatus()).ffmpegRestarts;
    // The transcoder's ffmpeg is the service's only ffmpeg child.
    const { stdout } = await run('pgrep', ['-P', String(ctx.svc.child.pid), '-x', 'ffmpeg']);
    const pids = stdout.trim().split('\n').filter(Boolean).map(Number);
    assert.equal(pids.length, 1, `one ffmpeg child of the service (found ${JSON.stringify(pids)})`);

    const mediaPlaylist = async () => (await fetch(`${ctx.svc.url}/hls/${encodeURIComponent(ctx.room)}/720p/index.m3u8`)).text();
    const discontinuitySequence = (text: string) => Number(/^#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)$/m.exec(text)?.[1] ?? 0);
    const sequenceBefore = discontinuitySequence(await mediaPlaylist());
    const atKill = await snapshot(viewer);
    process.kill(pids[0]!, 'SIGKILL');
    const killedAt = Date.now();

    // Watch the playhead for 10 s: the longest time it stands still is the outage viewers see.
    let lastTime = atKill.currentTime;
    let lastMoveAt = killedAt;
    let longestStill = 0;
    let resumedAt: number | undefined;
    let last = atKill;
    let sawDiscontinuity = false;
    let polls = 0;
    while (Date.now() - killedAt < 10000) {
      await sleep(100);
      // The tag leaves the playlist with its segment a few seconds later: look while it is there.
      if (polls++ % 5 === 0 && /^#EXT-X-DISCONTINUITY$/m.test(await mediaPlaylist())) sawDiscontinuity = true;
      last = await snapshot(viewer);
      const now = Date.now();
      if (last.currentTime > lastTime + 0.01) {
        longestStill = Math.max(longestStill, now - lastMoveAt);
        lastMoveAt = now;
        lastTime = last.currentTime;
        // Past what was buffered at the kill: media from the restarted ffmpeg is playing.
        if (resumedAt === undefined && last.currentTime > atKill.bufferedEnd + 0.2) resumedAt = now;
      }
    }
    longestStill = Math.max(longestStill, Date.now() - lastMoveAt);
    console.log(
      `# ffmpeg killed: playhead stood still at most ${longestStill} ms; new media played ${resumedAt ? resumedAt - killedAt : 'never'} ms after the kill; ` +
        `latency now ${last.latencySec?.toFixed(2)} s; non-fatal errors: ${last.errors.map((e) => e.details).join(', ') || 'none'}`,
    );
    assert.ok(resumedAt !== undefined, `playback went past the media buffered at the kill (${atKill.bufferedEnd.toFixed(2)} s; now ${last.currentTime.toFixed(2)} s)`);
    // 0.2–1.5 s on an idle machine; a loaded 2-core CI run saw 3.1 s (the restart, the first new
    // segment and the page's 100 ms polling all stretch). Past the bound, viewers see an outage.
    assert.ok(longestStill <= STILL_LIMIT_MS, `playhead stood still for ${longestStill} ms (≤ ${STILL_LIMIT_MS} ms)`);
    assert.ok(last.currentTime - atKill.currentTime >= 6, `playhead advanced ${(last.currentTime - atKill.currentTime).toFixed(2)} s in 10 s`);
    assert.deepEqual(last.fatalErrors, [], 'no fatal hls.js error');
    // Read until it says so: a loaded machine may stall the view for a moment.
    await waitForStatus(viewer, 'playing', 15000);

    const after = await broadcastStatus();
    assert.equal(after.state, 'live');
    assert.ok(after.ffmpegRestarts > restartsBefore, `ffmpegRestarts ${restartsBefore} → ${after.ffmpegRestarts}`);
    assert.ok(sawDiscontinuity, 'the media playlist marked the restart with EXT-X-DISCONTINUITY');
    const sequenceAfter = discontinuitySequence(await mediaPlaylist());
    assert.ok(sequenceAfter > sequenceBefore, `EXT-X-DISCONTINUITY-SEQUENCE ${sequenceBefore} → ${sequenceAfter} once the tag left the window`);
    assert.deepEqual(ctx.pageErrors, [], 'no page errors');
  });
});
