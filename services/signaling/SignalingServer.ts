import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { TokenService } from '../auth/tokens.ts';
import type { BroadcastManagerEvents, BroadcastStatus } from '../broadcast/BroadcastManager.ts';
import { toBroadcastHealth } from './convert.ts';
import { ServiceError, toErrorBody } from '../core/errors.ts';
import { logger } from '../core/logger.ts';
import type { RoomRegistry } from '../stage/RoomRegistry.ts';
import { CloseCodes } from './protocol.ts';
import { redirectSocket } from './redirect.ts';
import { SignalingSession, type SessionLimits, type SessionServices } from './SignalingSession.ts';

const log = logger.child({ mod: 'signaling' });

export const SIGNALING_PATH = '/ws';

/** The slice of the BroadcastManager signaling uses: end a broadcast, and hear of starts and ends. */
export interface BroadcastControl {
  stop(roomId: string, reason: 'api'): Promise<void>;
  /** The full BroadcastStatus feeds moderators' `broadcastHealth`; only `state` is required. */
  status(roomId: string): ({ state: 'live' | 'ended' } & Partial<BroadcastStatus>) | undefined;
  on<K extends 'broadcaststarted' | 'broadcastready' | 'broadcaststopped' | 'metadata'>(event: K, listener: (...args: BroadcastManagerEvents[K]) => void): unknown;
  off<K extends 'broadcaststarted' | 'broadcastready' | 'broadcaststopped' | 'metadata'>(event: K, listener: (...args: BroadcastManagerEvents[K]) => void): unknown;
}

export interface SignalingServerOptions extends SessionLimits {
  registry: RoomRegistry;
  tokens: TokenService;
  /** Lets moderators end the broadcast and tells every session when it starts or ends. Optional. */
  broadcasts?: BroadcastControl;
  /** ICE servers (TURN credentials) for a participant's `joined` message. Default: none. */
  iceServers?: SessionServices['iceServers'];
  /**
   * In a cluster: the base URL of the node a room lives on, when that is another node. Its
   * sockets get a `redirect` (docs/signaling.md) there. Default: every room is here.
   */
  roomElsewhere?: (roomId: string) => Promise<string | undefined>;
}

/**
 * The WebSocket endpoint at `/ws?token=<room token>[&room=<id>]` on the HTTP server it is
 * attached to. The token is checked before the upgrade: a missing, malformed, forged or
 * expired token is refused with HTTP 401, a token for another room than `room` with 403, an
 * unknown room with 404, an identity that already holds the room's sessions per identity with
 * 429 `too_many_sessions`, each with a JSON `{ error: { code, message } }` body, and no
 * WebSocket is ever opened for them.
 */
export class SignalingServer {
  private readonly opts: SignalingServerOptions;
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<SignalingSession>();
  private readonly heartbeatTimer: NodeJS.Timeout;
  private readonly servers = new Set<Server>();
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head);
  private nextId = 0;
  private closed = false;
  private readonly services: SessionServices;
  private readonly onBroadcastStarted = (roomId: string) => this.notifyRoom(roomId, { type: 'broadcastStarted' });
  private readonly onBroadcastReady = (roomId: string) => this.notifyRoom(roomId, { type: 'broadcastReady' });
  private readonly onBroadcastStopped = (roomId: string, reason: BroadcastManagerEvents['broadcaststopped'][1]) =>
    this.notifyRoom(roomId, { type: 'broadcastEnded', reason });
  /** Timed metadata reaches the stage at once; the audience gets it in the HLS playlists, at its frame. */
  private readonly onMetadata = (roomId: string, item: BroadcastManagerEvents['metadata'][1]) => {
    for (const session of this.sessions) {
      if (session.room.id === roomId && session.isStageMember) session.notify({ type: 'metadata', id: item.id, payload: item.payload, at: item.at });
    }
  };

  constructor(opts: SignalingServerOptions) {
    this.opts = opts;
    // The session enforces maxMessageBytes itself so that it can answer `payload_too_large`
    // before closing; the frame-level cap only stops absurd frames from being buffered.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxMessageBytes * 2, perMessageDeflate: false });
    this.heartbeatTimer = setInterval(() => {
      const now = Date.now();
      for (const session of this.sessions) session.heartbeat(now);
    }, opts.heartbeatMs);
    this.heartbeatTimer.unref();
    const broadcasts = opts.broadcasts;
    this.services = {
      ...(broadcasts
        ? {
            endBroadcast: (roomId: string) => broadcasts.stop(roomId, 'api'),
            broadcastState: (roomId: string) => broadcasts.status(roomId)?.state ?? 'none',
            broadcastHealth: (roomId: string) => toBroadcastHealth(broadcasts.status(roomId)),
            broadcastReady: (roomId: string) => broadcasts.status(roomId)?.ready === true,
          }
        : {}),
      ...(opts.iceServers ? { iceServers: opts.iceServers } : {}),
    };
    broadcasts?.on('broadcaststarted', this.onBroadcastStarted);
    broadcasts?.on('broadcastready', this.onBroadcastReady);
    broadcasts?.on('broadcaststopped', this.onBroadcastStopped);
    broadcasts?.on('metadata', this.onMetadata);
  }

  get size(): number {
    return this.sessions.size;
  }

  attach(server: Server): void {
    this.servers.add(server);
    server.on('upgrade', this.onUpgrade);
  }

  /** Ends every session (close 1001) and stops accepting. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    this.opts.broadcasts?.off('broadcaststarted', this.onBroadcastStarted);
    this.opts.broadcasts?.off('broadcastready', this.onBroadcastReady);
    this.opts.broadcasts?.off('broadcaststopped', this.onBroadcastStopped);
    this.opts.broadcasts?.off('metadata', this.onMetadata);
    for (const server of this.servers) server.off('upgrade', this.onUpgrade);
    for (const session of [...this.sessions]) session.end('signaling_closed', CloseCodes.goingAway, 'server_shutdown');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  /** Sockets of `identity` in the room that are open but not joined yet. */
  private awaitingJoin(roomId: string, identity: string): number {
    let n = 0;
    for (const session of this.sessions) if (session.room.id === roomId && session.claims.identity === identity && session.awaitingJoin) n++;
    return n;
  }

  private notifyRoom(roomId: string, msg: Parameters<SignalingSession['notify']>[0]): void {
    for (const session of this.sessions) if (session.room.id === roomId) session.notify(msg);
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== SIGNALING_PATH) return rejectUpgrade(socket, new ServiceError('not_found', 'no such resource'));
    if (this.closed) return rejectUpgrade(socket, new ServiceError('invalid_state', 'server is shutting down', 503));
    let claims;
    try {
      const roomParam = url.searchParams.get('room') ?? undefined;
      claims = await this.opts.tokens.verify(url.searchParams.get('token'), roomParam);
    } catch (err) {
      return rejectUpgrade(socket, err);
    }
    if (this.opts.roomElsewhere) {
      let elsewhere: string | undefined;
      try {
        elsewhere = await this.opts.roomElsewhere(claims.room);
      } catch (err) {
        return rejectUpgrade(socket, err);
      }
      if (elsewhere) return redirectSocket(this.wss, req, socket, head, elsewhere);
    }
    const room = this.opts.registry.get(claims.room);
    if (!room || room.closed) return rejectUpgrade(socket, new ServiceError('not_found', 'room not found'));
    if (room.isBlocked(claims.identity)) return rejectUpgrade(socket, new ServiceError('forbidden', 'identity is blocked in this room'));
    try {
      room.assertSessionAvailable(claims.identity, this.awaitingJoin(room.id, claims.identity));
    } catch (err) {
      return rejectUpgrade(socket, err);
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const id = ++this.nextId;
      const sessionLog = log.child({ reqId: requestIdOf(req), ws: id, room: room.id, identity: claims.identity });
      const session = new SignalingSession(ws, room, claims, this.opts, sessionLog, this.services);
      this.sessions.add(session);
      ws.once('close', (code) => {
        this.sessions.delete(session);
        sessionLog.info({ code }, 'websocket closed');
      });
      sessionLog.info({ role: claims.role }, 'websocket connected');
    });
  }
}

/** The caller's x-request-id when it is a sane token (as for HTTP requests), else a fresh UUID. */
function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
}

/** Answers a refused upgrade with a plain HTTP error and a JSON body, then closes the socket. */
function rejectUpgrade(socket: Duplex, err: unknown): void {
  const { status, body } = toErrorBody(err);
  const json = JSON.stringify(body);
  if (!socket.writable) return void socket.destroy();
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(json)}\r\n` +
      'Connection: close\r\n\r\n' +
      json,
  );
}
