import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { Transcoder, type RenditionInfo, type StageInput } from '../../services/broadcast/Transcoder.ts';
import { Fmp4Watcher } from './fmp4.ts';
import { audioSdp, freeRtpPort, RtpSource, videoSdp } from './rtpSource.ts';
import { sleep, waitFor } from '../support/wait.ts';

interface Delivered {
  rendition: string;
  info: RenditionInfo;
  generation: number;
  watcher: Fmp4Watcher;
}

/** Records every 'output' of a transcoder with a watcher that reads (and so drains) it. */
function collect(transcoder: Transcoder): Delivered[] {
  const delivered: Delivered[] = [];
  transcoder.on('output', (rendition: string, info: RenditionInfo, stream: Readable, generation: number) => {
    delivered.push({ rendition, info, generation, watcher: new Fmp4Watcher(stream) });
  });
  return delivered;
}

function sdpDir(transcoder: Transcoder): string | undefined {
  const args = transcoder.ffmpegArgs ?? [];
  const sdp = args.find((a) => a.endsWith('.sdp'));
  return sdp ? dirname(sdp) : undefined;
}

describe('Transcoder with live RTP from a real ffmpeg', () => {
  const opened: { close(): Promise<void> }[] = [];
  after(async () => {
    await Promise.all(opened.map((o) => o.close()));
  });

  it('composes VP8 + Opus RTP into a 720p and a 360p fMP4 rendition, and survives kill -9 of its ffmpeg', async (t) => {
    const videoPort = await freeRtpPort();
    const audioPort = await freeRtpPort([videoPort]);
    const inputs: StageInput[] = [
      { id: 'cam', kind: 'video', sdp: videoSdp(videoPort) },
      { id: 'mic', kind: 'audio', sdp: audioSdp(audioPort) },
    ];
    // ultrafast: the test shares two cores with the RTP source and whatever else runs.
    const transcoder = new Transcoder({ inputs, composition: { preset: 'ultrafast' } });
    opened.push(transcoder);
    const delivered = collect(transcoder);
    const exits: [number | null, string | null, boolean][] = [];
    transcoder.on('exit', (code, signal, willRestart) => exits.push([code, signal, willRestart]));
    const restarts: [number, string][] = [];
    transcoder.on('restart', (generation, reason) => restarts.push([generation, reason]));

    const ready: number[] = [];
    transcoder.on('ready', (generation) => ready.push(generation));
    const wallStart = performance.now();
    transcoder.start();
    // Like the engine's keyframe request on 'ready': the source's first frame is a keyframe.
    await waitFor("'ready'", 5000, () => (ready.length ? true : undefined), { stepMs: 10 });
    const source = new RtpSource({ videoPort, audioPort });
    opened.push(source);

    // (a) both renditions deliver fragments at the right size.
    assert.deepEqual(
      delivered.map((d) => [d.rendition, d.generation]),
      [['720p', 1], ['360p', 1]],
    );
    for (const d of delivered) await d.watcher.until((w) => w.moofs >= 5, 15000, `${d.rendition} fragments`);
    const [hd, sd] = delivered;
    assert.deepEqual(hd!.watcher.types.slice(0, 3), ['ftyp', 'moov', 'moof']);
    assert.deepEqual({ w: hd!.watcher.video?.width, h: hd!.watcher.video?.height }, { w: 1280, h: 720 });
    assert.deepEqual({ w: sd!.watcher.video?.width, h: sd!.watcher.video?.height }, { w: 640, h: 360 });
    // The codecs the packager advertises are the ones x264 wrote.
    assert.equal(hd!.info.codecs.split(',')[0], hd!.watcher.video?.codec);
    assert.equal(sd!.info.codecs.split(',')[0], sd!.watcher.video?.codec);
    assert.equal(hd!.info.bandwidth, 2_628_000);
    const tmp = sdpDir(transcoder);
    assert.ok(tmp && existsSync(tmp), 'the SDP lives in a temp dir while ffmpeg runs');

    // Let it run a little to measure steady-state CPU.
    const cpuFrom = transcoder.stats().ffmpegCpuMicros;
    const wallFrom = performance.now();
    await sleep(3000);
    const cpuShare = (transcoder.stats().ffmpegCpuMicros - cpuFrom) / 1000 / (performance.now() - wallFrom);
    t.diagnostic(`ffmpeg CPU share (2 renditions, 1 VP8 480x360 + 1 Opus input): ${(cpuShare * 100).toFixed(0)}% of one core`);
    assert.ok(cpuShare > 0.05, 'CPU time is read from /proc');

    // (b) kill -9 mid-stream: a new ffmpeg takes over by itself.
    const pid = transcoder.stats().pid!;
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    const gen2 = await waitFor('generation 2 outputs', 2000, () => delivered.filter((x) => x.generation === 2), { until: (d) => d.length === 2, stepMs: 10 });
    const respawnMs = performance.now() - killedAt;
    assert.deepEqual(exits[0], [null, 'SIGKILL', true]);
    assert.deepEqual(restarts, [[2, 'crash']]);
    await waitFor("'ready' of generation 2", 2000, () => (ready.includes(2) ? true : undefined), { stepMs: 10 });
    assert.ok(hd!.watcher.ended && sd!.watcher.ended, 'generation 1 streams end');
    for (const d of gen2) await d.watcher.until((w) => w.initAt !== undefined, 2000 - (performance.now() - killedAt), `${d.rendition} init segment after restart`);
    const initMs = Math.max(...gen2.map((d) => d.watcher.initAt!)) - killedAt;
    for (const d of gen2) await d.watcher.until((w) => w.moofs >= 1, 3000, `${d.rendition} first fragment after restart`);
    const moofMs = Math.max(...gen2.map((d) => d.watcher.firstMoofAt!)) - killedAt;
    t.diagnostic(`kill -9 → new ffmpeg spawned ${respawnMs.toFixed(0)} ms, init segments ${initMs.toFixed(0)} ms, first fragments ${moofMs.toFixed(0)} ms`);
    assert.ok(initMs < 2000, `output again within 2 s (took ${initMs.toFixed(0)} ms)`);
    assert.equal(gen2[0]!.watcher.video?.width, 1280);
    assert.equal(gen2[1]!.watcher.video?.width, 640);

    const stats = transcoder.stats();
    assert.equal(stats.generation, 2);
    assert.equal(stats.restarts, 1);
    assert.equal(stats.crashes, 1);
    t.diagnostic(`ffmpeg CPU over the whole test: ${(stats.ffmpegCpuMicros / 1e6).toFixed(2)} s in ${((performance.now() - wallStart) / 1000).toFixed(1)} s`);

    const tmp2 = sdpDir(transcoder);
    await transcoder.close('test done');
    await transcoder.close('again');
    assert.equal(transcoder.stats().running, false);
    assert.ok(!existsSync(tmp!) && !existsSync(tmp2!), 'temp SDP files are removed');
    assert.deepEqual(exits.at(-1)?.[2], false, 'the last exit does not restart');
    await source.close();
  });

  it('update() recomposes the stage in a new generation', async () => {
    const portA = await freeRtpPort();
    const portB = await freeRtpPort([portA]);
    const transcoder = new Transcoder({
      inputs: [{ id: 'a', kind: 'video', sdp: videoSdp(portA) }],
      ladder: [{ name: '360p', width: 640, height: 360, videoBitrate: 800_000, audioBitrate: 96_000 }],
      composition: { preset: 'ultrafast' },
    });
    opened.push(transcoder);
    const delivered = collect(transcoder);
    const reasons: string[] = [];
    transcoder.on('restart', (_g, reason) => reasons.push(reason));
    const ready = new Promise((resolve) => transcoder.once('ready', resolve));
    transcoder.start();
    await ready;
    const sourceA = new RtpSource({ videoPort: portA, size: '640x360' });
    const sourceB = new RtpSource({ videoPort: portB, size: '320x240' });
    opened.push(sourceA, sourceB);
    await delivered[0]!.watcher.until((w) => w.moofs >= 2, 15000, 'generation 1 fragments');

    await transcoder.update([
      { id: 'a', kind: 'video', sdp: videoSdp(portA) },
      { id: 'b', kind: 'video', sdp: videoSdp(portB) },
    ]);
    assert.equal(transcoder.generation, 2);
    assert.deepEqual(reasons, ['update']);
    assert.ok(delivered[0]!.watcher.ended);
    await delivered[1]!.watcher.until((w) => w.moofs >= 2, 5000, 'generation 2 fragments');
    assert.equal(delivered[1]!.generation, 2);
    assert.equal(transcoder.stats().crashes, 0);
    assert.ok((transcoder.ffmpegArgs ?? []).join(' ').includes('xstack=inputs=2'));
    await transcoder.close();
    await assert.rejects(transcoder.update([]), { code: 'invalid_state' });
    await Promise.all([sourceA.close(), sourceB.close()]);
  });

  it('takes H.264 RTP (packetization-mode 1) as well as VP8', async () => {
    const port = await freeRtpPort();
    const transcoder = new Transcoder({
      inputs: [{ id: 'h264', kind: 'video', sdp: videoSdp(port, 'h264') }],
      ladder: [{ name: '360p', width: 640, height: 360, videoBitrate: 800_000, audioBitrate: 96_000 }],
      composition: { preset: 'ultrafast' },
    });
    opened.push(transcoder);
    const delivered = collect(transcoder);
    const ready = new Promise((resolve) => transcoder.once('ready', resolve));
    transcoder.start();
    await ready;
    const source = new RtpSource({ videoPort: port, videoCodec: 'h264', size: '640x480' });
    opened.push(source);
    await delivered[0]!.watcher.until((w) => w.moofs >= 3, 10000, 'fragments from H.264 input');
    assert.equal(delivered[0]!.watcher.video?.width, 640);
    await transcoder.close();
    await source.close();
  });

  it('an empty stage is a black frame and silence', async () => {
    const transcoder = new Transcoder({
      ladder: [{ name: '360p', width: 640, height: 360, videoBitrate: 800_000, audioBitrate: 96_000 }],
      composition: { preset: 'ultrafast' },
    });
    opened.push(transcoder);
    const delivered = collect(transcoder);
    const started = performance.now();
    transcoder.start();
    await delivered[0]!.watcher.until((w) => w.moofs >= 5, 10000, 'fragments');
    // Paced at wall-clock rate, not as fast as the CPU allows: 5 parts of 200 ms take ~1 s.
    assert.ok(performance.now() - started > 600, 'generated sources run in real time');
    assert.equal(delivered[0]!.watcher.video?.height, 360);
    await transcoder.close();
  });

  it('rejects inputs whose SDP does not match their kind', () => {
    assert.throws(() => new Transcoder({ inputs: [{ id: 'x', kind: 'audio', sdp: videoSdp(20000) }] }), TypeError);
    assert.throws(
      () => new Transcoder({ inputs: [{ id: 'x', kind: 'video', sdp: videoSdp(20000) }, { id: 'y', kind: 'video', sdp: videoSdp(20000) }] }),
      /port 20000/,
    );
  });
});

describe('Transcoder supervision', () => {
  it('backs off only on repeated quick crashes, capped, and close() stops the loop', async () => {
    // An "ffmpeg" that dies at once: every start is a quick crash.
    const transcoder = new Transcoder({ ffmpegPath: 'false', maxRestartDelayMs: 400 });
    const spawnedAt: number[] = [];
    const exits: boolean[] = [];
    transcoder.on('output', (_n, _i, _s, generation) => {
      if (spawnedAt.length < generation) spawnedAt.push(performance.now());
    });
    transcoder.on('exit', (_c, _s, willRestart) => exits.push(willRestart));
    transcoder.start();
    await waitFor('6 starts', 5000, () => (spawnedAt.length >= 6 ? true : undefined), { stepMs: 10 });
    const gaps = spawnedAt.slice(1).map((t, i) => t - spawnedAt[i]!);
    // 0, 100, 200, 400 (cap), 400 ms, plus the time `false` takes to start and exit.
    assert.ok(gaps[0]! < 150, `first restart at once (${gaps[0]!.toFixed(0)} ms)`);
    assert.ok(gaps[1]! >= 100 && gaps[2]! >= 200 && gaps[3]! >= 400, `backoff grows: ${gaps.map((g) => g.toFixed(0)).join(', ')}`);
    assert.ok(gaps[4]! < 400 + 300, `backoff is capped: ${gaps[4]!.toFixed(0)} ms`);
    assert.ok(exits.every((w) => w));
    await transcoder.close('test done');
    const generation = transcoder.generation;
    await sleep(600);
    assert.equal(transcoder.generation, generation, 'no restart after close');
    assert.equal(transcoder.stats().crashes, exits.filter((w) => w).length);
  });

  it('replaces an ffmpeg that writes nothing, and recovers once the track flows', async () => {
    const port = await freeRtpPort();
    const transcoder = new Transcoder({
      inputs: [{ id: 'late', kind: 'video', sdp: videoSdp(port) }],
      ladder: [{ name: '360p', width: 640, height: 360, videoBitrate: 800_000, audioBitrate: 96_000 }],
      composition: { preset: 'ultrafast' },
      // Room for a new ffmpeg to start, wait for the source's next keyframe (it sends one a
      // second and answers no keyframe request) and write its first fragment on a loaded
      // machine: at 1.5 s a CI run replaced every generation just before its first output.
      stallTimeoutMs: 3000,
    });
    const delivered = collect(transcoder);
    transcoder.start();
    // Nothing is sent: ffmpeg waits for a first frame forever, so it is replaced.
    await waitFor('a stall restart', 8000, () => (transcoder.stats().stalls >= 1 && transcoder.generation >= 2 ? true : undefined), { stepMs: 10 });
    const source = new RtpSource({ videoPort: port, size: '320x240' });
    try {
      // The generation running (or next started) when packets flow delivers output.
      await waitFor('fragments once the track flows', 20000, () => delivered.find((d) => d.watcher.moofs >= 2), { stepMs: 10 });
    } finally {
      await transcoder.close();
      await source.close();
    }
  });

  it('asks for keyframes again about once a second while a listening ffmpeg writes nothing, and stops once output flows', async () => {
    const port = await freeRtpPort();
    const transcoder = new Transcoder({
      inputs: [{ id: 'quiet', kind: 'video', sdp: videoSdp(port) }],
      ladder: [{ name: '360p', width: 640, height: 360, videoBitrate: 800_000, audioBitrate: 96_000 }],
      composition: { preset: 'ultrafast' },
      stallTimeoutMs: 0,
    });
    const delivered = collect(transcoder);
    let readyAt = 0;
    const asks: number[] = [];
    transcoder.on('ready', () => (readyAt = Date.now()));
    transcoder.on('keyframeneeded', () => asks.push(Date.now()));
    transcoder.start();
    // Nothing is sent: the keyframe ffmpeg needs never comes, so it is asked for again and again.
    await waitFor('two repeated keyframe requests', 5000, () => (asks.length >= 2 ? true : undefined), { stepMs: 10 });
    assert.ok(readyAt > 0 && asks[0]! - readyAt >= 900, `first repeat ${asks[0]! - readyAt} ms after ready`);
    assert.ok(asks[1]! - asks[0]! >= 900, `repeats ${asks[1]! - asks[0]!} ms apart`);
    const source = new RtpSource({ videoPort: port, size: '320x240' });
    try {
      await waitFor('fragments once the track flows', 8000, () => delivered.find((d) => d.watcher.moofs >= 2), { stepMs: 10 });
      const count = asks.length;
      await sleep(2500);
      assert.equal(asks.length, count, 'no more keyframe requests while output flows');
      assert.equal(transcoder.generation, 1, 'the same ffmpeg carried on (no stall restart)');
    } finally {
      await transcoder.close();
      await source.close();
    }
  });

  it('start() after close() is refused', async () => {
    const transcoder = new Transcoder();
    await transcoder.close();
    assert.throws(() => transcoder.start(), { code: 'invalid_state' });
  });
});
