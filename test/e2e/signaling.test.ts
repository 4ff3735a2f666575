import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { loadConfig } from '../../services/core/config.ts';
import { startServer, type RunningServer } from '../../services/server/main.ts';
import { sleep } from '../support/wait.ts';

/** Signaling timing behaviour, in-process with the real server and engine (no media). */
describe('signaling heartbeat and shutdown', () => {
  let server: RunningServer;
  let token: string;
  // Long enough that a loaded 2-core machine still answers pings in time.
  const HEARTBEAT_MS = 400;

  before(async () => {
    server = await startServer(
      loadConfig({
        PORT: '0',
        API_KEY: 'k'.repeat(20),
        JWT_SECRET: 's'.repeat(40),
        WS_HEARTBEAT_MS: String(HEARTBEAT_MS),
        ENGINE_WORKER_THREAD: 'false',
        LOG_LEVEL: 'warn',
      }),
    );
    await server.registry.create('hb');
    token = (await server.tokens.issue('hb', 'h', 'presenter')).token;
  });
  after(() => server.close());

  const open = async (opts: WebSocket.ClientOptions = {}) => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws?token=${token}`, opts);
    await once(ws, 'open');
    return ws;
  };

  it('reports the bound URL, not port 0', () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.doesNotMatch(server.url, /:0$/);
    assert.equal(server.publicUrl, server.url);
  });

  it('terminates a socket that answers no pings, and keeps one that does', async () => {
    const silent = await open({ autoPong: false });
    const lively = await open();
    const started = Date.now();
    const [code] = (await once(silent, 'close')) as [number];
    const elapsed = Date.now() - started;
    assert.equal(code, 1006, 'terminated without a close frame');
    assert.ok(elapsed >= 2 * HEARTBEAT_MS && elapsed < 6 * HEARTBEAT_MS, `closed after ${elapsed} ms`);
    await sleep(4 * HEARTBEAT_MS);
    assert.equal(lively.readyState, WebSocket.OPEN);
    lively.close();
    await once(lively, 'close');
  });

  it('close() says bye server_shutdown with 1001 and is idempotent', async () => {
    const ws = await open();
    const frames: string[] = [];
    ws.on('message', (d) => frames.push(d.toString()));
    ws.send(JSON.stringify({ v: 1, type: 'join' }));
    await sleep(50);
    const closed = once(ws, 'close');
    await Promise.all([server.close(), server.close()]);
    const [code, reason] = (await closed) as [number, Buffer];
    assert.equal(code, 1001);
    assert.equal(reason.toString(), 'server_shutdown');
    assert.ok(frames.some((f) => JSON.parse(f).type === 'bye'));
    const res = await fetch(`${server.url}/healthz`).catch((err: unknown) => err);
    assert.ok(res instanceof Error, 'the HTTP server is closed');
  });
});
