import { randomBytes } from 'node:crypto';
import { EnhancedEventEmitter } from '../core/EnhancedEventEmitter.ts';
import type { CloseReason, ParticipantEvents, ParticipantOptions, ParticipantSummary, ParticipantTransport, Role } from './StageTypes.ts';

/**
 * One member of a room: a WebSocket session, a WHIP publisher or a WHEP viewer. Its `id` is
 * also its engine peer id, so its publisher and subscriber legs are found by it. The Room owns
 * the engine calls; a Participant only holds state and tells its owner (the signaling session
 * or the HTTP handler) what happened to it.
 */
export class Participant extends EnhancedEventEmitter<ParticipantEvents> {
  readonly id: string;
  readonly identity: string;
  readonly role: Role;
  readonly transport: ParticipantTransport;
  readonly joinedAt = new Date();
  /** It has a live publisher leg. */
  publishing = false;
  /** It has a subscriber leg (engine-offer or WHEP). */
  subscribed = false;
  private closedReason: CloseReason | undefined;

  constructor(opts: ParticipantOptions) {
    super();
    this.id = `${opts.transport === 'signaling' ? 'p' : opts.transport}_${randomBytes(9).toString('base64url')}`;
    this.identity = opts.identity;
    this.role = opts.role;
    this.transport = opts.transport;
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  get closeReason(): CloseReason | undefined {
    return this.closedReason;
  }

  summary(): ParticipantSummary {
    return { participantId: this.id, identity: this.identity, role: this.role, transport: this.transport, publishing: this.publishing };
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
