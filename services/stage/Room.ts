import { CONFIG_DEFAULTS, DEFAULT_SDP_MAX_MEDIA_SECTIONS } from '../core/config.ts';
import { EnhancedEventEmitter } from '../core/EnhancedEventEmitter.ts';
import { InvalidStateError, ServiceError } from '../core/errors.ts';
import { logger } from '../core/logger.ts';
import type { EngineCapabilities, MediaEngine, PreferredLayers, PublishOptions, PublishResult } from '../engine/EngineTypes.ts';
import { AudienceTicker, countAudience } from './Audience.ts';
import { BlockList } from './BlockList.ts';
import { Chat } from './Chat.ts';
import { HandQueue } from './HandQueue.ts';
import { Participant, type ParticipantState } from './Participant.ts';
import { ParticipantMedia } from './ParticipantMedia.ts';
import { assertCan } from './permissions.ts';
import { RoleGrants } from './RoleGrants.ts';
import type {
  ActorId,
  AudienceCounts,
  BlockEntry,
  CloseReason,
  HandEntry,
  MediaKind,
  ParticipantOptions,
  ParticipantSummary,
  RoleGrant,
  RoomEvents,
  RoomOptions,
  RoomSummary,
  StageTrack,
  SubscriberOffer,
} from './StageTypes.ts';

const log = logger.child({ mod: 'stage' });

/**
 * A stage: its participants, who publishes, and the live tracks. It is the only caller of the
 * engine for its room, and it checks every permission before calling. It knows nothing about
 * HTTP or WebSockets: its callers (signaling sessions, WHIP/WHEP handlers) hold a Participant
 * and listen to it and to the room's events.
 *
 * It is the one store of the stage's state: participants, roles (granted per identity, see
 * RoleGrants), hands, blocks and live tracks. The engine is the source of truth for media; the
 * room mirrors its tracks once, and everything else (broadcast, webhooks, metrics) follows the
 * room through `observer` instead of keeping copies.
 *
 * Moderation lives here too, because it changes who may call the engine: the hand queue,
 * promote/demote (a role change takes effect on the next request, with no reconnect), mute
 * (the engine pauses the track), kick and the block list. Actions that name an actor check
 * that the actor is a moderator now; `undefined` as actor is the HTTP API (its key is trusted).
 *
 * Events go to the room's own listeners (the signaling sessions that own its participants)
 * and, the same events, to `observer`, for code that only watches (mediasoup's split).
 *
 * `close(reason)` is idempotent and cascades: every participant gets `close` with the reason,
 * then the engine closes the room and all its legs.
 */
export class Room extends EnhancedEventEmitter<RoomEvents> {
  private activeSpeakerId: string | undefined;
  readonly id: string;
  readonly createdAt = new Date();
  private readonly engine: MediaEngine;
  private readonly participants = new Map<string, Participant>();
  private readonly liveTracks = new Map<string, StageTrack>();
  private readonly hands = new HandQueue();
  private readonly blockList = new BlockList();
  private readonly grants: RoleGrants;
  private readonly participantState: ParticipantState;
  private readonly media: ParticipantMedia;
  private readonly maxSessionsPerIdentity: number;
  private closedReason: CloseReason | undefined;
  /** The room's events, for monitoring code (broadcast, webhooks, metrics). Emits `close` last. */
  readonly observer = new EnhancedEventEmitter<RoomEvents>();
  /** The room's chat (services/stage/Chat.ts); what it accepts, the room announces. */
  readonly chat: Chat;
  private readonly audienceTicker: AudienceTicker;

  constructor(id: string, engine: MediaEngine, opts: RoomOptions) {
    super();
    this.id = id;
    this.engine = engine;
    this.grants = new RoleGrants(opts.roleGraceMs, (identity, grant) => this.announce('grantchanged', identity, grant));
    this.media = new ParticipantMedia(id, engine, () => this.closed, opts.maxSdpMediaSections ?? DEFAULT_SDP_MAX_MEDIA_SECTIONS);
    this.maxSessionsPerIdentity = opts.maxSessionsPerIdentity ?? CONFIG_DEFAULTS.STAGE_MAX_SESSIONS_PER_IDENTITY;
    this.participantState = {
      roleOf: (identity, tokenRole) => this.grants.roleOf(identity, tokenRole),
      handRaised: (participantId) => this.hands.has(participantId),
    };
    const members = { author: (id: string) => this.requireParticipant(id).summary(), assertMayModerate: (a: ActorId) => this.assertMayModerate(a) };
    this.chat = new Chat(members, (event, ...args) => this.announce(event, ...args), opts.chat);
    this.audienceTicker = new AudienceTicker(() => this.audience(), (counts) => this.announce('audiencechanged', counts), opts.audienceIntervalMs);
    for (const event of ['participantjoined', 'participantleft', 'rolechanged'] as const) this.observer.on(event, () => this.audienceTicker.poke());
  }

  /** Participants (signaling, WHIP and WHEP connections) by current role. */
  audience(): AudienceCounts {
    return countAudience(this.listParticipants().map((p) => p.role));
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** What the engine behind this room can do (simulcast, active speaker detection). */
  get capabilities(): EngineCapabilities {
    return this.engine.capabilities;
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
    if (this.blockList.has(opts.identity)) throw new ServiceError('forbidden', 'identity is blocked in this room');
    this.assertSessionAvailable(opts.identity);
    const participant = new Participant(opts, this.participantState);
    this.participants.set(participant.id, participant);
    this.grants.resume(participant.identity);
    log.info({ room: this.id, participant: participant.id, identity: participant.identity, role: participant.role, via: participant.transport }, 'participant joined');
    this.announce('participantjoined', participant.summary());
    return participant;
  }

  /**
   * Throws `too_many_sessions` (429) when `identity` already holds the room's limit of
   * connections, counting `pending` more that are not participants yet (signaling sockets
   * opened but not joined).
   */
  assertSessionAvailable(identity: string, pending = 0): void {
    if (this.connectionsOf(identity).length + pending >= this.maxSessionsPerIdentity) {
      throw new ServiceError('too_many_sessions', `identity already has ${this.maxSessionsPerIdentity} sessions in this room`);
    }
  }

  /** Removes a participant and closes its engine legs. Idempotent. */
  async leave(participantId: string, reason: CloseReason): Promise<void> {
    const participant = this.participants.get(participantId);
    if (!participant) return;
    this.participants.delete(participantId);
    const summary = participant.summary();
    participant.markClosed(reason);
    log.info({ room: this.id, participant: participantId, reason }, 'participant left');
    if (this.connectionsOf(participant.identity).length === 0) this.grants.lapse(participant.identity);
    if (this.hands.lower(participantId)) this.announce('handlowered', participantId, 'left', this.hands.list(), undefined);
    this.announce('participantleft', summary, reason);
    // Close both legs even when our flags say none: a publish may have been in flight.
    await Promise.all([
      this.engine.closePublisher(this.id, participantId, reason).catch((err) => logEngineError('closePublisher', err)),
      this.engine.closeSubscriber(this.id, participantId, reason).catch((err) => logEngineError('closeSubscriber', err)),
    ]);
  }

  /**
   * The strict SDP check (`assertSdpRules`) that every client SDP passes before the engine sees
   * it: `invalid_sdp` naming the broken rule. An offer is held to the room's m-section limit; an
   * answer mirrors the engine's own offer and is not. Callers that create state for an SDP (a
   * WHIP/WHEP participant) run it first themselves.
   */
  checkClientSdp(sdp: string, kind: 'offer' | 'answer'): void {
    this.media.checkClientSdp(sdp, kind);
  }

  /** Client-offer publish (browser studio or WHIP); `options.sources` labels a screen share. */
  async publish(participantId: string, offer: string, options?: PublishOptions): Promise<PublishResult> {
    return this.media.publish(this.requireParticipant(participantId), offer, options);
  }

  async unpublish(participantId: string, reason: CloseReason = 'client_request'): Promise<void> {
    await this.media.unpublish(this.requireParticipant(participantId), reason);
  }

  /** Engine-offer subscribe that follows the stage; later offers arrive as participant `subscriberoffer`. */
  async subscribe(participantId: string): Promise<SubscriberOffer> {
    return this.media.subscribe(this.requireParticipant(participantId));
  }

  async answerSubscriber(participantId: string, version: number, answer: string): Promise<void> {
    await this.media.answerSubscriber(this.requireParticipant(participantId), version, answer);
  }

  async unsubscribe(participantId: string, reason: CloseReason = 'client_request'): Promise<void> {
    await this.media.unsubscribe(this.requireParticipant(participantId), reason);
  }

  /** Chooses which simulcast layer of the stage track `trackId` the participant's subscriber leg receives. */
  async setSubscriberLayers(participantId: string, trackId: string, layers: PreferredLayers): Promise<void> {
    await this.media.setSubscriberLayers(this.requireParticipant(participantId), this.liveTracks.get(trackId), trackId, layers);
  }

  /** Client-offer (WHEP) subscribe: the answer carries the stage's current audio and video. */
  async subscribeWithOffer(participantId: string, offer: string): Promise<{ answer: string; tracks: StageTrack[] }> {
    return this.media.subscribeWithOffer(this.requireParticipant(participantId), offer);
  }

  /** Idempotent. Every participant learns `reason`; then the engine closes the room's legs. */
  async close(reason: CloseReason): Promise<void> {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    this.audienceTicker.close();
    const participants = [...this.participants.values()];
    this.participants.clear();
    this.hands.clear();
    this.grants.clear();
    for (const participant of participants) participant.markClosed(reason);
    this.liveTracks.clear();
    log.info({ room: this.id, reason, participants: participants.length }, 'room closed');
    await this.engine.closeRoom(this.id, reason).catch((err) => logEngineError('closeRoom', err));
    this.announce('close', reason);
    this.removeAllListeners();
    this.observer.removeAllListeners();
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
    // A muted kind stays muted when its publisher publishes again.
    if (this.isTrackMuted(track)) void this.pauseTrack(track.trackId, true);
    this.announce('trackpublished', track);
  }

  /** @internal */
  handleActiveSpeaker(peerId: string): void {
    if (this.closed || !this.participants.has(peerId) || this.activeSpeakerId === peerId) return;
    this.activeSpeakerId = peerId;
    this.announce('activespeaker', peerId);
  }

  /** The participant the engine last named as the dominant speaker, if the engine detects speakers. */
  get activeSpeaker(): string | undefined {
    return this.activeSpeakerId !== undefined && this.participants.has(this.activeSpeakerId) ? this.activeSpeakerId : undefined;
  }

  /** @internal */
  handleTrackUnpublished(track: StageTrack, reason: CloseReason): void {
    if (this.closed || !this.liveTracks.delete(track.trackId)) return;
    this.announce('trackunpublished', track, reason);
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

  // ---- roles and moderation ----------------------------------------------------------------

  /** Raised hands, oldest first. */
  handQueue(): HandEntry[] {
    return this.hands.list();
  }

  blocks(): BlockEntry[] {
    return this.blockList.list();
  }

  isBlocked(identity: string): boolean {
    return this.blockList.has(identity);
  }

  /** A moderator muted this track's kind for its publisher (the engine pauses it). */
  isTrackMuted(track: StageTrack): boolean {
    return this.participants.get(track.peerId)?.muted.has(track.kind) ?? false;
  }

  /** Throws `forbidden` unless `actor` is the API (undefined) or a participant that is a moderator now. */
  assertMayModerate(actor: ActorId): void {
    if (actor === undefined) return;
    assertCan(this.requireParticipant(actor).role, 'moderate');
  }

  /** A viewer asks to come on stage. Raising again keeps its place. Returns the queue. */
  raiseHand(participantId: string): HandEntry[] {
    const participant = this.requireParticipant(participantId);
    assertCan(participant.role, 'raiseHand');
    if (this.hands.raise(participant.id, participant.identity)) {
      this.announce('handraised', this.hands.get(participant.id)!, this.hands.list());
    }
    return this.hands.list();
  }

  /** Lowers a hand: its owner, or a moderator (`actor`) for anyone's. Idempotent. */
  lowerHand(participantId: string, actor: ActorId): HandEntry[] {
    if (actor !== participantId) this.assertMayModerate(actor);
    const participant = this.requireParticipant(participantId);
    if (this.hands.lower(participant.id)) {
      this.announce('handlowered', participant.id, actor === participantId ? 'self' : 'moderator', this.hands.list(), actor);
    }
    return this.hands.list();
  }

  /**
   * Brings a viewer onto the stage as `guest`: it may publish from its next request on. The
   * grant is its identity's, so its other connections, and a connection that replaces a
   * dropped one, are guests too.
   */
  promote(participantId: string, actor: ActorId): ParticipantSummary {
    this.assertMayModerate(actor);
    const participant = this.requireParticipant(participantId);
    if (participant.role !== 'viewer') throw new InvalidStateError(`only a viewer can be promoted (role is ${participant.role})`);
    this.grants.grant(participant.identity, 'guest');
    log.info({ room: this.id, participant: participant.id, identity: participant.identity, by: actor ?? 'api' }, 'participant promoted to guest');
    for (const connection of this.connectionsOf(participant.identity)) {
      if (connection.role !== 'guest') continue;
      if (this.hands.lower(connection.id)) this.announce('handlowered', connection.id, 'promoted', this.hands.list(), actor);
      this.announce('rolechanged', connection.summary(), 'viewer', actor);
    }
    return participant.summary();
  }

  /**
   * Sends a guest back to the audience: role `viewer`, and its publisher leg is closed (its
   * tracks leave the stage). Its subscriber leg stays, so its client can keep the stage view
   * until the broadcast plays again, then unsubscribe.
   */
  async demote(participantId: string, actor: ActorId): Promise<ParticipantSummary> {
    this.assertMayModerate(actor);
    return this.backToAudience(participantId, actor, 'guest demoted to viewer');
  }

  /**
   * A guest steps down on its own: it declined the promotion's prompt, or leaves the stage it
   * accepted. The same as a demote by itself (`by` is its own id).
   */
  async leaveStage(participantId: string): Promise<ParticipantSummary> {
    return this.backToAudience(participantId, participantId, 'guest left the stage');
  }

  private async backToAudience(participantId: string, actor: ActorId, what: string): Promise<ParticipantSummary> {
    const participant = this.requireParticipant(participantId);
    if (participant.role !== 'guest') throw new InvalidStateError(`only a guest can go back to the audience (role is ${participant.role})`);
    const connections = this.connectionsOf(participant.identity).filter((c) => c.role === 'guest');
    this.grants.revoke(participant.identity);
    log.info({ room: this.id, participant: participant.id, identity: participant.identity, by: actor ?? 'api' }, what);
    await Promise.all(connections.map((connection) => this.stopPublishingAsViewer(connection, actor)));
    return participant.summary();
  }

  private async stopPublishingAsViewer(participant: Participant, actor: ActorId): Promise<void> {
    this.announce('rolechanged', participant.summary(), 'guest', actor);
    const wasPublishing = participant.publishing;
    participant.publishing = false;
    // Closed even when our flag says no leg: a publish may be in flight (publish() re-checks the role too).
    await this.engine.closePublisher(this.id, participant.id, 'client_request').catch((err) => logEngineError('closePublisher', err));
    if (wasPublishing && !participant.closed) participant.safeEmit('legclosed', 'publisher', 'client_request');
  }

  /** Mutes (pauses on the server) or unmutes a participant's audio and/or video, now and when it publishes again. */
  async setMuted(participantId: string, kinds: MediaKind[], muted: boolean, actor: ActorId): Promise<ParticipantSummary> {
    this.assertMayModerate(actor);
    const participant = this.requireParticipant(participantId);
    for (const kind of kinds) {
      if (participant.muted.has(kind) === muted) continue;
      if (muted) participant.muted.add(kind);
      else participant.muted.delete(kind);
      const track = this.tracks().find((t) => t.peerId === participant.id && t.kind === kind);
      if (track) await this.pauseTrack(track.trackId, muted);
      log.info({ room: this.id, participant: participant.id, kind, muted, by: actor ?? 'api' }, 'mute changed');
      this.announce('mutechanged', participant.id, kind, muted, track, actor);
    }
    return participant.summary();
  }

  /**
   * Removes a participant (close reason `kicked`) and blocks its identity in this room, which
   * also removes every other connection of that identity (WHIP, WHEP, a second tab).
   */
  async kick(participantId: string, actor: ActorId, reason?: string): Promise<ParticipantSummary> {
    this.assertMayModerate(actor);
    const participant = this.requireParticipant(participantId);
    if (participant.id === actor || participant.identity === this.identityOf(actor)) {
      throw new ServiceError('bad_request', 'a moderator cannot kick itself');
    }
    const summary = participant.summary();
    log.info({ room: this.id, participant: participant.id, identity: participant.identity, by: actor ?? 'api' }, 'participant kicked');
    this.announce('participantkicked', summary, reason, actor);
    await this.block(participant.identity, actor, reason);
    return summary;
  }

  /** Refuses `identity` in this room until unblocked, and removes its connections (reason `kicked`). */
  async block(identity: string, actor: ActorId, reason?: string): Promise<BlockEntry> {
    this.assertMayModerate(actor);
    if (identity === this.identityOf(actor)) throw new ServiceError('bad_request', 'a moderator cannot block itself');
    const known = this.blockList.has(identity);
    const entry = this.blockList.add(identity, actor, reason);
    this.grants.revoke(identity);
    if (!known) this.announce('identityblocked', entry);
    const targets = this.connectionsOf(identity);
    await Promise.all(targets.map((p) => this.leave(p.id, 'kicked')));
    return entry;
  }

  /**
   * Takes over the blocks this room had on the node it came from (cluster failover), before
   * anyone joins here. Nothing is announced: the blocks are not new.
   */
  restoreBlocks(entries: BlockEntry[]): void {
    for (const entry of entries) this.blockList.restore(entry);
  }

  /** Promotions per identity, with their deadline while lapsing (RoleGrants). */
  roleGrants(): RoleGrant[] {
    return this.grants.list();
  }

  /**
   * Takes over the promotions this room had on the node it came from (cluster failover), before
   * anyone joins here: each lapses unless its identity comes back within the grace (see
   * RoleGrants.restore; a new deadline is announced as `grantchanged`, nothing else).
   */
  restoreGrants(grants: RoleGrant[]): void {
    for (const grant of grants) this.grants.restore(grant);
  }

  /** Lets `identity` join again. Throws `not_found` if it was not blocked. */
  unblock(identity: string, actor: ActorId): void {
    this.assertMayModerate(actor);
    if (!this.blockList.remove(identity)) throw new ServiceError('not_found', 'identity is not blocked');
    log.info({ room: this.id, identity, by: actor ?? 'api' }, 'identity unblocked');
    this.announce('identityunblocked', identity, actor);
  }

  /** Every connection (signaling, WHIP, WHEP) of one identity. */
  private connectionsOf(identity: string): Participant[] {
    return this.listParticipants().filter((p) => p.identity === identity);
  }

  /** To the room's listeners, then to its observer. */
  private announce<K extends keyof RoomEvents & string>(event: K, ...args: RoomEvents[K]): void {
    this.safeEmit(event, ...args);
    this.observer.safeEmit(event, ...args);
  }

  private identityOf(actor: ActorId): string | undefined {
    return actor === undefined ? undefined : this.participants.get(actor)?.identity;
  }

  private async pauseTrack(trackId: string, paused: boolean): Promise<void> {
    await this.engine.setTrackPaused(this.id, trackId, paused).catch((err) => logEngineError('setTrackPaused', err));
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
