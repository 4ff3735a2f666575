/**
 * Graceful shutdown (passes once wired: docs/wiring-platform.md). During a live broadcast
 * (a WHIP presenter, HLS on disk storage) the service gets SIGTERM while the webhook receiver
 * is down:
 * - it stops taking new sessions (a new WebSocket is refused),
 * - it exits 0 within SHUTDOWN_TIMEOUT_MS,
 * - every rendition's stored playlist ends with #EXT-X-ENDLIST, as does the multivariant's
 *   rendition list,
 * - no webhook is lost: after a restart on the same outbox, with the receiver back, every
 *   event (broadcast.stopped with reason shutdown and room.ended included) is
 *   delivered, signed.
 *
 * Run: node scripts/test.mjs test/e2e/shutdown.test.ts
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { serveBlankPage } from '../support/blankPage.ts';
import { launchChromium, type LaunchedChromium } from '../support/chromium.ts';
import { describeEngines } from '../support/engines.ts';
import { startService, type RunningService } from '../support/service.ts';
import { publishWhip } from '../support/whip.ts';
import { acceptedOnce, startReceiver, type TestReceiver } from '../support/webhookReceiver.ts';
import { waitFor } from '../support/wait.ts';

const SECRET = 'whsec_shutdown_0123456789';
const SHUTDOWN_TIMEOUT_MS = 15000;

describeEngines('graceful shutdown during a broadcast', (engine) => {
  let dir: string;
  let rx: TestReceiver;
  let svc: RunningService | undefined;
  let chromium: LaunchedChromium;
  let blank: Awaited<ReturnType<typeof serveBlankPage>>;
  const room = 'shutdown-room';
  const env = () => ({
    LOG_LEVEL: 'warn',
    STORAGE_DIR: join(dir, 'hls'),
    WEBHOOK_URLS: rx.url,
    WEBHOOK_SECRET: SECRET,
    WEBHOOK_DB_PATH: join(dir, 'outbox.db'),
    WEBHOOK_RETRY_INITIAL_MS: '300',
    WEBHOOK_RETRY_MAX_MS: '2000',
    WEBHOOK_FLUSH_MS: '1000',
    SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stagecast-shutdown-'));
    rx = await startReceiver(SECRET);
    svc = await startService(env(), { engine });
    blank = await serveBlankPage();
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await blank?.close();
    await svc?.stop();
    await rx?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('SIGTERM mid-broadcast: new sessions refused, exit 0 in time, ENDLIST in storage, webhooks delivered after restart', { timeout: 180_000 }, async () => {
    await svc!.createRoom(room);
    const page = await chromium.context.newPage();
    await page.goto(blank.url);
    const pub = await publishWhip(page, svc!, room, await svc!.token(room, 'alice', 'presenter'));
    assert.equal(pub.status, 201);
    await waitFor('HLS ready webhook', 60000, () => rx.received.some((r) => r.event.type === 'broadcast.hls_ready' && r.event.room === room), { stepMs: 500 });
    await waitFor('a few segments', 30000, async () => {
      const res = await fetch(`${svc!.url}/hls/${room}/720p/index.m3u8`);
      return res.status === 200 ? ((await res.text()).match(/#EXTINF/g) ?? []).length : 0;
    }, { until: (n) => n >= 2, stepMs: 500 });

    await rx.stop();
    const child = svc!.child;
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    const t0 = Date.now();
    child.kill('SIGTERM');
    // New sessions are refused from now on.
    const refused = await new Promise<boolean>((resolve) => {
      const ws = new WebSocket(`${svc!.url.replace(/^http/, 'ws')}/ws?token=x`);
      ws.onopen = () => {
        ws.close();
        resolve(false);
      };
      ws.onerror = () => resolve(true);
    });
    assert.ok(refused, 'a new WebSocket is refused during shutdown');
    const killer = setTimeout(() => child.kill('SIGKILL'), SHUTDOWN_TIMEOUT_MS + 5000);
    const [code, signal] = await exited;
    clearTimeout(killer);
    const tookMs = Date.now() - t0;
    assert.equal(signal, null, 'not killed');
    assert.equal(code, 0, 'exit code 0');
    assert.ok(tookMs < SHUTDOWN_TIMEOUT_MS, `exited in ${tookMs} ms`);
    console.log(`# shutdown took ${tookMs} ms`);

    // Stored playlists end with ENDLIST.
    const roomDir = join(dir, 'hls', room);
    const renditions = (await readdir(roomDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    assert.ok(renditions.length >= 2, `renditions ${renditions}`);
    for (const r of renditions) {
      const text = (await readFile(join(roomDir, r, 'index.m3u8'), 'utf8')).trimEnd();
      assert.ok(text.endsWith('#EXT-X-ENDLIST'), `${r}/index.m3u8 ends with ENDLIST:\n${text.slice(-300)}`);
      assert.ok((text.match(/#EXTINF/g) ?? []).length >= 2, `${r} lists its segments`);
    }
    const multivariant = await readFile(join(roomDir, 'index.m3u8'), 'utf8');
    for (const r of renditions) assert.ok(multivariant.includes(`${r}/index.m3u8`), `multivariant names ${r}`);

    // Restart on the same outbox, receiver back: nothing lost.
    svc = await startService(env(), { engine });
    await rx.start();
    const all = await waitFor('every delivery delivered', 30000, async () => {
      const res = await svc!.api('/api/webhooks/deliveries?limit=1000');
      return ((await res.json()) as { deliveries: { eventId: string; type: string; status: string; room: string }[] }).deliveries;
    }, { until: (d) => d.length > 0 && d.every((x) => x.status === 'delivered'), stepMs: 500 });
    const accepted = acceptedOnce(rx.received);
    assert.deepEqual(new Set(accepted.map((r) => r.id)), new Set(all.map((d) => d.eventId)), 'every event of both runs reached the receiver');
    assert.ok(rx.received.every((r) => r.verified));
    const ofRoom = accepted.filter((r) => r.event.room === room);
    const types = ofRoom.map((r) => r.event.type);
    // A closing room ends its participants without a participant.left each: room.ended covers them.
    for (const t of ['room.started', 'participant.joined', 'track.published', 'broadcast.started', 'broadcast.hls_ready', 'broadcast.stopped', 'room.ended']) {
      assert.ok(types.includes(t), `${t} delivered (got ${types.join(', ')})`);
    }
    assert.equal(ofRoom.find((r) => r.event.type === 'broadcast.stopped')!.event.data.reason, 'shutdown');
    assert.equal(types.at(-1), 'room.ended', 'room.ended comes last, in order');
    assert.equal(await svc!.stop(), 0);
    svc = undefined;
  });
});
