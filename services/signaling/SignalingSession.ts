import type { WebSocket } from 'ws';
import type { TokenClaims } from '../auth/tokens.ts';
import { InvalidStateError, logServerFailure, toErrorBody } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Participant } from '../stage/Participant.ts';
import { can } from '../stage/permissions.ts';
import type { Room } from '../stage/Room.ts';
import type { BlockEntry, CloseReason } from '../stage/StageTypes.ts';
import { toAudienceInfo, toChatMessageInfo } from './chatEvents.ts';
import { toBlockInfo, toHandInfo, toParticipantInfo, toSubscriberOffer, toTrackInfo } from './convert.ts';
import { InboundGate } from './inbound.ts';
import { reOf, type Outgoing } from './outgoing.ts';
import { CloseCodes, PROTOCOL_REVISION, PROTOCOL_VERSION, type ClientMessage } from './protocol.ts';
import { answerRequest, type SessionServices } from './requests.ts';
import { roomEventMessages, type RoomListeners } from './roomEvents.ts';

export type { Outgoing } from './outgoing.ts';
export type { SessionServices } from './requests.ts';

export interface SessionLimits {
  /** Largest accepted message, bytes. */
  maxMessageBytes: number;
  /** Messages per second (token bucket; burst twice that). */
  ratePerSecond: number;
  /** Heartbeat interval, ms, announced in `joined`. */
  heartbeatMs: number;
}

/** setTimeout's largest delay; a later token expiry re-arms the timer. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A client that cannot keep up with this much queued output is cut off. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/** Close code for each reason a session ends. */
const CLOSE_CODE_FOR: Record<CloseReason, number> = {
  client_request: CloseCodes.normal,
  signaling_closed: CloseCodes.normal,
  room_closed: CloseCodes.roomClosed,
  token_expired: CloseCodes.tokenExpired,
  kicked: CloseCodes.kicked,
  replaced: CloseCodes.replaced,
  transport_failed: CloseCodes.internalError,
  ice_timeout: CloseCodes.internalError,
  engine_closed: CloseCodes.goingAway,
  engine_died: CloseCodes.internalError,
};

/**
 * One WebSocket connection's life: join, heartbeat, token expiry and the end, with the
 * participant it joined as. Inbound frames pass the InboundGate (limits and schemas); requests
 * are carried out by `answerRequest`, one at a time in arrival order (a `subscriberAnswer`
 * must not overtake the `subscribe` it answers), and `ping` is answered at once; the room's
 * events reach the client as `roomEventMessages` words them.
 */
export class SignalingSession {
  readonly ws: WebSocket;
  readonly room: Room;
  readonly claims: TokenClaims;
  private readonly limits: SessionLimits;
  private readonly services: SessionServices;
  private readonly log: Logger;
  private readonly gate: InboundGate;
  private readonly roomListeners: RoomListeners;
  private participant: Participant | undefined;
  private queue: Promise<void> = Promise.resolve();
  private lastSeen = Date.now();
  private expiryTimer: NodeJS.Timeout | undefined;
  private ended = false;
  /** A room closing ends the session even before `join`. */
  private readonly onRoomClose = (reason: CloseReason) => this.end(reason);
  /** A block on this identity ends the session even before `join`. */
  private readonly onIdentityBlocked = (block: BlockEntry) => {
    if (block.identity === this.claims.identity) this.end('kicked');
  };

  constructor(ws: WebSocket, room: Room, claims: TokenClaims, limits: SessionLimits, log: Logger, services: SessionServices = {}) {
    this.ws = ws;
    this.room = room;
    this.claims = claims;
    this.limits = limits;
    this.services = services;
    this.log = log;
    this.gate = new InboundGate(limits);
    this.roomListeners = roomEventMessages(room, this, (msg) => this.send(msg));
    ws.on('message', (data, isBinary) => this.onFrame(data as Buffer | ArrayBuffer | Buffer[], isBinary));
    ws.on('pong', () => (this.lastSeen = Date.now()));
    ws.on('close', () => this.end('signaling_closed'));
    ws.on('error', (err) => this.log.info({ err: err.message }, 'websocket error'));
    room.once('close', this.onRoomClose);
    room.on('identityblocked', this.onIdentityBlocked);
    this.armExpiry();
    // Blocked between the upgrade's check and now.
    if (room.isBlocked(claims.identity)) queueMicrotask(() => this.end('kicked'));
  }

  /** Its participant's id, once joined. */
  get selfId(): string | undefined {
    return this.participant?.id;
  }

  /** Open but not joined yet: not a participant, though it counts against its identity's sessions. */
  get awaitingJoin(): boolean {
    return this.participant === undefined && !this.ended;
  }

  /** Joined, and a moderator now. */
  get isModerator(): boolean {
    return this.participant !== undefined && can(this.participant.role, 'moderate');
  }

  /** Joined, and on the stage now (a role that publishes): it sees the stage over WebRTC, not HLS. */
  get isStageMember(): boolean {
    return this.participant !== undefined && can(this.participant.role, 'publish');
  }

  /** A room-wide notice from outside the stage (the broadcast); only joined sessions get it. */
  notify(msg: Extract<Outgoing, { type: 'broadcastStarted' | 'broadcastReady' | 'broadcastEnded' | 'metadata' }>): void {
    if (this.participant && !this.ended) this.send(msg);
  }

  /** Ends the session (4011) when the token expires; setTimeout cannot wait longer than ~24.8 days, so re-arm. */
  private armExpiry(): void {
    const msLeft = this.claims.exp * 1000 - Date.now();
    this.expiryTimer = msLeft > MAX_TIMER_MS
      ? setTimeout(() => this.armExpiry(), MAX_TIMER_MS)
      : setTimeout(() => this.end('token_expired'), Math.max(0, msLeft));
    this.expiryTimer.unref();
  }

  /** Called by the server's heartbeat: ping, or cut off a peer silent for two intervals. */
  heartbeat(now: number): void {
    if (now - this.lastSeen > 2 * this.limits.heartbeatMs) {
      this.log.info({ silentMs: now - this.lastSeen }, 'websocket heartbeat timeout');
      this.ws.terminate();
      this.end('signaling_closed');
      return;
    }
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }

  /**
   * Ends the session once: says `bye` with the reason, closes the socket with the matching
   * code and leaves the room (closing this participant's engine legs).
   */
  end(reason: CloseReason, code = CLOSE_CODE_FOR[reason], closeReason: string = reason): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.expiryTimer);
    this.detachRoom();
    if (this.ws.readyState === this.ws.OPEN) {
      this.send({ type: 'bye', reason: closeReason });
      this.ws.close(code, closeReason);
    }
    const participant = this.participant;
    if (participant && !participant.closed) void this.room.leave(participant.id, reason);
    this.log.info({ reason, code }, 'signaling session ended');
  }

  // ---- inbound -----------------------------------------------------------------------------

  private onFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (this.ended) return;
    const now = Date.now();
    this.lastSeen = now;
    const inbound = this.gate.read(data, isBinary, now);
    if (inbound.kind === 'fatal') {
      this.sendError(undefined, inbound.error);
      if (inbound.closeCode === 'rateLimited') this.log.warn('websocket client keeps exceeding the rate limit');
      this.closeOnly(CloseCodes[inbound.closeCode], inbound.error.code);
      return;
    }
    if (inbound.kind === 'rejected') return this.sendError(inbound.re, inbound.error);
    const msg = inbound.message;
    if (msg.type === 'ping') return this.send({ type: 'pong', ...reOf(msg.id) });
    this.queue = this.queue.then(() => this.handle(msg).catch((err) => this.sendError(msg.id, err)));
  }

  private async handle(msg: ClientMessage): Promise<void> {
    if (this.ended) return;
    if (msg.type === 'join') return this.join(reOf(msg.id));
    if (msg.type === 'leave') return this.end('client_request');
    if (msg.type === 'ping') return;
    if (!this.participant) throw new InvalidStateError('send join first');
    this.send(await answerRequest(this.room, this.participant, msg, this.services));
  }

  private join(re: { re?: string }): void {
    if (this.participant) throw new InvalidStateError('already joined');
    const participant = this.room.join({ identity: this.claims.identity, role: this.claims.role, transport: 'signaling' });
    this.participant = participant;
    for (const [event, listener] of Object.entries(this.roomListeners)) this.room.on(event as 'trackpublished', listener as never);
    participant.on('subscriberoffer', (offer) => this.send(toSubscriberOffer(offer)));
    participant.on('legclosed', (leg, reason) => {
      this.log.info({ participant: participant.id, leg, reason }, 'server closed a leg');
      if (leg === 'publisher') this.send({ type: 'unpublished', reason: can(participant.role, 'publish') ? reason : 'demoted' });
      else this.send({ type: 'subscriberClosed', reason });
    });
    participant.on('close', (reason) => this.end(reason));
    const room = this.room;
    this.send({
      type: 'joined',
      ...re,
      participantId: participant.id,
      identity: participant.identity,
      role: participant.role,
      roomId: room.id,
      participants: room.listParticipants().map((p) => toParticipantInfo(p.summary())),
      tracks: room.tracks().map((t) => toTrackInfo(t, room.isTrackMuted(t))),
      iceServers: this.services.iceServers?.(participant.identity) ?? [],
      heartbeatMs: this.limits.heartbeatMs,
      revision: PROTOCOL_REVISION,
      ...(this.services.broadcastState ? { broadcast: this.services.broadcastState(room.id) } : {}),
      ...(this.services.broadcastReady ? { broadcastReady: this.services.broadcastReady(room.id) } : {}),
      ...(this.isModerator ? { handQueue: room.handQueue().map(toHandInfo), blocks: room.blocks().map(toBlockInfo) } : {}),
      capabilities: { simulcast: room.capabilities.simulcast, activeSpeaker: room.capabilities.activeSpeaker },
      ...(room.activeSpeaker !== undefined ? { activeSpeaker: room.activeSpeaker } : {}),
      chat: {
        messages: room.chat.history().map(toChatMessageInfo),
        muted: room.chat.isMuted(participant.identity),
        ...(this.isModerator ? { mutedIdentities: room.chat.mutedIdentities() } : {}),
      },
      audience: toAudienceInfo(room.audience()),
    });
  }

  // ---- outbound ----------------------------------------------------------------------------

  private send(msg: Outgoing): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.log.warn({ buffered: this.ws.bufferedAmount }, 'websocket client too slow; closing');
      this.ws.terminate();
      return;
    }
    this.ws.send(JSON.stringify({ v: PROTOCOL_VERSION, ...msg }));
  }

  private sendError(re: string | undefined, err: unknown): void {
    const { status, body } = toErrorBody(err);
    // `unsupported` (501) is the client asking for a feature this server lacks, not a failure.
    if (status >= 500 && body.error.code !== 'unsupported') logServerFailure(this.log, err, 'signaling request failed');
    this.send({ type: 'error', ...reOf(re), code: body.error.code, message: body.error.message });
  }

  /** Closes the socket for a protocol violation; the `close` event then ends the session. */
  private closeOnly(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(code, reason);
  }

  private detachRoom(): void {
    this.room.off('close', this.onRoomClose);
    this.room.off('identityblocked', this.onIdentityBlocked);
    for (const [event, listener] of Object.entries(this.roomListeners)) this.room.off(event as 'trackpublished', listener as never);
  }
}
