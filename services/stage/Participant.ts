import { randomBytes } from 'node:crypto';
import { EnhancedEventEmitter } from '../core/EnhancedEventEmitter.ts';
import type {
  CloseReason,
  MediaKind,
  ParticipantEvents,
  ParticipantOptions,
  ParticipantSummary,
  ParticipantTransport,
  Role,
  StageRole,
} from './StageTypes.ts';

/** What a participant reads from its room, which is the one store of roles and hands. */
export interface ParticipantState {
  roleOf(identity: string, tokenRole: Role): StageRole;
  handRaised(participantId: string): boolean;
}

/**
 * One member of a room: a WebSocket session, a WHIP publisher or a WHEP viewer. Its `id` is
 * also its engine peer id, so its publisher and subscriber legs are found by it. The Room owns
 * the engine calls and every change of role, hand or mute, and keeps roles (per identity) and
 * hands itself: a Participant reads them from its room, holds only its own leg and mute state,
 * and tells its owner (the signaling session or the HTTP handler) what happened to it.
 */
export class Participant extends EnhancedEventEmitter<ParticipantEvents> {
  readonly id: string;
  readonly identity: string;
  /** The role its token admitted it with. */
  readonly tokenRole: Role;
  readonly transport: ParticipantTransport;
  readonly joinedAt = new Date();
  /** It has a live publisher leg. */
  publishing = false;
  /** It has a subscriber leg (engine-offer or WHEP). */
  subscribed = false;
  /** @internal Kept by the Room: kinds a moderator muted. */
  readonly muted = new Set<MediaKind>();
  private readonly state: ParticipantState;
  private closedReason: CloseReason | undefined;

  constructor(opts: ParticipantOptions, state: ParticipantState) {
    super();
    this.id = `${opts.transport === 'signaling' ? 'p' : opts.transport}_${randomBytes(9).toString('base64url')}`;
    this.identity = opts.identity;
    this.tokenRole = opts.role;
    this.transport = opts.transport;
    this.state = state;
  }

  /** The current role (its room's grant for its identity, else its token's); every permission is checked against it. */
  get role(): StageRole {
    return this.state.roleOf(this.identity, this.tokenRole);
  }

  /** Its hand is in the room's queue. */
  get handRaised(): boolean {
    return !this.closed && this.state.handRaised(this.id);
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  get closeReason(): CloseReason | undefined {
    return this.closedReason;
  }

  summary(): ParticipantSummary {
    return {
      participantId: this.id,
      identity: this.identity,
      role: this.role,
      transport: this.transport,
      publishing: this.publishing,
      handRaised: this.handRaised,
      muted: [...this.muted].sort(),
    };
  }

  /** Marks it gone and tells listeners once. Called by the Room; engine legs are the Room's job. */
  markClosed(reason: CloseReason): boolean {
    if (this.closedReason !== undefined) return false;
    this.closedReason = reason;
    this.publishing = false;
    this.subscribed = false;
    this.safeEmit('close', reason);
    this.removeAllListeners();
    return true;
  }
}
