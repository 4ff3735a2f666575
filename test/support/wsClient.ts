import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';

/**
 * A WebSocket test client for the signaling endpoint (`/ws`) of a spawned service
 * (test/support/service.ts): open a socket or see the HTTP refusal of the upgrade, then send,
 * wait for messages and make request/response pairs (`id` → `re`).
 */

/** A signaling message, as received. */
export type Msg = { v: number; type: string; re?: string; code?: string; message?: string; [k: string]: unknown };

/** The HTTP refusal of an upgrade. */
export interface Refusal {
  status: number;
  body: string;
}

export interface ConnectOptions {
  /** Called with every refusal body and every text frame received (e.g. to check them for leaks). */
  record?: (text: string) => void;
  /** Every socket that opens is pushed here (to `terminate()` them in `after`). */
  sockets?: WebSocket[];
}

export interface ClientOptions extends ConnectOptions {
  /** Send `join` and wait for `joined` before resolving. Default false. */
  join?: boolean;
  /** The default timeout of `next()` (and so of `request()`), ms. Default 5000. */
  timeoutMs?: number;
  /** Names the client in timeout errors. */
  label?: string;
}

export interface WsClient {
  ws: WebSocket;
  /** Every message received, in order; `next()` does not remove from it. */
  inbox: Msg[];
  /** Resolves with the close code and reason once the socket closes. */
  closed: Promise<{ code: number; reason: string }>;
  /** Sends `msg` as JSON, or as is if it is a string. */
  send(msg: unknown): void;
  /**
   * Resolves with the oldest message (received already or still to come) that matches `pred`
   * and that no earlier `next()` returned; rejects after `timeoutMs`.
   */
  next(pred?: (m: Msg) => boolean, timeoutMs?: number): Promise<Msg>;
  /** Sends `{ v: 1, id, ...msg }` with a fresh id; resolves with the reply (`re === id`). */
  request(msg: Record<string, unknown>): Promise<Msg>;
  /** Closes the socket; resolves like `closed`. */
  close(): Promise<{ code: number; reason: string }>;
}

export interface JoinedClient extends WsClient {
  /** The `joined` reply. */
  joined: Msg;
  /** This client's participant id (`joined.participantId`). */
  pid: string;
}

let nextRequestId = 0;

/** `ws://…/ws?query` for the service at `serviceUrl` (http://…). */
export const wsUrl = (serviceUrl: string, query: string) => `${serviceUrl.replace(/^http/, 'ws')}/ws?${query}`;

/** Opens a socket, or reports the HTTP refusal of the upgrade. */
export function tryConnect(serviceUrl: string, query: string, opts: ConnectOptions = {}): Promise<{ ws: WebSocket } | Refusal> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(serviceUrl, query));
    ws.once('open', () => {
      opts.sockets?.push(ws);
      resolve({ ws });
    });
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        opts.record?.(body);
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    ws.once('error', reject);
  });
}

/** Opens a socket with `token` (the upgrade must succeed) and, with `join: true`, joins. */
export function connectClient(serviceUrl: string, token: string, opts: ClientOptions & { join: true }): Promise<JoinedClient>;
export function connectClient(serviceUrl: string, token: string, opts?: ClientOptions): Promise<WsClient>;
export async function connectClient(serviceUrl: string, token: string, opts: ClientOptions = {}): Promise<WsClient | JoinedClient> {
  const result = await tryConnect(serviceUrl, `token=${encodeURIComponent(token)}`, opts);
  assert.ok('ws' in result, `${opts.label ?? 'client'}: upgrade refused: ${JSON.stringify(result)}`);
  const { ws } = result;
  const defaultTimeoutMs = opts.timeoutMs ?? 5000;
  const inbox: Msg[] = [];
  /** Received, not yet returned by `next()`. */
  const unread: Msg[] = [];
  const waiters: { pred: (m: Msg) => boolean; resolve: (m: Msg) => void }[] = [];
  ws.on('message', (data) => {
    const text = data.toString();
    opts.record?.(text);
    const msg = JSON.parse(text) as Msg;
    inbox.push(msg);
    const i = waiters.findIndex((w) => w.pred(msg));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(msg);
    else unread.push(msg);
  });
  const closed = once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) }));

  const send = (msg: unknown) => ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  const next = (pred: (m: Msg) => boolean = () => true, timeoutMs = defaultTimeoutMs): Promise<Msg> => {
    const i = unread.findIndex(pred);
    if (i >= 0) return Promise.resolve(unread.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${opts.label ?? 'client'}: timed out waiting for a message; last: ${JSON.stringify(inbox.slice(-3))}`)),
        timeoutMs,
      );
      waiters.push({ pred, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  };
  const request = (msg: Record<string, unknown>) => {
    const id = `r${++nextRequestId}`;
    send({ v: 1, id, ...msg });
    return next((m) => m.re === id);
  };
  const close = () => {
    ws.close();
    return closed;
  };
  const client: WsClient = { ws, inbox, closed, send, next, request, close };
  if (!opts.join) return client;
  const joined = await request({ type: 'join' });
  assert.equal(joined.type, 'joined', JSON.stringify(joined));
  return { ...client, joined, pid: joined.participantId as string };
}
