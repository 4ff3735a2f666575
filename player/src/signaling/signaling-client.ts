import { ErrorDetails, ErrorTypes, PlayerErrorException, type PlayerError } from '../core/errors.ts';
import { EventEmitter } from '../core/event-emitter.ts';
import {
  defaultSignalingConfig,
  type OutgoingMessage,
  type ReplyOf,
  type RequestOf,
  type RequestType,
  type ServerMessage,
  type ServerMessageOf,
  type SignalingCloseInfo,
  type SignalingConfig,
  type SignalingEvents,
} from './signaling-types.ts';

const PROTOCOL_VERSION: ServerMessage['v'] = 1;
/** Redirects one `connect()` follows (cluster: the node a room lives on). */
const MAX_REDIRECTS = 3;

interface Pending {
  type: RequestType;
  resolve(message: ServerMessage): void;
  reject(error: PlayerErrorException): void;
  timer: ReturnType<typeof setTimeout>;
}

export type SignalingState = 'new' | 'connecting' | 'joined' | 'closed';

/**
 * The WebSocket signaling client (protocol v1, services/signaling/protocol.ts).
 *
 * `connect()` opens the socket, sends `join` and resolves with `joined`. Requests carry an
 * `id` and resolve with the server's message whose `re` matches; an `error` reply rejects
 * with a PlayerErrorException. Once joined, it sends an application-level `ping` every
 * `heartbeatMs / 2` (the interval the server announces) and gives up, fatally, when nothing
 * has arrived for two intervals. `destroy()` is idempotent and removes every listener and
 * timer it added.
 */
export class SignalingClient extends EventEmitter<SignalingEvents> {
  readonly config: SignalingConfig;
  private ws: WebSocket | undefined;
  private stateValue: SignalingState = 'new';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private lastReceived = 0;
  private byeReason: string | undefined;
  private opened = false;
  private joinedMessage: ServerMessageOf<'joined'> | undefined;

  constructor(config: Partial<SignalingConfig> & { token: string }) {
    super();
    if (typeof config.token !== 'string' || config.token.length === 0) {
      throw new TypeError('SignalingClient: config.token is required');
    }
    this.config = { ...defaultSignalingConfig(), ...config };
    if (!(this.config.requestTimeoutMs > 0)) throw new TypeError('SignalingClient: requestTimeoutMs must be > 0');
    if (!(this.config.connectTimeoutMs > 0)) throw new TypeError('SignalingClient: connectTimeoutMs must be > 0');
  }

  get state(): SignalingState {
    return this.stateValue;
  }

  /** The `joined` message, once joined. */
  get joined(): ServerMessageOf<'joined'> | undefined {
    return this.joinedMessage;
  }

  /**
   * Opens the socket and joins the room named by the token. In a cluster, a node that does not
   * host the room answers `join` with `redirect`: the client opens the owner's URL and joins
   * there (at most MAX_REDIRECTS times), with no action of the user. A later `connect()` of a
   * new client starts again at `config.url`, so a room that moved is found again.
   */
  async connect(): Promise<ServerMessageOf<'joined'>> {
    if (this.stateValue !== 'new') throw new Error(`SignalingClient: connect() called in state ${this.stateValue}`);
    this.stateValue = 'connecting';
    let target = this.config.url;
    for (let redirects = 0; ; redirects++) {
      await this.open(target);
      const reply = (await this.request({ type: 'join' })) as ServerMessage;
      if (reply.type === 'joined') {
        this.joinedMessage = reply;
        this.stateValue = 'joined';
        this.startHeartbeat(reply.heartbeatMs);
        return reply;
      }
      if (reply.type !== 'redirect' || redirects >= MAX_REDIRECTS) {
        this.destroy();
        throw new PlayerErrorException({ type: ErrorTypes.SIGNALING, details: ErrorDetails.SOCKET_CLOSED, fatal: true, message: `join answered with ${reply.type}` });
      }
      this.detachSocket();
      target = reply.url;
    }
  }

  private async open(target: string): Promise<void> {
    const url = new URL(target, globalThis.location?.href);
    url.searchParams.set('token', this.config.token);
    if (this.config.room) url.searchParams.set('room', this.config.room);
    this.opened = false;
    const ws = new WebSocket(url.toString());
    this.ws = ws;
    ws.addEventListener('message', this.onMessage);
    ws.addEventListener('close', this.onClose);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail('timed out opening the signaling socket'), this.config.connectTimeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        ws.removeEventListener('open', onOpen);
        ws.removeEventListener('close', onEarlyClose);
      };
      const onOpen = () => {
        this.opened = true;
        cleanup();
        resolve();
      };
      // Browsers hide the HTTP status of a refused upgrade (401/403/404): all we see is 1006.
      const onEarlyClose = () => fail('could not open the signaling socket: token refused or server unreachable');
      function fail(message: string) {
        cleanup();
        reject(new PlayerErrorException({ type: ErrorTypes.SIGNALING, details: ErrorDetails.SOCKET_CLOSED, fatal: true, message }));
      }
      ws.addEventListener('open', onOpen);
      ws.addEventListener('close', onEarlyClose);
    });
  }

  /** Drops a redirected socket without a word to the listeners: the next one takes over. */
  private detachSocket(): void {
    const ws = this.ws;
    this.ws = undefined;
    if (!ws) return;
    ws.removeEventListener('message', this.onMessage);
    ws.removeEventListener('close', this.onClose);
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000, 'redirected');
  }

  /** Sends a request and resolves with its reply. */
  request<T extends RequestType>(message: RequestOf<T>): Promise<ReplyOf<T>> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(
        new PlayerErrorException({ type: ErrorTypes.SIGNALING, details: ErrorDetails.SOCKET_CLOSED, fatal: false, message: `cannot send ${message.type}: socket is not open` }),
      );
    }
    const id = String(this.nextId++);
    return new Promise<ReplyOf<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new PlayerErrorException({ type: ErrorTypes.SIGNALING, details: ErrorDetails.REQUEST_TIMEOUT, fatal: false, message: `no reply to ${message.type} in ${this.config.requestTimeoutMs} ms` }),
        );
      }, this.config.requestTimeoutMs);
      this.pending.set(id, { type: message.type, resolve: resolve as (m: ServerMessage) => void, reject, timer });
      this.sendRaw({ ...(message as OutgoingMessage), id });
    });
  }

  /** Sends a message that expects no reply. */
  send(message: OutgoingMessage): void {
    this.sendRaw(message);
  }

  /**
   * Leaves the room: sends `leave`, waits (at most `timeoutMs`) for the server to close the
   * socket, then destroys the client.
   */
  async leave(timeoutMs = 2000): Promise<void> {
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      const closed = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        ws.addEventListener('close', () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
      this.sendRaw({ type: 'leave' });
      await closed;
    }
    this.destroy();
  }

  /** Closes the socket, fails pending requests, stops timers and removes every listener. Idempotent. */
  destroy(): void {
    if (this.stateValue === 'closed' && !this.ws) return;
    this.stateValue = 'closed';
    this.stopHeartbeat();
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.removeEventListener('message', this.onMessage);
      ws.removeEventListener('close', this.onClose);
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000, 'client_request');
    }
    this.failPending(ErrorDetails.SOCKET_CLOSED, 'signaling client destroyed');
    this.removeAllListeners();
  }

  private sendRaw(message: OutgoingMessage & { id?: string }): void {
    this.ws?.send(JSON.stringify({ v: PROTOCOL_VERSION, ...message }));
  }

  private readonly onMessage = (ev: MessageEvent): void => {
    this.lastReceived = Date.now();
    if (typeof ev.data !== 'string') return;
    let message: ServerMessage;
    try {
      message = JSON.parse(ev.data) as ServerMessage;
    } catch {
      return;
    }
    if (!message || typeof message !== 'object' || typeof message.type !== 'string') return;
    const re = 're' in message ? message.re : undefined;
    const pending = re !== undefined ? this.pending.get(re) : undefined;
    if (message.type === 'error') {
      const error: PlayerError = {
        type: ErrorTypes.SIGNALING,
        details: pending ? ErrorDetails.REQUEST_FAILED : ErrorDetails.SERVER_ERROR,
        fatal: false,
        code: message.code,
        message: pending ? `${pending.type} failed: ${message.message}` : message.message,
      };
      if (pending && re !== undefined) {
        this.pending.delete(re);
        clearTimeout(pending.timer);
        pending.reject(new PlayerErrorException(error));
      } else {
        this.emit('error', error);
      }
      return;
    }
    if (message.type === 'bye') this.byeReason = message.reason;
    if (pending && re !== undefined) {
      this.pending.delete(re);
      clearTimeout(pending.timer);
      pending.resolve(message);
    }
    // Every message is also an event: offers that answer `subscribe` and later renegotiation
    // offers then reach the same listener.
    (this.emit as (type: string, m: ServerMessage) => void)(message.type, message);
  };

  private readonly onClose = (ev: CloseEvent): void => {
    // Before `open`, connect() owns the failure and rejects with it.
    if (this.stateValue === 'connecting' && !this.opened) return this.destroy();
    const info: SignalingCloseInfo = { code: ev.code, reason: ev.reason, ...(this.byeReason ? { bye: this.byeReason } : {}) };
    const expected = ev.code === 1000 && this.byeReason === 'client_request';
    this.stateValue = 'closed';
    this.stopHeartbeat();
    this.failPending(ErrorDetails.SOCKET_CLOSED, `signaling socket closed (${ev.code})`);
    if (!expected) {
      const why = this.byeReason ?? (ev.reason || `code ${ev.code}`);
      this.emit('error', { type: ErrorTypes.SIGNALING, details: ErrorDetails.SOCKET_CLOSED, fatal: true, message: `signaling closed: ${why}` });
    }
    this.emit('close', info);
    this.destroy();
  };

  private startHeartbeat(heartbeatMs: number): void {
    if (!(heartbeatMs > 0)) return;
    this.lastReceived = Date.now();
    this.heartbeatTimer = setInterval(() => {
      if (Date.now() - this.lastReceived > 2 * heartbeatMs) {
        this.emit('error', { type: ErrorTypes.SIGNALING, details: ErrorDetails.HEARTBEAT_TIMEOUT, fatal: true, message: `no message from the server for ${2 * heartbeatMs} ms` });
        this.destroy();
        return;
      }
      this.request({ type: 'ping' }).catch(() => {});
    }, heartbeatMs / 2);
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private failPending(details: PlayerError['details'], message: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new PlayerErrorException({ type: ErrorTypes.SIGNALING, details, fatal: false, message: `${p.type}: ${message}` }));
      this.pending.delete(id);
    }
  }
}
