import { EnhancedEventEmitter } from '../core/EnhancedEventEmitter.ts';
import { InvalidStateError, ServiceError } from '../core/errors.ts';
import { logger } from '../core/logger.ts';
import type { MediaEngine, PublishResult } from '../engine/EngineTypes.ts';
import { Participant } from './Participant.ts';
import { assertCan } from './permissions.ts';
import type { CloseReason, ParticipantOptions, RoomEvents, RoomSummary, StageTrack, SubscriberOffer } from './StageTypes.ts';

const log = logger.child({ mod: 'stage' });

/**
 * A stage: its participants, who publishes, and the live tracks. It is the only caller of the
 * engine for its room, and it checks every permission before calling. It knows nothing about
 * HTTP or WebSockets: its callers (signaling sessions, WHIP/WHEP handlers) hold a Participant
 * and listen to it and to the room's events.
 *
 * `close(reason)` is idempotent and cascades: every participant gets `close` with the reason,
 * then the engine closes the room and all its legs.
 */
export class Room extends EnhancedEventEmitter<RoomEvents> {
  readonly id: string;
  readonly createdAt = new Date();
  private readonly engine: MediaEngine;
  private readonly participants = new Map<string, Participant>();
  private readonly liveTracks = new Map<string, StageTrack>();
  private closedReason: CloseReason | undefined;

  constructor(id: string, engine: MediaEngine) {
    super();
    this.id = id;
    this.engine = engine;
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  summary(): RoomSummary {
    return { id: this.id, createdAt: this.createdAt.toISOString(), participants: this.participants.size, tracks: this.liveTracks.size };
  }

  listParticipants(): Participant[] {
    return [...this.participants.values()];
  }

  tracks(): StageTrack[] {
    return [...this.liveTracks.values()];
  }

  getParticipant(participantId: string): Participant | undefined {
    return this.participants.get(participantId);
  }

  join(opts: ParticipantOptions): Participant {
    this.assertOpen();
    const participant = new Participant(opts);
    this.participants.set(participant.id, participant);
    log.info({ room: this.id, participant: participant.id, identity: participant.identity, role: participant.role, via: participant.transport }, 'participant joined');
    this.safeEmit('participantjoined', participant.summary());
    return participant;
  }

  /** Removes a participant and closes its engine legs. Idempotent. */
  async leave(participantId: string, reason: CloseReason): Promise<void> {
    const participant = this.participants.get(participantId);
    if (!participant) return;
    this.participants.delete(participantId);
    const summary = participant.summary();
    participant.markClosed(reason);
    log.info({ room: this.id, participant: participantId, reason }, 'participant left');
    this.safeEmit('participantleft', summary, reason);
    // Close both legs even when our flags say none: a publish may have been in flight.
    await Promise.all([
      this.engine.closePublisher(this.id, participantId, reason).catch((err) => logEngineError('closePublisher', err)),
      this.engine.closeSubscriber(this.id, participantId, reason).catch((err) => logEngineError('closeSubscriber', err)),
    ]);
  }

  /** Client-offer publish (browser studio or WHIP). */
  async publish(participantId: string, offer: string): Promise<PublishResult> {
    const participant = this.requireParticipant(participantId);
    assertCan(participant.role, 'publish');
    const result = await this.engine.publish(this.id, participantId, offer);
    if (participant.closed || this.closed) {
      // It left while the engine worked: do not leave a leg behind.
      await this.engine.closePublisher(this.id, participantId, participant.closeReason ?? 'room_closed').catch(() => {});
      throw new InvalidStateError('participant left while publishing');
    }
    participant.publishing = true;
    return result;
  }

  async unpublish(participantId: string, reason: CloseReason = 'client_request'): Promise<void> {
    const participant = this.requireParticipant(participantId);
    participant.publishing = false;
    await this.engine.closePublisher(this.id, participantId, reason);
  }

  /** Engine-offer subscribe that follows the stage; later offers arrive as participant `subscriberoffer`. */
  async subscribe(participantId: string): Promise<SubscriberOffer> {
    const participant = this.requireParticipant(participantId);
    assertCan(participant.role, 'subscribe');
    const offer = await this.engine.subscribe(this.id, participantId);
    if (participant.closed || this.closed) {
      await this.engine.closeSubscriber(this.id, participantId, participant.closeReason ?? 'room_closed').catch(() => {});
      throw new InvalidStateError('participant left while subscribing');
    }
    participant.subscribed = true;
    return offer;
  }

  async answerSubscriber(participantId: string, version: number, answer: string): Promise<void> {
    const participant = this.requireParticipant(participantId);
    if (!participant.subscribed) throw new InvalidStateError('not subscribed');
    await this.engine.answerSubscriber(this.id, participantId, version, answer);
  }

  async unsubscribe(participantId: string, reason: CloseReason = 'client_request'): Promise<void> {
    const participant = this.requireParticipant(participantId);
    participant.subscribed = false;
    await this.engine.closeSubscriber(this.id, participantId, reason);
  }

  /** Client-offer (WHEP) subscribe: the answer carries the stage's current audio and video. */
  async subscribeWithOffer(participantId: string, offer: string): Promise<{ answer: string; tracks: StageTrack[] }> {
    const participant = this.requireParticipant(participantId);
    assertCan(participant.role, 'whep');
    const result = await this.engine.subscribeWithOffer(this.id, participantId, offer);
    if (participant.closed || this.closed) {
      await this.engine.closeSubscriber(this.id, participantId, participant.closeReason ?? 'room_closed').catch(() => {});
      throw new InvalidStateError('participant left while subscribing');
    }
    participant.subscribed = true;
    return result;
  }

  /** Idempotent. Every participant learns `reason`; then the engine closes the room's legs. */
  async close(reason: CloseReason): Promise<void> {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    const participants = [...this.participants.values()];
    this.participants.clear();
    for (const participant of participants) participant.markClosed(reason);
    this.liveTracks.clear();
    log.info({ room: this.id, reason, participants: participants.length }, 'room closed');
    await this.engine.closeRoom(this.id, reason).catch((err) => logEngineError('closeRoom', err));
    this.safeEmit('close', reason);
    this.removeAllListeners();
  }

  // ---- engine events, routed here by the RoomRegistry ------------------------------------

  /** @internal */
  handleSubscriberOffer(peerId: string, offer: SubscriberOffer): void {
    const participant = this.participants.get(peerId);
    if (participant?.subscribed) participant.safeEmit('subscriberoffer', offer);
  }

  /** @internal */
  handleTrackPublished(track: StageTrack): void {
    if (this.closed) return;
    this.liveTracks.set(track.trackId, track);
    this.safeEmit('trackpublished', track);
  }

  /** @internal */
  handleTrackUnpublished(track: StageTrack): void {
    if (this.closed || !this.liveTracks.delete(track.trackId)) return;
    this.safeEmit('trackunpublished', track);
  }

  /** @internal */
  handleLegClosed(peerId: string, leg: 'publisher' | 'subscriber', reason: CloseReason): void {
    const participant = this.participants.get(peerId);
    if (!participant) return;
    // A replaced leg already has its successor; the participant's state is the new leg's.
    if (reason === 'replaced') return;
    if (leg === 'publisher') participant.publishing = false;
    else participant.subscribed = false;
    participant.safeEmit('legclosed', leg, reason);
    // A WHIP or WHEP participant is its one leg: when the leg goes, so does the participant.
    if (participant.transport !== 'signaling') void this.leave(peerId, reason);
  }

  private requireParticipant(participantId: string): Participant {
    this.assertOpen();
    const participant = this.participants.get(participantId);
    if (!participant) throw new ServiceError('not_found', 'participant is not in the room');
    return participant;
  }

  private assertOpen(): void {
    if (this.closedReason !== undefined) throw new InvalidStateError('room is closed');
  }
}

function logEngineError(op: string, err: unknown): void {
  log.warn({ op, err: err instanceof Error ? err.message : String(err) }, 'engine call failed during teardown');
}
