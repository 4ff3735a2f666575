/**
 * /metrics through the whole service during a broadcast (passes once wired:
 * docs/wiring-platform.md): a WHIP presenter and a WHEP player; /metrics is scraped and
 * parsed; rooms, participants and publishers show the stage; forwarded packets, HLS parts and
 * segments and storage uploads grow between two scrapes; killing the transcoder's ffmpeg moves
 * ffmpeg_restarts_total; the webhook queue gauge is there; and every response carries an
 * x-request-id.
 *
 * Run: node scripts/test.mjs test/e2e/metrics.test.ts
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { serveBlankPage } from '../support/blankPage.ts';
import { launchChromium, type LaunchedChromium } from '../support/chromium.ts';
import { describeEngines } from '../support/engines.ts';
import { startService, type RunningService } from '../support/service.ts';
import { parsePromText, sumOf, type PromSample } from '../support/promText.ts';
import { peerReport, playWhep, publishWhip } from '../support/whip.ts';
import { sleep, waitFor } from '../support/wait.ts';

const run = promisify(execFile);

describeEngines('metrics during a broadcast', (engine) => {
  let dir: string;
  let svc: RunningService;
  let chromium: LaunchedChromium;
  let blank: Awaited<ReturnType<typeof serveBlankPage>>;
  const room = 'metrics-room';

  const scrape = async (): Promise<PromSample[]> => {
    const res = await svc.api('/metrics');
    assert.equal(res.status, 200);
    assert.ok(res.headers.get('x-request-id'), 'x-request-id on /metrics');
    return parsePromText(await res.text()).samples;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stagecast-metrics-e2e-'));
    svc = await startService({ LOG_LEVEL: 'warn', STORAGE_DIR: join(dir, 'hls'), WEBHOOK_DB_PATH: join(dir, 'outbox.db') }, { engine });
    blank = await serveBlankPage();
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await blank?.close();
    assert.equal(await svc?.stop(), 0);
    await rm(dir, { recursive: true, force: true });
  });

  it('needs the API key', async () => {
    const res = await fetch(`${svc.url}/metrics`);
    assert.equal(res.status, 401);
    assert.ok(res.headers.get('x-request-id'));
  });

  it('shows the stage, and the counters move while the broadcast runs', { timeout: 120_000 }, async () => {
    await svc.createRoom(room);
    const publisher = await chromium.context.newPage();
    await publisher.goto(blank.url);
    assert.equal((await publishWhip(publisher, svc, room, await svc.token(room, 'alice', 'presenter'))).status, 201);
    const player = await chromium.context.newPage();
    await player.goto(blank.url);
    await waitFor('stage track', 15000, async () => (await (await svc.api(`/api/rooms/${room}`)).json()) as { tracks: number }, { until: (r) => r.tracks >= 2 });
    assert.equal((await playWhep(player, svc, room, await svc.token(room, 'mod', 'moderator'))).status, 201);
    await waitFor('WHEP frames', 20000, () => peerReport(player, 'sub'), { until: (r) => r.framesDecoded > 10 });
    await waitFor('HLS segments', 60000, scrape, { until: (s) => sumOf(s, 'stagecast_hls_segments_total') >= 2, stepMs: 1000 });

    // Two scrapes at least 3 s apart, the second once a few more parts are out (an ffmpeg
    // restart on a loaded machine can pause parts for a few seconds).
    const a = await scrape();
    await sleep(3000);
    const b = await waitFor('more parts', 20000, scrape, { until: (s) => sumOf(s, 'stagecast_hls_parts_total') - sumOf(a, 'stagecast_hls_parts_total') >= 4, stepMs: 500 });
    assert.equal(sumOf(b, 'stagecast_rooms'), 1);
    assert.equal(sumOf(b, 'stagecast_participants', { transport: 'whip' }), 1);
    assert.equal(sumOf(b, 'stagecast_participants', { transport: 'whep' }), 1);
    assert.ok(sumOf(b, 'stagecast_publishers') >= 1);
    assert.equal(sumOf(b, 'stagecast_broadcasts_live'), 1);
    const grew = (name: string, labels: Record<string, string> = {}) => sumOf(b, name, labels) - sumOf(a, name, labels);
    assert.ok(grew('stagecast_forwarded_packets_total') > 100, `forwarded packets +${grew('stagecast_forwarded_packets_total')}`);
    assert.ok(grew('stagecast_hls_parts_total') >= 4, `parts +${grew('stagecast_hls_parts_total')}`);
    assert.ok(grew('stagecast_storage_upload_seconds_count', { op: 'put', result: 'ok' }) > 0, 'uploads timed');
    assert.ok(sumOf(b, 'stagecast_storage_upload_seconds_count', { kind: 'segment' }) >= 2);
    assert.ok(sumOf(b, 'stagecast_hls_parts_total', { rendition: '720p' }) > 0, 'labelled by rendition');
    assert.ok(grew('stagecast_engine_cpu_seconds_total') > 0);
    assert.equal(sumOf(b, 'stagecast_webhook_queue_depth'), 0);
    assert.ok(b.some((s) => s.name === 'stagecast_webhook_attempt_failures_total'));
    assert.equal(sumOf(b, 'stagecast_engine_errors_total'), 0);
  });

  it('ffmpeg_restarts_total moves when the transcoder ffmpeg is killed', { timeout: 60_000 }, async () => {
    const before = sumOf(await scrape(), 'stagecast_ffmpeg_restarts_total');
    const { stdout } = await run('pgrep', ['-P', String(svc.child.pid), '-x', 'ffmpeg']);
    const pid = Number(stdout.trim().split('\n')[0]);
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
    await waitFor('restart counted', 20000, scrape, { until: (s) => sumOf(s, 'stagecast_ffmpeg_restarts_total') > before, stepMs: 500 });
  });
});

describe('request ids', () => {
  let svc: RunningService;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stagecast-reqid-'));
    // Request lines are debug (issue 14: no per-request work at info on the origin's hot path).
    svc = await startService({ LOG_LEVEL: 'debug', WEBHOOK_DB_PATH: join(dir, 'outbox.db') });
  });
  after(async () => {
    assert.equal(await svc?.stop(), 0);
    await rm(dir, { recursive: true, force: true });
  });

  it('every HTTP request and every WebSocket session logs one (the caller\'s x-request-id, or a fresh one)', async () => {
    const { WebSocket: WsClient } = await import('ws');
    const room = await svc.createRoom();
    const token = await svc.token(room, 'rid', 'viewer');
    const res = await svc.api('/api/rooms', { headers: { 'x-request-id': 'http-req-1' } });
    assert.equal(res.headers.get('x-request-id'), 'http-req-1');
    const open = (headers: Record<string, string>) =>
      new Promise<void>((resolve, reject) => {
        const ws = new WsClient(`${svc.url.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`, { headers });
        ws.on('open', () => {
          ws.close();
          resolve();
        });
        ws.on('error', reject);
      });
    await open({ 'x-request-id': 'ws-session-1' });
    await open({});
    const connected = await waitFor('websocket logs', 5000, () => svc.logs.filter((l) => l.msg === 'websocket connected'), { until: (l) => l.length >= 2 });
    assert.ok(svc.logs.some((l) => l.msg === 'request' && l.reqId === 'http-req-1'), 'HTTP request logged with its id');
    assert.equal(connected[0]!.reqId, 'ws-session-1', 'WebSocket session logged with the caller\'s id');
    assert.match(String(connected[1]!.reqId), /^[0-9a-f-]{36}$/, 'a fresh id otherwise');
  });
});
