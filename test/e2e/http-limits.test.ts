import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type WebSocket from 'ws';
import { loadConfig } from '../../services/core/config.ts';
import { startServer, type RunningServer } from '../../services/server/main.ts';
import { waitFor } from '../support/wait.ts';
import { connectClient, tryConnect } from '../support/wsClient.ts';

/**
 * The HTTP edge's limits, in-process with the real server (embedded engine, no media): a refusal
 * leaves a keep-alive connection usable or closes it cleanly, slow and oversized requests are
 * cut off, offers and token requests are rate-limited per IP, and an identity's sessions per
 * room are capped.
 */

const API_KEY = 'k'.repeat(20);
const PUBLISH_OFFER = readFileSync(new URL('../fixtures/sdp/chrome-publish-single.sdp', import.meta.url), 'utf8');
const WHEP_OFFER = readFileSync(new URL('../fixtures/sdp/chrome-whep-recvonly.sdp', import.meta.url), 'utf8');

/** One server per suite, with its own data directory. */
function useServer(env: Record<string, string>): { server: RunningServer; presenter: string } {
  const ctx = {} as { server: RunningServer; presenter: string };
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stagecast-http-limits-'));
    ctx.server = await startServer(
      loadConfig({
        PORT: '0',
        API_KEY,
        JWT_SECRET: 's'.repeat(40),
        ENGINE: 'embedded',
        ENGINE_WORKER_THREAD: 'false',
        BROADCAST_AUTO_START: 'false',
        STORAGE_DIR: join(dir, 'hls'),
        WEBHOOK_DB_PATH: join(dir, 'webhooks.db'),
        LOG_LEVEL: 'warn',
        ...env,
      }),
    );
    await ctx.server.registry.create('r');
    ctx.presenter = (await ctx.server.tokens.issue('r', 'ann', 'presenter')).token;
  });
  after(async () => {
    await ctx.server?.close();
    await rm(dir, { recursive: true, force: true });
  });
  return ctx;
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A raw keep-alive connection: what is written goes out as is, and responses are parsed as they come. */
class RawConnection {
  readonly socket: Socket;
  private buffer = Buffer.alloc(0);
  closed = false;
  /** An error the connection ended with (ECONNRESET when the server closes on unread bytes). */
  error: string | undefined;

  constructor(url: string) {
    const { hostname, port } = new URL(url);
    this.socket = connect(Number(port), hostname);
    this.socket.on('data', (chunk: Buffer) => (this.buffer = Buffer.concat([this.buffer, chunk])));
    this.socket.on('error', (err) => (this.error = err.message));
    this.socket.on('close', () => (this.closed = true));
  }

  write(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** The next complete response; fails after `timeoutMs`. */
  async response(timeoutMs = 5000): Promise<RawResponse> {
    const parsed = await waitFor(`an HTTP response`, timeoutMs, () => this.parse(), { stepMs: 20 });
    return parsed!;
  }

  /** Waits for the server to close the connection. */
  async close(timeoutMs: number): Promise<void> {
    await waitFor('the server to close the connection', timeoutMs, () => this.closed, { stepMs: 20 });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private parse(): RawResponse | undefined {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [statusLine, ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (this.buffer.length < end + 4 + length) return undefined;
    const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
    this.buffer = this.buffer.subarray(end + 4 + length);
    return { status: Number(statusLine!.split(' ')[1]), headers, body };
  }
}

const request = (method: string, path: string, headers: Record<string, string | number>, body: string | Buffer = '') =>
  Buffer.concat([
    Buffer.from(`${method} ${path} HTTP/1.1\r\nhost: test\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`),
    Buffer.isBuffer(body) ? body : Buffer.from(body),
  ]);

describe('HTTP edge: a refused request leaves its keep-alive connection usable or closes it cleanly', () => {
  const ctx = useServer({});
  const ONE_MIB = Buffer.alloc(1024 * 1024, 'a');

  /**
   * Sends `first` on a fresh connection and expects `status` with `code`; then either the
   * response said `Connection: close` and the server closes, or a second request on the same
   * connection gets its answer.
   */
  async function refusedThenUsable(first: Buffer, status: number, code: string): Promise<void> {
    const conn = new RawConnection(ctx.server.url);
    try {
      conn.write(first);
      const refused = await conn.response();
      assert.equal(refused.status, status, refused.body);
      assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, code);
      if (refused.headers.connection?.toLowerCase() === 'close') {
        await conn.close(5000);
        return;
      }
      conn.write(request('GET', '/healthz', {}));
      const next = await conn.response();
      assert.equal(next.status, 200, next.body);
    } finally {
      conn.destroy();
    }
  }

  for (const kind of ['whip', 'whep'] as const) {
    it(`${kind.toUpperCase()}: 413 on a 1 MiB offer`, async () => {
      const headers = { authorization: `Bearer ${ctx.presenter}`, 'content-type': 'application/sdp', 'content-length': ONE_MIB.length };
      await refusedThenUsable(request('POST', `/${kind}/r`, headers, ONE_MIB), 413, 'payload_too_large');
    });

    it(`${kind.toUpperCase()}: 415 on a wrong content type`, async () => {
      const offer = kind === 'whip' ? PUBLISH_OFFER : WHEP_OFFER;
      const headers = { authorization: `Bearer ${ctx.presenter}`, 'content-type': 'text/plain', 'content-length': Buffer.byteLength(offer) };
      await refusedThenUsable(request('POST', `/${kind}/r`, headers, offer), 415, 'bad_request');
    });
  }

  it('API: 413 on a 1 MiB JSON body', async () => {
    const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', 'content-length': ONE_MIB.length };
    await refusedThenUsable(request('POST', '/api/rooms', headers, ONE_MIB), 413, 'payload_too_large');
  });

  it('API: a refusal after the body was read keeps the connection open', async () => {
    const body = JSON.stringify({ id: 'r' });
    const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const conn = new RawConnection(ctx.server.url);
    try {
      conn.write(request('POST', '/api/rooms', headers, body));
      const conflict = await conn.response();
      assert.equal(conflict.status, 409, conflict.body);
      assert.notEqual(conflict.headers.connection?.toLowerCase(), 'close');
      conn.write(request('GET', '/healthz', {}));
      assert.equal((await conn.response()).status, 200);
    } finally {
      conn.destroy();
    }
  });
});

describe('HTTP edge: slow and oversized requests are cut off', () => {
  const HEADERS_TIMEOUT_MS = 1000;
  const REQUEST_TIMEOUT_MS = 2000;
  const ctx = useServer({
    HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    HTTP_MAX_HEADER_BYTES: '8192',
  });

  /** Writes `chunks` one every 200 ms until the server closes; resolves with the time it took. */
  async function dribble(conn: RawConnection, chunks: Iterable<string>): Promise<number> {
    const started = Date.now();
    const timer = setInterval(() => {
      const next = iterator.next();
      if (!next.done) conn.write(next.value);
    }, 200);
    const iterator = chunks[Symbol.iterator]();
    try {
      await conn.close(REQUEST_TIMEOUT_MS * 4);
    } finally {
      clearInterval(timer);
    }
    return Date.now() - started;
  }

  /** Writes `first`, then dribbles `chunks`, and expects the server to cut the connection off `timeoutMs` in. */
  async function assertCutOff(first: string | Buffer, chunks: Iterable<string>, timeoutMs: number): Promise<void> {
    const conn = new RawConnection(ctx.server.url);
    try {
      conn.write(first);
      const elapsed = await dribble(conn, chunks);
      // Node checks every quarter of the shorter timeout: cut off between the timeout and 1.25 times it, plus scheduling.
      assert.ok(elapsed >= timeoutMs - 300 && elapsed < timeoutMs * 1.25 + 1500, `closed after ${elapsed} ms`);
    } finally {
      conn.destroy();
    }
  }

  it('listens with an accept queue of 4096 (capped by net.core.somaxconn), not node’s 511', () => {
    const port = new URL(ctx.server.url).port;
    // For a listening socket, ss reports the accept queue's limit as Send-Q.
    const out = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim();
    const sendQ = Number(out.split(/\s+/)[2]);
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    assert.equal(sendQ, Math.min(4096, somaxconn), out);
  });

  it('a body sent a byte at a time is cut off within HTTP_REQUEST_TIMEOUT_MS (plus the check interval)', async () => {
    const headers = request('POST', '/whip/r', { authorization: `Bearer ${ctx.presenter}`, 'content-type': 'application/sdp', 'content-length': 100000 });
    await assertCutOff(headers, (function* () {
      for (;;) yield 'v';
    })(), REQUEST_TIMEOUT_MS);
  });

  it('headers sent a line at a time are cut off within HTTP_HEADERS_TIMEOUT_MS', async () => {
    await assertCutOff('GET /healthz HTTP/1.1\r\nhost: test\r\n', (function* () {
      for (let i = 0; ; i++) yield `x-slow-${i}: 1\r\n`;
    })(), HEADERS_TIMEOUT_MS);
  });

  it('headers over HTTP_MAX_HEADER_BYTES get 431', async () => {
    const conn = new RawConnection(ctx.server.url);
    try {
      conn.write(request('GET', '/healthz', { 'x-big': 'b'.repeat(10_000) }));
      assert.equal((await conn.response()).status, 431);
      await conn.close(5000);
    } finally {
      conn.destroy();
    }
  });
});

describe('HTTP edge: per-IP rate limits on WHIP/WHEP offers and token issuing', () => {
  const ctx = useServer({
    HTTP_INGEST_RATE_PER_MINUTE: '6',
    HTTP_INGEST_RATE_BURST: '2',
    HTTP_TOKEN_RATE_PER_MINUTE: '6',
    HTTP_TOKEN_RATE_BURST: '2',
  });

  async function expectRateLimited(res: Response): Promise<void> {
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(res.status, 429, JSON.stringify(body));
    assert.equal(body.error.code, 'rate_limited');
    const retryAfter = Number(res.headers.get('retry-after'));
    // 6 per minute: a token every 10 s.
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 10, `Retry-After: ${res.headers.get('retry-after')}`);
  }

  it('WHIP and WHEP offers share one budget: past it, 429 rate_limited with Retry-After', async () => {
    const post = (kind: 'whip' | 'whep') =>
      fetch(`${ctx.server.url}/${kind}/r`, { method: 'POST', headers: { authorization: 'Bearer not-a-token', 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
    // Counted before the token is checked: a guesser is limited too.
    assert.equal((await post('whip')).status, 401);
    assert.equal((await post('whep')).status, 401);
    await expectRateLimited(await post('whip'));
    await expectRateLimited(await post('whep'));
    // Ending a session is not limited.
    assert.equal((await fetch(`${ctx.server.url}/whip/r/whip_none`, { method: 'DELETE', headers: { authorization: `Bearer ${ctx.presenter}` } })).status, 404);
  });

  it('POST /api/rooms/:id/tokens: past the budget, 429 rate_limited with Retry-After', async () => {
    const issue = () =>
      fetch(`${ctx.server.url}/api/rooms/r/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ identity: 'bob', role: 'viewer' }),
      });
    assert.equal((await issue()).status, 201);
    assert.equal((await issue()).status, 201);
    await expectRateLimited(await issue());
    // Other API routes are not limited.
    assert.equal((await fetch(`${ctx.server.url}/api/rooms/r`, { headers: { authorization: `Bearer ${API_KEY}` } })).status, 200);
  });
});

describe('stage: sessions per identity per room (signaling, WHIP and WHEP together)', () => {
  const ctx = useServer({ STAGE_MAX_SESSIONS_PER_IDENTITY: '2' });
  const sockets: WebSocket[] = [];
  after(() => {
    for (const ws of sockets) ws.terminate();
  });

  const offer = (kind: 'whip' | 'whep', token: string) =>
    fetch(`${ctx.server.url}/${kind}/r`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/sdp' },
      body: kind === 'whip' ? PUBLISH_OFFER : WHEP_OFFER,
    });

  const refusedCode = (refused: { status: number; body: string } | { ws: WebSocket }) => {
    assert.ok('status' in refused, 'upgrade refused');
    return [refused.status, (JSON.parse(refused.body) as { error: { code: string } }).error.code];
  };

  it('past the limit: WHIP/WHEP 429 too_many_sessions, WebSocket upgrade refused with 429', async () => {
    const joined = await connectClient(ctx.server.url, ctx.presenter, { join: true, sockets });
    const whip = await offer('whip', ctx.presenter);
    assert.equal(whip.status, 201, await whip.text());
    const location = whip.headers.get('location')!;

    const whep = await offer('whep', ctx.presenter);
    const whepBody = (await whep.json()) as { error: { code: string } };
    assert.equal(whep.status, 429, JSON.stringify(whepBody));
    assert.equal(whepBody.error.code, 'too_many_sessions');
    assert.deepEqual(refusedCode(await tryConnect(ctx.server.url, `token=${ctx.presenter}`, { sockets })), [429, 'too_many_sessions']);

    // Another identity has its own count.
    const other = (await ctx.server.tokens.issue('r', 'bea', 'presenter')).token;
    assert.ok('ws' in (await tryConnect(ctx.server.url, `token=${other}`, { sockets })));

    // A session that ends frees its place; a socket counts from its upgrade, before it joins.
    const ended = await fetch(`${ctx.server.url}${location}`, { method: 'DELETE', headers: { authorization: `Bearer ${ctx.presenter}` } });
    assert.equal(ended.status, 200);
    const pending = await tryConnect(ctx.server.url, `token=${ctx.presenter}`, { sockets });
    assert.ok('ws' in pending, JSON.stringify(pending));
    assert.deepEqual(refusedCode(await tryConnect(ctx.server.url, `token=${ctx.presenter}`, { sockets })), [429, 'too_many_sessions']);
    await joined.close();
  });
});
