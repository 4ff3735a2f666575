// Child process of bench/origin-load.ts: simulated LL-HLS viewers over keep-alive HTTP/1.1,
// one connection each, as a player holds one. Blocking mode (our origin): reload the playlist
// for the next part (_HLS_msn/_HLS_part, as hls.js does in low-latency mode), then fetch that
// part, and again. Polling mode (nginx, which cannot block): reload the playlist every part
// target and fetch the parts it has not seen. Reports every response time against the
// (msn, part) it was for; the parent matches them to publication times.
//
// The client is a raw `net` socket per viewer and a minimal HTTP/1.1 response reader
// (Content-Length, chunked, or no body for 204/304), written as callbacks, not promises, that
// reads every socket into one buffer and keeps no part's bytes: node's http.Agent cost the
// generator most of a core at 1000 viewers, which made the bench measure the generator. A
// response's time is taken when its last byte has been read, before anything else is done
// with it (both sides alike); parsing a playlist is shared between viewers that got the same
// bytes.
import { connect, type Socket } from 'node:net';
import type { ViewerReply, ViewerRun } from './origin-load.protocol.ts';

const wallNow = () => performance.timeOrigin + performance.now();
const REQUEST_TIMEOUT_MS = 10_000;

interface Listed {
  msn: number;
  index: number;
  uri: string;
}

/** The parts a media playlist lists, oldest first, with the (msn, index) of each. */
function listedParts(text: string): Listed[] {
  const out: Listed[] = [];
  let msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? NaN);
  let index = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-PART:')) {
      out.push({ msn, index: index++, uri: /URI="([^"]+)"/.exec(line)![1]! });
    } else if (line.length > 0 && !line.startsWith('#')) {
      msn++;
      index = 0;
    }
  }
  return out;
}

/** listedParts of the same bytes, parsed once: every viewer gets the same few playlists. */
const parsedCache: { body: Buffer; listed: Listed[] }[] = [];
function parsePlaylist(body: Buffer): Listed[] {
  for (const entry of parsedCache) if (entry.body.equals(body)) return entry.listed;
  const listed = listedParts(body.toString('latin1'));
  parsedCache.unshift({ body, listed });
  if (parsedCache.length > 8) parsedCache.pop();
  return listed;
}

const after = (a: { msn: number; index: number }, b: { msn: number; index: number }) => a.msn > b.msn || (a.msn === b.msn && a.index > b.index);

type Done = (err: string | undefined, status: number, body: Buffer, at: number) => void;

const CRLFCRLF = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

/**
 * Every socket of this process reads into this one buffer (net's `onread`): a read is handled
 * whole before the next, and what must outlive it (a split head, a playlist's body) is copied.
 * A part's bytes are counted, never kept. At 5000 viewers a buffer per read, and a copy of
 * every part, cost the generator more CPU than the edges it measures.
 */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

/**
 * One keep-alive HTTP/1.1 connection, one request at a time (a viewer never pipelines): a
 * minimal response reader for Content-Length, chunked, or no body (204/304). Opens again after
 * the server closed it or an error.
 */
class Connection {
  private socket: Socket | undefined;
  private done: Done | undefined;
  /** Keep the body of the response being read (else only count it). */
  private keepBody = false;
  /** The head so far, when it came split over reads. */
  private headPart: Buffer = EMPTY;
  private inBody = false;
  private status = 0;
  /** Content-Length mode: body bytes still to come. */
  private remaining = 0;
  private chunked = false;
  /** Chunked mode: the body's raw bytes so far (copied); rare, so simply re-parsed. */
  private chunkedRaw: Buffer = EMPTY;
  private closeAfter = false;
  private body: Buffer[] = [];
  deadline = Infinity;

  private readonly port: number;
  private readonly host: string;

  constructor(port: number, host: string) {
    this.port = port;
    this.host = host;
  }

  /** `keepBody`: hand the body to `done`; otherwise `done` gets an empty buffer. */
  get(path: string, keepBody: boolean, done: Done): void {
    this.done = done;
    this.keepBody = keepBody;
    this.deadline = performance.now() + REQUEST_TIMEOUT_MS;
    this.inBody = false;
    this.headPart = EMPTY;
    if (!this.socket) this.open();
    this.socket!.write(`GET ${path} HTTP/1.1\r\nHost: ${this.host}\r\nUser-Agent: origin-load\r\n\r\n`, 'latin1');
  }

  /** Fails the pending request (timeout) and drops the connection. */
  abort(reason: string): void {
    // Connecting: SYN unanswered. Connected but nothing read on a fresh connection: most likely
    // never accepted (the server's listen queue overflowed; see the ListenOverflows count).
    const socket = this.socket;
    const where = socket?.connecting ? 'connecting' : socket && socket.bytesRead === 0 ? 'first request' : this.inBody ? 'body' : 'waiting';
    this.fail(`${reason} (${where})`);
  }

  destroy(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): void {
    const socket: Socket = connect({
      port: this.port,
      host: '127.0.0.1',
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number) => {
          this.onBytes(socket, READ_BUFFER.subarray(0, n));
          return true;
        },
      },
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.socket === socket) this.fail(err.code ?? err.message);
    });
    socket.on('close', () => {
      if (this.socket === socket) this.fail('connection closed');
    });
    this.socket = socket;
  }

  private fail(reason: string): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    this.resetResponse();
    const done = this.done;
    this.done = undefined;
    this.deadline = Infinity;
    done?.(reason, 0, EMPTY, wallNow());
  }

  private resetResponse(): void {
    this.inBody = false;
    this.headPart = EMPTY;
    this.chunkedRaw = EMPTY;
    this.body = [];
  }

  /** One read's bytes (a view of READ_BUFFER, valid only during this call). */
  private onBytes(socket: Socket, data: Buffer): void {
    if (socket !== this.socket) return;
    if (!this.done) return this.fail('unexpected bytes');
    let off = 0;
    if (!this.inBody) {
      let head: string;
      if (this.headPart.length === 0) {
        const end = data.indexOf(CRLFCRLF);
        if (end < 0) {
          this.headPart = Buffer.from(data);
          return;
        }
        head = data.toString('latin1', 0, end);
        off = end + 4;
      } else {
        const joined = Buffer.concat([this.headPart, data]);
        const end = joined.indexOf(CRLFCRLF);
        if (end < 0) {
          this.headPart = joined;
          return;
        }
        head = joined.toString('latin1', 0, end);
        off = end + 4 - this.headPart.length;
        this.headPart = EMPTY;
      }
      this.readHead(head);
      this.inBody = true;
    }
    let complete: boolean;
    if (this.chunked) {
      this.chunkedRaw = Buffer.concat([this.chunkedRaw, data.subarray(off)]);
      const parsed = parseChunked(this.chunkedRaw);
      if (parsed === undefined) return;
      if (parsed.end < this.chunkedRaw.length) return this.fail('unexpected bytes');
      if (this.keepBody) this.body = parsed.chunks;
      complete = true;
    } else {
      const take = Math.min(this.remaining, data.length - off);
      if (this.keepBody && take > 0) this.body.push(Buffer.from(data.subarray(off, off + take)));
      this.remaining -= take;
      if (off + take < data.length) return this.fail('unexpected bytes');
      complete = this.remaining === 0;
    }
    if (!complete) return;
    const at = wallNow();
    const done = this.done;
    const body = this.body.length === 0 ? EMPTY : this.body.length === 1 ? this.body[0]! : Buffer.concat(this.body);
    const status = this.status;
    this.done = undefined;
    this.deadline = Infinity;
    this.resetResponse();
    if (this.closeAfter) {
      this.socket = undefined;
      socket.destroy();
    }
    done(undefined, status, body, at);
  }

  /** The status and the three headers this reader needs, found by search, not by splitting. */
  private readHead(head: string): void {
    this.status = Number(head.slice(9, 12));
    const lower = head.toLowerCase();
    this.chunked = headerValue(lower, 'transfer-encoding')?.includes('chunked') ?? false;
    this.closeAfter = headerValue(lower, 'connection') === 'close';
    let contentLength = Number(headerValue(lower, 'content-length') ?? -1);
    if (this.status === 204 || this.status === 304) {
      contentLength = 0;
      this.chunked = false;
    }
    this.remaining = contentLength < 0 || !Number.isFinite(contentLength) ? 0 : contentLength;
  }
}

/** The value of header `name` (lower case) in a lower-cased head, trimmed; undefined if absent. */
function headerValue(lowerHead: string, name: string): string | undefined {
  const at = lowerHead.indexOf(`\r\n${name}:`);
  if (at < 0) return undefined;
  const from = at + name.length + 3;
  const end = lowerHead.indexOf('\r\n', from);
  return lowerHead.slice(from, end < 0 ? lowerHead.length : end).trim();
}

/** A whole chunked body's chunks and where it ends in `raw`, or undefined while incomplete. */
function parseChunked(raw: Buffer): { chunks: Buffer[]; end: number } | undefined {
  const chunks: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at, 'latin1');
    if (lineEnd < 0) return undefined;
    const size = parseInt(raw.toString('latin1', at, lineEnd), 16);
    if (size === 0) {
      // Last chunk, no trailers expected: "0\r\n\r\n".
      const end = lineEnd + 4;
      return raw.length < end ? undefined : { chunks, end };
    }
    const dataEnd = lineEnd + 2 + size;
    if (raw.length < dataEnd + 2) return undefined;
    chunks.push(raw.subarray(lineEnd + 2, dataEnd));
    at = dataEnd + 2;
  }
}

function run(cfg: ViewerRun, finish: (reply: ViewerReply) => void): void {
  const result: Extract<ViewerReply, { op: 'done' }> = { op: 'done', requests: 0, errors: {}, releases: [], parts: [] };
  const inWindow = (t: number) => t >= cfg.windowStart && t < cfg.windowEnd;
  const dir = cfg.playlistPath.slice(0, cfg.playlistPath.lastIndexOf('/') + 1);
  const host = `127.0.0.1:${cfg.port}`;
  const fail = (kind: string, at: number) => {
    if (inWindow(at)) result.errors[kind] = (result.errors[kind] ?? 0) + 1;
  };
  /**
   * One request; counts it when it ends in the window. `ok` gets the time of a 200 only, and its
   * body when `keepBody` (playlists; a part's bytes are only counted).
   */
  const fetchOk = (conn: Connection, path: string, keepBody: boolean, ok: (body: Buffer, at: number) => void, notOk: () => void) => {
    conn.get(path, keepBody, (err, status, body, at) => {
      if (inWindow(at)) result.requests++;
      if (err !== undefined) fail(err, at);
      else if (status !== 200) fail(`HTTP ${status}`, at);
      else return ok(body, at);
      notOk();
    });
  };

  // The process's own CPU (user and system) at the measurement window's start and end.
  let windowStartUsage: NodeJS.CpuUsage | undefined;
  let windowEndUsage: NodeJS.CpuUsage | undefined;
  setTimeout(() => (windowStartUsage = process.cpuUsage()), Math.max(0, cfg.windowStart - wallNow()));
  setTimeout(() => (windowEndUsage = process.cpuUsage()), Math.max(0, cfg.windowEnd - wallNow()));

  const connections: Connection[] = [];
  let running = 0;
  const ended = () => {
    if (--running > 0) return;
    clearInterval(timeouts);
    for (const conn of connections) conn.destroy();
    const now = process.cpuUsage();
    result.cpuMicros = now.user + now.system;
    // The last viewer may see the window's end before its timer fires.
    const end = windowEndUsage ?? now;
    const start = windowStartUsage ?? { user: NaN, system: NaN };
    result.windowCpuMicros = end.user + end.system - start.user - start.system;
    result.windowSystemMicros = end.system - start.system;
    finish(result);
  };

  const blockingViewer = (conn: Connection) => {
    let newest: Listed | undefined;
    const startOver = () => {
      newest = undefined; // start over from a plain reload, as a player recovers
      setTimeout(step, cfg.partTargetMs);
    };
    const step = () => {
      if (wallNow() >= cfg.windowEnd) return ended();
      if (!newest) {
        fetchOk(
          conn,
          cfg.playlistPath,
          true,
          (body) => {
            newest = parsePlaylist(body).at(-1);
            if (newest) step();
            else setTimeout(step, cfg.partTargetMs);
          },
          () => setTimeout(step, cfg.partTargetMs),
        );
        return;
      }
      const want = { msn: newest.msn, index: newest.index + 1 };
      fetchOk(
        conn,
        `${cfg.playlistPath}?_HLS_msn=${want.msn}&_HLS_part=${want.index}`,
        true,
        (body, at) => {
          if (inWindow(at)) result.releases.push(want.msn, want.index, at);
          const listed = parsePlaylist(body);
          const part = listed.find((p) => !after(want, p)) ?? listed.at(-1);
          newest = listed.at(-1);
          if (!part) return step();
          fetchOk(
            conn,
            dir + part.uri,
            false,
            (_media, partAt) => {
              if (inWindow(partAt)) result.parts.push(want.msn, want.index, partAt);
              step();
            },
            step,
          );
        },
        startOver,
      );
    };
    step();
  };

  const pollingViewer = (conn: Connection, phase: number) => {
    let seen: Listed | undefined;
    let next = wallNow() + phase;
    const tick = () => setTimeout(step, Math.max(0, next - wallNow()));
    const step = () => {
      if (wallNow() >= cfg.windowEnd) return ended();
      next += cfg.partTargetMs;
      fetchOk(
        conn,
        cfg.playlistPath,
        true,
        (body, at) => {
          const listed = parsePlaylist(body);
          const fresh = seen ? listed.filter((p) => after(p, seen!)) : listed.slice(-1);
          if (fresh.length === 0) return tick();
          const newestFresh = fresh.at(-1)!;
          if (inWindow(at)) result.releases.push(newestFresh.msn, newestFresh.index, at);
          seen = newestFresh;
          let i = 0;
          const fetchNext = () => {
            const p = fresh[i++];
            if (!p) return tick();
            fetchOk(
              conn,
              dir + p.uri,
              false,
              (_media, partAt) => {
                if (inWindow(partAt)) result.parts.push(p.msn, p.index, partAt);
                fetchNext();
              },
              fetchNext,
            );
          };
          fetchNext();
        },
        tick,
      );
    };
    tick();
  };

  // One timer for every request's 10 s timeout, not one per request.
  const timeouts = setInterval(() => {
    const now = performance.now();
    for (const conn of connections) if (conn.deadline < now) conn.abort('timeout');
  }, 250);

  running = cfg.viewers;
  if (running === 0) return ended();
  for (let i = 0; i < cfg.viewers; i++) {
    const conn = new Connection(cfg.port, host);
    connections.push(conn);
    const delay = (cfg.rampMs * i) / cfg.viewers;
    setTimeout(() => (cfg.mode === 'blocking' ? blockingViewer(conn) : pollingViewer(conn, Math.random() * cfg.partTargetMs)), delay);
  }
}

process.on('message', (msg: ViewerRun) => {
  run(msg, (result) => process.send!(result, () => process.exit(0)));
});
process.send!({ op: 'ready' });
