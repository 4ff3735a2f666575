import type { WebSocket } from 'ws';
import type { TokenClaims } from '../auth/tokens.ts';
import { InvalidStateError, ServiceError, toErrorBody } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Participant } from '../stage/Participant.ts';
import { can } from '../stage/permissions.ts';
import type { Room } from '../stage/Room.ts';
import type {
  ActorId,
  BlockEntry,
  CloseReason,
  HandEntry,
  HandLowerReason,
  MediaKind,
  ParticipantSummary,
  StageRole,
  StageTrack,
} from '../stage/StageTypes.ts';
import { toBlockInfo, toHandInfo, toParticipantInfo, toSubscriberOffer, toTrackInfo } from './convert.ts';
import {
  clientMessageSchemas,
  CloseCodes,
  envelopeSchema,
  PROTOCOL_REVISION,
  PROTOCOL_VERSION,
  type ClientMessage,
  type ClientMessageType,
  type IceServerInfo,
  type ServerMessage,
} from './protocol.ts';
import { TokenBucket } from './TokenBucket.ts';

export interface SessionLimits {
  /** Largest accepted message, bytes. */
  maxMessageBytes: number;
  /** Messages per second (token bucket; burst twice that). */
  ratePerSecond: number;
  /** Heartbeat interval, ms, announced in `joined`. */
  heartbeatMs: number;
}

/** What a session may ask of the rest of the service, beyond its Room. */
export interface SessionServices {
  /** Ends the room's HLS broadcast (moderators' `endBroadcast`). Absent: `unsupported`. */
  endBroadcast?: (roomId: string) => Promise<void>;
  /** ICE servers with fresh TURN credentials for `joined`. Absent: none. */
  iceServers?: (identity: string) => IceServerInfo[];
  /** The room's HLS broadcast state for `joined`. Absent: not reported. */
  broadcastState?: (roomId: string) => 'live' | 'ended' | 'none';
}

/** setTimeout's largest delay; a later token expiry re-arms the timer. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Window over which dropped (rate-limited) messages are counted before the socket is closed. */
const RATE_STRIKE_WINDOW_MS = 5000;
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
  engine_closed: CloseCodes.goingAway,
  engine_died: CloseCodes.internalError,
};

export type Outgoing = ServerMessage extends infer M ? (M extends { v: 1 } ? Omit<M, 'v'> : never) : never;

/**
 * One WebSocket connection: parses and validates frames, enforces limits, and turns protocol
 * requests into calls on its Room. Requests are handled one at a time in arrival order (a
 * `subscriberAnswer` must not overtake the `subscribe` it answers); `ping` is answered at once.
 */
export class SignalingSession {
  readonly ws: WebSocket;
  readonly room: Room;
  readonly claims: TokenClaims;
  private readonly limits: SessionLimits;
  private readonly services: SessionServices;
  private readonly log: Logger;
  private readonly bucket: TokenBucket;
  private participant: Participant | undefined;
  private queue: Promise<void> = Promise.resolve();
  private lastSeen = Date.now();
  private strikes = 0;
  private strikeWindowStart = 0;
  private expiryTimer: NodeJS.Timeout | undefined;
  private ended = false;
  /** A room closing ends the session even before `join`. */
  private readonly onRoomClose = (reason: CloseReason) => this.end(reason);
  /** A block on this identity ends the session even before `join`. */
  private readonly onIdentityBlocked = (block: BlockEntry) => {
    if (block.identity === this.claims.identity) this.end('kicked');
  };
  private readonly roomListeners = {
    participantjoined: (p: ParticipantSummary) => {
      if (p.participantId !== this.participant?.id) this.send({ type: 'participantJoined', participant: toParticipantInfo(p) });
    },
    participantleft: (p: ParticipantSummary, reason: CloseReason) => {
      if (p.participantId !== this.participant?.id) this.send({ type: 'participantLeft', participantId: p.participantId, reason });
    },
    trackpublished: (track: StageTrack) => this.send({ type: 'trackPublished', track: toTrackInfo(track, this.room.isTrackMuted(track)) }),
    trackunpublished: (track: StageTrack) => this.send({ type: 'trackUnpublished', track: toTrackInfo(track) }),
    rolechanged: (p: ParticipantSummary, previous: StageRole, by: ActorId) =>
      this.send({ type: 'roleChanged', participantId: p.participantId, role: p.role, previousRole: previous, ...byOf(by) }),
    handraised: (hand: HandEntry, queue: HandEntry[]) => {
      if (this.isModerator) this.send({ type: 'handRaised', ...toHandInfo(hand), queue: queue.map(toHandInfo) });
      else if (hand.participantId === this.participant?.id) this.send({ type: 'handRaised', ...toHandInfo(hand) });
    },
    handlowered: (participantId: string, reason: HandLowerReason, queue: HandEntry[], by: ActorId) => {
      if (this.isModerator) this.send({ type: 'handLowered', participantId, reason, queue: queue.map(toHandInfo), ...byOf(by) });
      else if (participantId === this.participant?.id) this.send({ type: 'handLowered', participantId, reason, ...byOf(by) });
    },
    mutechanged: (participantId: string, kind: MediaKind, muted: boolean, track: StageTrack | undefined, by: ActorId) =>
      this.send({ type: muted ? 'trackMuted' : 'trackUnmuted', participantId, kind, ...(track ? { track: toTrackInfo(track, muted) } : {}), ...byOf(by) }),
    participantkicked: (p: ParticipantSummary, reason: string | undefined, by: ActorId) =>
      this.send({ type: 'participantKicked', participantId: p.participantId, identity: p.identity, ...(reason ? { reason } : {}), ...byOf(by) }),
    identityblocked: (block: BlockEntry) => {
      if (this.isModerator) this.send({ type: 'identityBlocked', block: toBlockInfo(block) });
    },
    identityunblocked: (identity: string, by: ActorId) => {
      if (this.isModerator) this.send({ type: 'identityUnblocked', identity, ...byOf(by) });
    },
    activespeaker: (participantId: string) => this.send({ type: 'activeSpeaker', participantId }),
  };

  constructor(ws: WebSocket, room: Room, claims: TokenClaims, limits: SessionLimits, log: Logger, services: SessionServices = {}) {
    this.ws = ws;
    this.room = room;
    this.claims = claims;
    this.limits = limits;
    this.services = services;
    this.log = log;
    this.bucket = new TokenBucket(limits.ratePerSecond);
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

  /** Joined, and a moderator now. */
  get isModerator(): boolean {
    return this.participant !== undefined && can(this.participant.role, 'moderate');
  }

  /** A room-wide notice from outside the stage (the broadcast); only joined sessions get it. */
  notify(msg: Extract<Outgoing, { type: 'broadcastStarted' | 'broadcastEnded' }>): void {
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
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (buf.length > this.limits.maxMessageBytes) {
      this.sendError(undefined, new ServiceError('payload_too_large', `message exceeds ${this.limits.maxMessageBytes} bytes`));
      this.closeOnly(CloseCodes.messageTooBig, 'payload_too_large');
      return;
    }
    if (!this.bucket.take(now)) {
      this.onRateLimited(now);
      return;
    }
    if (isBinary) return this.sendError(undefined, new ServiceError('invalid_message', 'binary frames are not accepted'));
    let json: unknown;
    try {
      json = JSON.parse(buf.toString('utf8'));
    } catch {
      return this.sendError(undefined, new ServiceError('invalid_message', 'message is not valid JSON'));
    }
    const envelope = envelopeSchema.safeParse(json);
    if (!envelope.success) {
      return this.sendError(undefined, new ServiceError('invalid_message', 'message must be an object with v and type'));
    }
    const rawId = envelope.data.id;
    const re = typeof rawId === 'string' && rawId.length > 0 && rawId.length <= 64 ? rawId : undefined;
    if (envelope.data.v !== PROTOCOL_VERSION) {
      return this.sendError(re, new ServiceError('invalid_message', `unsupported protocol version (expected v: ${PROTOCOL_VERSION})`));
    }
    const type = envelope.data.type;
    if (!Object.hasOwn(clientMessageSchemas, type)) {
      return this.sendError(re, new ServiceError('unknown_type', `unknown message type ${JSON.stringify(type.slice(0, 64))}`));
    }
    const parsed = clientMessageSchemas[type as ClientMessageType].safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length ? issue.path.join('.') : 'message';
      return this.sendError(re, new ServiceError('invalid_message', `invalid ${field} in ${type}: ${issue.message}`));
    }
    const msg = parsed.data as ClientMessage;
    if (msg.type === 'ping') return this.send({ type: 'pong', ...reOf(msg.id) });
    this.queue = this.queue.then(() => this.handle(msg).catch((err) => this.sendError(msg.id, err)));
  }

  private onRateLimited(now: number): void {
    if (now - this.strikeWindowStart > RATE_STRIKE_WINDOW_MS) {
      this.strikeWindowStart = now;
      this.strikes = 0;
    }
    this.strikes++;
    this.sendError(undefined, new ServiceError('rate_limited', `more than ${this.limits.ratePerSecond} messages per second; message dropped`));
    if (this.strikes > this.limits.ratePerSecond) {
      this.log.warn({ strikes: this.strikes }, 'websocket client keeps exceeding the rate limit');
      this.closeOnly(CloseCodes.rateLimited, 'rate_limited');
    }
  }

  private async handle(msg: ClientMessage): Promise<void> {
    if (this.ended) return;
    const re = reOf(msg.id);
    if (msg.type === 'join') return this.join(re);
    if (msg.type === 'leave') {
      this.end('client_request');
      return;
    }
    const participant = this.participant;
    if (!participant) throw new InvalidStateError('send join first');
    switch (msg.type) {
      case 'publish': {
        const result = await this.room.publish(participant.id, msg.sdp);
        this.send({ type: 'published', ...re, sdp: result.answer, tracks: result.tracks.map((t) => toTrackInfo(t, this.room.isTrackMuted(t))) });
        return;
      }
      case 'unpublish':
        await this.room.unpublish(participant.id);
        this.send({ type: 'unpublished', ...re });
        return;
      case 'subscribe': {
        const offer = await this.room.subscribe(participant.id);
        this.send(toSubscriberOffer(offer, msg.id));
        return;
      }
      case 'subscriberAnswer':
        await this.room.answerSubscriber(participant.id, msg.version, msg.sdp);
        this.send({ type: 'ok', ...re });
        return;
      case 'unsubscribe':
        await this.room.unsubscribe(participant.id);
        this.send({ type: 'ok', ...re });
        return;
      case 'setLayers':
        await this.room.setSubscriberLayers(participant.id, msg.trackId, {
          spatialLayer: msg.spatialLayer,
          ...(msg.temporalLayer !== undefined ? { temporalLayer: msg.temporalLayer } : {}),
        });
        this.send({ type: 'ok', ...re });
        return;
      default:
        await this.moderate(participant, msg);
        this.send({ type: 'ok', ...re });
    }
  }

  /** Hands and moderation. The Room checks the participant's current role for each. */
  private async moderate(participant: Participant, msg: ClientMessage): Promise<void> {
    const actor = participant.id;
    switch (msg.type) {
      case 'raiseHand':
        this.room.raiseHand(actor);
        return;
      case 'lowerHand':
        this.room.lowerHand(msg.participantId ?? actor, actor);
        return;
      case 'promote':
        this.room.promote(msg.participantId, actor);
        return;
      case 'demote':
        await this.room.demote(msg.participantId, actor);
        return;
      case 'mute':
      case 'unmute':
        await this.room.setMuted(msg.participantId, msg.kind ? [msg.kind] : ['audio', 'video'], msg.type === 'mute', actor);
        return;
      case 'kick':
        await this.room.kick(msg.participantId, actor, msg.reason);
        return;
      case 'unblock':
        this.room.unblock(msg.identity, actor);
        return;
      case 'endBroadcast':
        this.room.assertMayModerate(actor);
        if (!this.services.endBroadcast) throw new ServiceError('unsupported', 'this server has no broadcast', 501);
        await this.services.endBroadcast(this.room.id);
        return;
      default:
        throw new InvalidStateError(`${msg.type} is not handled here`);
    }
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
    this.send({
      type: 'joined',
      ...re,
      participantId: participant.id,
      identity: participant.identity,
      role: participant.role,
      roomId: this.room.id,
      participants: this.room.listParticipants().map((p) => toParticipantInfo(p.summary())),
      tracks: this.room.tracks().map((t) => toTrackInfo(t, this.room.isTrackMuted(t))),
      iceServers: this.services.iceServers?.(participant.identity) ?? [],
      heartbeatMs: this.limits.heartbeatMs,
      revision: PROTOCOL_REVISION,
      ...(this.services.broadcastState ? { broadcast: this.services.broadcastState(this.room.id) } : {}),
      ...(this.isModerator ? { handQueue: this.room.handQueue().map(toHandInfo), blocks: this.room.blocks().map(toBlockInfo) } : {}),
      capabilities: { simulcast: this.room.capabilities.simulcast, activeSpeaker: this.room.capabilities.activeSpeaker },
      ...(this.room.activeSpeaker !== undefined ? { activeSpeaker: this.room.activeSpeaker } : {}),
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
    if (status >= 500 && body.error.code !== 'unsupported') this.log.error({ err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'signaling request failed');
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

function reOf(id: string | undefined): { re?: string } {
  return id ? { re: id } : {};
}

function byOf(actor: ActorId): { by?: string } {
  return actor ? { by: actor } : {};
}
