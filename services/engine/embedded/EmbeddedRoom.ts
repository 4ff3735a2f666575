import { EnhancedEventEmitter } from '../../core/EnhancedEventEmitter.ts';
import { InvalidStateError, ServiceError } from '../../core/errors.ts';
import type { CloseReason, EngineOptions, MirrorInfo, PublishOptions, MirrorTarget, StageTrack, SubscriberOffer } from '../EngineTypes.ts';
import { mirrorSdp } from '../mirrorSdp.ts';
import { PublisherLeg } from './PublisherLeg.ts';
import { SubscriberLeg } from './SubscriberLeg.ts';
import type { TrackRelay } from './TrackRelay.ts';

export type EmbeddedRoomEvents = {
  subscriberoffer: [peerId: string, offer: SubscriberOffer];
  trackpublished: [StageTrack];
  trackunpublished: [StageTrack, CloseReason];
  legclosed: [peerId: string, leg: 'publisher' | 'subscriber', reason: CloseReason];
  close: [CloseReason];
};

/** One stage on the embedded engine: its publishers, its subscribers, and the relays between them. */
export class EmbeddedRoom extends EnhancedEventEmitter<EmbeddedRoomEvents> {
  readonly id: string;
  private readonly opts: EngineOptions;
  readonly publishers = new Map<string, PublisherLeg>();
  readonly subscribers = new Map<string, SubscriberLeg>();
  /** Offer-mode subscribers follow the stage; WHEP (client-offer) ones do not. */
  private readonly followers = new Set<string>();
  private closed = false;
  /** Packets forwarded by relays that already closed, kept for stats. */
  retiredPackets = 0;

  constructor(id: string, opts: EngineOptions) {
    super();
    this.id = id;
    this.opts = opts;
  }

  get relays(): TrackRelay[] {
    return [...this.publishers.values()].flatMap((p) => [...p.relays.values()]);
  }

  get packetsForwarded(): number {
    return this.retiredPackets + this.relays.reduce((n, r) => n + r.packetsForwarded, 0);
  }

  async publish(peerId: string, offer: string, options: PublishOptions = {}): Promise<string> {
    this.assertOpen();
    this.publishers.get(peerId)?.close('replaced');
    const leg = new PublisherLeg(peerId, this.opts, options.sources);
    leg.on('track', (relay) => {
      if (this.publishers.get(peerId) !== leg) return relay.close();
      for (const [subscriberId, sub] of this.subscribers) {
        if (this.followers.has(subscriberId) && subscriberId !== peerId) sub.addRelay(relay);
      }
      this.safeEmit('trackpublished', relay.info);
    });
    leg.on('close', (reason) => {
      for (const relay of leg.relays.values()) {
        this.retiredPackets += relay.packetsForwarded;
        // Announced before the subscribers' renegotiation goes out (it is async anyway): a client
        // learns why the track went before its m-line goes inactive.
        this.safeEmit('trackunpublished', relay.info, reason);
        for (const sub of this.subscribers.values()) sub.removeRelay(relay.info.trackId);
      }
      if (this.publishers.get(peerId) === leg) this.publishers.delete(peerId);
      if (reason !== 'client_request' && reason !== 'room_closed' && reason !== 'replaced') {
        this.safeEmit('legclosed', peerId, 'publisher', reason);
      }
    });
    this.publishers.set(peerId, leg);
    try {
      return await leg.answer(offer);
    } catch (err) {
      leg.close('client_request');
      throw err;
    }
  }

  closePublisher(peerId: string, reason: CloseReason): void {
    this.publishers.get(peerId)?.close(reason);
  }

  setTrackPaused(trackId: string, paused: boolean): void {
    this.relay(trackId).setPaused(paused);
  }

  mirrorTrack(trackId: string, target: MirrorTarget): MirrorInfo {
    const relay = this.relay(trackId);
    relay.startMirror(target, this.opts.listenIp.includes(':') === target.ip.includes(':') ? this.opts.listenIp : target.ip);
    const { mimeType, payloadType, clockRate, channels, parameters } = relay.codec;
    const codec = { payloadType, name: mimeType.slice(mimeType.indexOf('/') + 1), clockRate, channels, fmtp: parameters };
    return { sdp: mirrorSdp(relay.info, codec, target), track: relay.info };
  }

  stopMirror(trackId: string): void {
    this.relays.find((r) => r.info.trackId === trackId)?.stopMirror();
  }

  requestKeyFrame(trackId: string): void {
    this.relay(trackId).requestKeyFrame(true);
  }

  private relay(trackId: string): TrackRelay {
    const relay = this.relays.find((r) => r.info.trackId === trackId);
    if (!relay) throw new ServiceError('not_found', `no track ${trackId}`);
    return relay;
  }

  async subscribe(peerId: string): Promise<SubscriberOffer> {
    this.assertOpen();
    const leg = this.addSubscriber(peerId, true);
    leg.on('offer', (offer) => this.safeEmit('subscriberoffer', peerId, offer));
    try {
      return await leg.offer(this.relays.filter((r) => r.info.peerId !== peerId));
    } catch (err) {
      leg.close('client_request');
      throw err;
    }
  }

  async answerSubscriber(peerId: string, version: number, answer: string): Promise<void> {
    const leg = this.subscribers.get(peerId);
    if (!leg || !this.followers.has(peerId)) throw new InvalidStateError(`peer ${peerId} is not subscribed`);
    await leg.applyAnswer(version, answer);
  }

  async subscribeWithOffer(peerId: string, offer: string): Promise<{ answer: string; tracks: StageTrack[] }> {
    this.assertOpen();
    const leg = this.addSubscriber(peerId, false);
    try {
      return await leg.answerOffer(offer, this.relays.filter((r) => r.info.peerId !== peerId));
    } catch (err) {
      leg.close('client_request');
      throw err;
    }
  }

  closeSubscriber(peerId: string, reason: CloseReason): void {
    this.subscribers.get(peerId)?.close(reason);
  }

  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    for (const leg of [...this.subscribers.values()]) leg.close(reason);
    for (const leg of [...this.publishers.values()]) leg.close(reason);
    this.safeEmit('close', reason);
  }

  private addSubscriber(peerId: string, follows: boolean): SubscriberLeg {
    this.subscribers.get(peerId)?.close('replaced');
    const leg = new SubscriberLeg(peerId, this.opts);
    leg.on('close', (reason) => {
      if (this.subscribers.get(peerId) === leg) {
        this.subscribers.delete(peerId);
        this.followers.delete(peerId);
      }
      if (reason !== 'client_request' && reason !== 'room_closed' && reason !== 'replaced') {
        this.safeEmit('legclosed', peerId, 'subscriber', reason);
      }
    });
    this.subscribers.set(peerId, leg);
    if (follows) this.followers.add(peerId);
    return leg;
  }

  private assertOpen(): void {
    if (this.closed) throw new InvalidStateError(`room ${this.id} is closed`);
  }
}
