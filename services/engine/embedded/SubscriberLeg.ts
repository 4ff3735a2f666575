import { RTCPeerConnection, type RTCRtpTransceiver } from 'werift';
import { EnhancedEventEmitter } from '../../core/EnhancedEventEmitter.ts';
import { InvalidSdpError, InvalidStateError } from '../../core/errors.ts';
import { logger } from '../../core/logger.ts';
import type { CloseReason, EngineOptions, StageTrack, SubscriberOffer } from '../EngineTypes.ts';
import { inspectSdp } from '../sdp.ts';
import { gatheringComplete } from './gather.ts';
import { iceConnectDeadline } from './iceDeadline.ts';
import { PeerLifetime } from './peerLifetime.ts';
import { peerConfig, restrictCandidates } from './peerConfig.ts';
import type { TrackRelay } from './TrackRelay.ts';

const log = logger.child({ mod: 'engine.subscriber' });

export type SubscriberLegEvents = {
  /** A new offer for the client (the stage changed). */
  offer: [SubscriberOffer];
  close: [CloseReason];
};

interface Slot {
  relay: TrackRelay;
  transceiver: RTCRtpTransceiver;
}

/**
 * One receiving client. Two modes:
 * - engine-offer (`offer()`): follows the stage; every change produces a new offer, one at a
 *   time (a change while an offer is outstanding is folded into the next one). A data channel
 *   is always negotiated so ICE and DTLS come up before the first stage track exists and later
 *   tracks only need a renegotiation.
 * - client-offer (`answerOffer()`, WHEP): fills each offered audio/video m-line with one stage
 *   track of that kind, once.
 */
export class SubscriberLeg extends EnhancedEventEmitter<SubscriberLegEvents> {
  readonly peerId: string;
  private readonly pc: RTCPeerConnection;
  private readonly opts: EngineOptions;
  private readonly slots = new Map<string, Slot>();
  private version = 0;
  private awaitingAnswer = false;
  private dirty = false;
  private negotiating: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly life: PeerLifetime;
  private readonly cancelIceDeadline: () => void;

  constructor(peerId: string, opts: EngineOptions) {
    super();
    this.peerId = peerId;
    this.opts = opts;
    this.pc = new RTCPeerConnection(peerConfig(opts));
    this.life = new PeerLifetime(this.pc, `subscriber ${peerId}`);
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === 'failed' || state === 'closed') this.close('transport_failed');
    });
    this.cancelIceDeadline = iceConnectDeadline(this.pc, opts, { peerId, leg: 'subscriber' }, () => this.close('ice_timeout'));
  }

  get trackIds(): string[] {
    return [...this.slots.keys()];
  }

  /**
   * Engine-offer mode: the first offer, carrying `relays`. It goes through the same queue as
   * later offers, so that a track added meanwhile is offered after it, not alongside it.
   */
  async offer(relays: TrackRelay[]): Promise<SubscriberOffer> {
    this.pc.createDataChannel('stage');
    for (const relay of relays) this.attach(relay);
    const first = this.negotiating.then(() => this.makeOffer());
    this.negotiating = first.then(
      () => {},
      () => {},
    );
    return first;
  }

  /** Adds a stage track and renegotiates. */
  addRelay(relay: TrackRelay): void {
    if (this.closed || this.slots.has(relay.info.trackId)) return;
    this.attach(relay);
    this.renegotiate();
  }

  /** Removes a stage track (its m-line goes inactive) and renegotiates. */
  removeRelay(trackId: string): void {
    const slot = this.slots.get(trackId);
    if (!slot) return;
    slot.relay.removeSink(slot.transceiver.sender);
    slot.transceiver.setDirection('inactive');
    this.slots.delete(trackId);
    this.renegotiate();
  }

  async applyAnswer(version: number, answer: string): Promise<void> {
    if (!this.awaitingAnswer || version !== this.version) {
      throw new InvalidStateError(`no outstanding offer with version ${version} (current ${this.version})`);
    }
    inspectSdp(answer);
    await this.life.step(async () => {
      try {
        await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
      } catch (err) {
        this.life.assertOpen();
        log.debug({ err: String(err) }, 'subscriber answer rejected');
        throw new InvalidSdpError('answer could not be applied');
      }
    });
    this.awaitingAnswer = false;
    if (this.dirty) this.renegotiate();
  }

  /** Client-offer mode (WHEP). */
  async answerOffer(offer: string, relays: TrackRelay[]): Promise<{ answer: string; tracks: StageTrack[] }> {
    const media = inspectSdp(offer);
    if (!media.some((m) => (m.kind === 'audio' || m.kind === 'video') && m.port !== 0)) {
      throw new InvalidSdpError('offer receives no audio or video');
    }
    return this.life.step(() => this.answerOfferStep(offer, relays));
  }

  private async answerOfferStep(offer: string, relays: TrackRelay[]): Promise<{ answer: string; tracks: StageTrack[] }> {
    try {
      await this.pc.setRemoteDescription({ type: 'offer', sdp: offer });
    } catch (err) {
      this.life.assertOpen();
      log.debug({ err: String(err) }, 'whep offer rejected');
      throw new InvalidSdpError('offer could not be negotiated');
    }
    this.life.assertOpen();
    const free = [...relays];
    for (const transceiver of this.pc.getTransceivers()) {
      const index = free.findIndex((r) => r.info.kind === transceiver.kind);
      if (index < 0) {
        transceiver.setDirection('inactive');
        continue;
      }
      const relay = free.splice(index, 1)[0]!;
      transceiver.setCodecPreferences([relay.codec]);
      transceiver.setDirection('sendonly');
      transceiver.sender.streamIds = [relay.info.streamId];
      this.slots.set(relay.info.trackId, { relay, transceiver });
    }
    try {
      await this.pc.setLocalDescription(await this.pc.createAnswer());
    } catch (err) {
      this.life.assertOpen();
      log.debug({ err: String(err) }, 'whep answer failed');
      throw new InvalidSdpError('offer could not be negotiated');
    }
    await gatheringComplete(this.pc);
    this.life.assertOpen();
    for (const slot of this.slots.values()) slot.relay.addSink(slot.transceiver.sender);
    return {
      answer: restrictCandidates(this.pc.localDescription!.sdp, this.opts),
      tracks: [...this.slots.values()].map((s) => s.relay.info),
    };
  }

  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelIceDeadline();
    for (const slot of this.slots.values()) slot.relay.removeSink(slot.transceiver.sender);
    this.slots.clear();
    this.life.close();
    this.safeEmit('close', reason);
  }

  private attach(relay: TrackRelay): void {
    const transceiver = this.pc.addTransceiver(relay.info.kind, { direction: 'sendonly' });
    transceiver.setCodecPreferences([relay.codec]);
    transceiver.sender.streamIds = [relay.info.streamId];
    this.slots.set(relay.info.trackId, { relay, transceiver });
    relay.addSink(transceiver.sender);
  }

  private renegotiate(): void {
    if (this.closed) return;
    if (this.awaitingAnswer) {
      this.dirty = true;
      return;
    }
    this.negotiating = this.negotiating
      .then(async () => {
        if (this.closed) return;
        // An offer went out while this change waited its turn (an offer is built over several
        // awaits, and a track attached during them may be missing from it): the change goes in
        // the next offer, once that one is answered.
        if (this.awaitingAnswer) {
          this.dirty = true;
          return;
        }
        const offer = await this.makeOffer();
        this.safeEmit('offer', offer);
      })
      .catch((err: unknown) => log.warn({ peerId: this.peerId, err: String(err) }, 'renegotiation failed'));
  }

  private makeOffer(): Promise<SubscriberOffer> {
    return this.life.step(() => this.makeOfferStep());
  }

  private async makeOfferStep(): Promise<SubscriberOffer> {
    this.dirty = false;
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await gatheringComplete(this.pc);
    this.version++;
    this.awaitingAnswer = true;
    const mids: Record<string, StageTrack> = {};
    for (const slot of this.slots.values()) {
      if (slot.transceiver.mid) mids[slot.transceiver.mid] = slot.relay.info;
    }
    return { offer: restrictCandidates(this.pc.localDescription!.sdp, this.opts), version: this.version, mids };
  }
}
