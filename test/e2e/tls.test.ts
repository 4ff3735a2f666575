/**
 * TLS on the service's own port (TLS_CERT_FILE/TLS_KEY_FILE): the studio page publishes over
 * https + wss and the watch page plays the stage, decoding; the API answers over https with the
 * key; plain http on the same port gets no answer.
 *
 * Chromium trusts the test's certificate through `--ignore-certificate-errors-spki-list` with
 * the server key's SPKI hash: only that one key is accepted (any other certificate error still
 * fails), and it needs neither a system trust store nor Playwright's `ignoreHTTPSErrors`, which
 * turns off certificate checking for every host in the context. Node (fetch, ws) trusts the
 * test CA through tls.setDefaultCACertificates.
 *
 * Run: node scripts/build-player.mjs && node scripts/test.mjs test/e2e/tls.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { clickGoLive, openPlayerPage, pollPage, usePlayerRoom, waitForStatus } from '../support/pages.ts';
import { makeTestCertificates, trustInThisProcess } from '../support/testCertificates.ts';

type TileStats = { participantId: string; framesDecoded: number; audioBytes: number };

describe('TLS: https and wss on PORT', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stagecast-tls-'));
  const certs = makeTestCertificates(dir);
  trustInThisProcess(certs.caPem);
  // TLS is the HTTP and WebSocket edge only: one engine, and no broadcast (ffmpeg) on the
  // shared machine; the media path and HLS have their own suites.
  const ctx = usePlayerRoom({
    engine: 'embedded',
    env: { TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.keyFile, BROADCAST_AUTO_START: 'false' },
    chromiumArgs: [`--ignore-certificate-errors-spki-list=${certs.spkiSha256}`],
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('says it listens on an https URL', () => {
    assert.match(ctx.svc.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const listening = ctx.svc.logs.find((l) => l.msg === 'listening');
    assert.match(String(listening?.publicUrl), /^https:\/\//, 'PUBLIC_URL defaults to https');
  });

  it('publishes from the studio over https + wss and plays the stage on the watch page', async () => {
    const sockets: string[] = [];
    ctx.chromium.context.on('page', (page) => page.on('websocket', (ws) => sockets.push(ws.url())));

    const watch = await openPlayerPage(ctx, '/watch', 'mod', 'moderator', { consoleErrors: true });
    await waitForStatus(watch, 'watching', ctx.pageErrors);
    const studio = await openPlayerPage(ctx, '/studio', 'alice', 'presenter', { consoleErrors: true });
    assert.deepEqual(await studio.evaluate(() => [location.protocol, window.isSecureContext]), ['https:', true], 'a secure origin, so the camera is offered');
    await clickGoLive(studio);
    await waitForStatus(studio, 'live', ctx.pageErrors);
    const participantId = await studio.evaluate(() => (window as unknown as { __studio: { participantId?: string } }).__studio.participantId);
    assert.ok(participantId);

    const origin = new URL(ctx.svc.url).host;
    assert.ok(sockets.length >= 2 && sockets.every((u) => u.startsWith(`wss://${origin}/ws?`)), `signaling over wss: ${sockets.map((u) => u.split('?')[0]).join(', ')}`);

    // 30 decoded frames (a second of the fake camera) and some audio on the watch page's tile.
    const decoding = await pollPage(
      watch,
      async (id) => {
        const tiles: TileStats[] = await (window as unknown as { __watch: { tiles(): Promise<TileStats[]> } }).__watch.tiles();
        const tile = tiles.find((t) => t.participantId === id);
        return Boolean(tile && tile.framesDecoded >= 30 && tile.audioBytes > 0);
      },
      participantId,
      20000,
    );
    assert.ok(decoding, `the watch page decodes alice's tile; page errors: ${ctx.pageErrors.join(' | ') || 'none'}`);
    const width = await watch.$eval(`video[data-participant-id="${participantId}"]`, (v) => (v as HTMLVideoElement).videoWidth);
    assert.ok(width > 0, 'the tile shows a picture');
    assert.deepEqual(ctx.pageErrors, [], 'no page errors');
  });

  it('answers the API over https, with the API key', async () => {
    assert.equal((await fetch(`${ctx.svc.url}/healthz`)).status, 200);
    const room = await ctx.svc.api(`/api/rooms/${ctx.room}`);
    assert.equal(room.status, 200);
    assert.equal(((await room.json()) as { id: string }).id, ctx.room);
    assert.equal((await fetch(`${ctx.svc.url}/api/rooms/${ctx.room}`)).status, 401, 'not without the key');
  });

  it('does not serve plain http on the same port', async () => {
    const plain = ctx.svc.url.replace(/^https:/, 'http:');
    const outcome = await new Promise<string>((resolve) => {
      get(`${plain}/healthz`, (res) => {
        res.resume();
        resolve(`answered ${res.statusCode}`);
      }).on('error', (err: NodeJS.ErrnoException) => resolve(`refused: ${err.code}`));
    });
    assert.match(outcome, /^refused: /, `plain http got: ${outcome}`);
  });
});
