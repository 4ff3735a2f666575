import { InvalidStateError, ServiceError, UnsupportedError } from '../core/errors.ts';
import type { MediaEngine, PreferredLayers, PublishOptions, PublishResult } from '../engine/EngineTypes.ts';
import { assertSdpRules } from '../engine/sdpRules.ts';
import type { Participant } from './Participant.ts';
import { assertCan, can, type StageAction } from './permissions.ts';
import type { CloseReason, StageTrack, SubscriberOffer } from './StageTypes.ts';

type Leg = 'publisher' | 'subscriber';

/**
 * The engine calls a room makes for one participant's legs (publish, the two ways to
 * subscribe, their teardown), with the checks around them: the role, the strict SDP rules, and
 * the race every leg-making call has, the participant or the room going away (or, for a
 * publisher, the role) while the engine worked. Then the new leg is closed again rather than
 * left behind. The state stays the room's: the room hands in the participant it holds.
 */
export class ParticipantMedia {
  private readonly roomId: string;
  private readonly engine: MediaEngine;
  private readonly roomClosed: () => boolean;
  private readonly maxSdpMediaSections: number;

  constructor(roomId: string, engine: MediaEngine, roomClosed: () => boolean, maxSdpMediaSections: number) {
    this.roomId = roomId;
    this.engine = engine;
    this.roomClosed = roomClosed;
    this.maxSdpMediaSections = maxSdpMediaSections;
  }

  /** `invalid_sdp` naming the broken rule; an offer is held to the room's m-section limit. */
  checkClientSdp(sdp: string, kind: 'offer' | 'answer'): void {
    assertSdpRules(sdp, kind === 'offer' ? { maxMediaSections: this.maxSdpMediaSections } : {});
  }

  async publish(participant: Participant, offer: string, options?: PublishOptions): Promise<PublishResult> {
    assertCan(participant.role, 'publish');
    this.checkClientSdp(offer, 'offer');
    const result = await this.engine.publish(this.roomId, participant.id, offer, options);
    await this.keep(participant, 'publisher', 'publish');
    participant.publishing = true;
    return result;
  }

  async unpublish(participant: Participant, reason: CloseReason): Promise<void> {
    participant.publishing = false;
    await this.engine.closePublisher(this.roomId, participant.id, reason);
  }

  async subscribe(participant: Participant): Promise<SubscriberOffer> {
    assertCan(participant.role, 'subscribe');
    const offer = await this.engine.subscribe(this.roomId, participant.id);
    await this.keep(participant, 'subscriber');
    participant.subscribed = true;
    return offer;
  }

  /** Client-offer (WHEP) subscribe: the answer carries the stage's current audio and video. */
  async subscribeWithOffer(participant: Participant, offer: string): Promise<{ answer: string; tracks: StageTrack[] }> {
    assertCan(participant.role, 'whep');
    this.checkClientSdp(offer, 'offer');
    const result = await this.engine.subscribeWithOffer(this.roomId, participant.id, offer);
    await this.keep(participant, 'subscriber');
    participant.subscribed = true;
    return result;
  }

  async answerSubscriber(participant: Participant, version: number, answer: string): Promise<void> {
    if (!participant.subscribed) throw new InvalidStateError('not subscribed');
    this.checkClientSdp(answer, 'answer');
    await this.engine.answerSubscriber(this.roomId, participant.id, version, answer);
  }

  async unsubscribe(participant: Participant, reason: CloseReason): Promise<void> {
    participant.subscribed = false;
    await this.engine.closeSubscriber(this.roomId, participant.id, reason);
  }

  /** `unsupported` without simulcast, `invalid_state` when not subscribed, `not_found` for a track that is not live. */
  async setSubscriberLayers(participant: Participant, track: StageTrack | undefined, trackId: string, layers: PreferredLayers): Promise<void> {
    if (!this.engine.capabilities.simulcast) throw new UnsupportedError('the media engine has no simulcast layers to choose from');
    if (!participant.subscribed) throw new InvalidStateError('not subscribed');
    if (!track) throw new ServiceError('not_found', `no track ${trackId} on the stage`);
    await this.engine.setSubscriberLayers(this.roomId, participant.id, trackId, layers);
  }

  /**
   * After an engine call made a leg: if the participant or the room went away meanwhile, or the
   * participant lost the role `action` needs, the leg is closed again and the call fails.
   */
  private async keep(participant: Participant, leg: Leg, action?: StageAction): Promise<void> {
    if (participant.closed || this.roomClosed()) {
      await this.closeLeg(participant, leg, participant.closeReason ?? 'room_closed');
      throw new InvalidStateError(`participant left while ${leg === 'publisher' ? 'publishing' : 'subscribing'}`);
    }
    if (action && !can(participant.role, action)) {
      await this.closeLeg(participant, leg, 'client_request');
      throw new ServiceError('forbidden', `role ${participant.role} may not ${action}`);
    }
  }

  private async closeLeg(participant: Participant, leg: Leg, reason: CloseReason): Promise<void> {
    const close = leg === 'publisher' ? this.engine.closePublisher(this.roomId, participant.id, reason) : this.engine.closeSubscriber(this.roomId, participant.id, reason);
    await close.catch(() => {});
  }
}
