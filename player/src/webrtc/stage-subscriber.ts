import { ErrorDetails, ErrorTypes, PlayerErrorException, describe, type PlayerError } from '../core/errors.ts';
import { EventEmitter } from '../core/event-emitter.ts';
import type { SignalingClient } from '../signaling/signaling-client.ts';
import type { ServerMessageOf, TrackInfo } from '../signaling/signaling-types.ts';
import { iceGatheringComplete } from './ice.ts';

export interface StageSubscriberConfig {
  /** ICE servers for the connection; pass the `joined` message's list. Default: none (host candidates only). */
  iceServers: RTCIceServer[];
  /** Longest wait for ICE gathering before an answer is sent anyway. Default 5000 ms. */
  iceGatheringTimeoutMs: number;
}

export const defaultStageSubscriberConfig = (): StageSubscriberConfig => ({ iceServers: [], iceGatheringTimeoutMs: 5000 });

/** One stage publisher as received: its audio and video in one MediaStream. */
export interface StageTile {
  participantId: string;
  stream: MediaStream;
  /** mids of the m-lines that carry this publisher's tracks. */
  mids: Set<string>;
}

export interface TileStats {
  participantId: string;
  /** Video frames decoded so far (all its video m-lines). */
  framesDecoded: number;
  /** Audio payload bytes received so far. */
  audioBytes: number;
}

export type StageSubscriberState = 'idle' | 'connecting' | 'connected' | 'closed' | 'failed';

export type StageSubscriberEvents = {
  statechange: [state: StageSubscriberState];
  /** A publisher appeared on the stage (its stream may get its second track a moment later). */
  tileadded: [tile: StageTile];
  /** A track was added to or removed from a tile's stream. */
  tileupdated: [tile: StageTile];
  tileremoved: [tile: StageTile];
  /** Fatal errors are followed by state `failed`. */
  error: [error: PlayerError];
};

/**
 * Receives the stage over one RTCPeerConnection that the server offers. `start()` sends
 * `subscribe`; each `subscriberOffer` (the first one and every renegotiation as the stage
 * changes) is applied in order and answered with `subscriberAnswer` under its `version`,
 * after ICE gathering completes (the server does not trickle). The offer's `mids` map says
 * which publisher each m-line carries; tiles are rebuilt from it after every offer, so an
 * m-line the server made inactive takes its track out of its tile, and a publisher with no
 * m-line left loses its tile.
 */
export class StageSubscriber extends EventEmitter<StageSubscriberEvents> {
  readonly config: StageSubscriberConfig;
  private readonly signaling: SignalingClient;
  private pcValue: RTCPeerConnection | undefined;
  private stateValue: StageSubscriberState = 'idle';
  private mids: Record<string, TrackInfo> = {};
  private readonly tilesByParticipant = new Map<string, StageTile>();
  private offers: Promise<void> = Promise.resolve();
  private latestVersion = 0;

  constructor(signaling: SignalingClient, config: Partial<StageSubscriberConfig> = {}) {
    super();
    this.signaling = signaling;
    this.config = { ...defaultStageSubscriberConfig(), ...config };
    if (!(this.config.iceGatheringTimeoutMs > 0)) throw new TypeError('StageSubscriber: iceGatheringTimeoutMs must be > 0');
    if (!Array.isArray(this.config.iceServers)) throw new TypeError('StageSubscriber: iceServers must be an array');
    signaling.on('subscriberOffer', this.onOffer);
  }

  get state(): StageSubscriberState {
    return this.stateValue;
  }

  get pc(): RTCPeerConnection | undefined {
    return this.pcValue;
  }

  get tiles(): StageTile[] {
    return [...this.tilesByParticipant.values()];
  }

  /** Subscribes. Resolves once the first offer has been answered. */
  async start(): Promise<void> {
    if (this.stateValue !== 'idle' && this.stateValue !== 'closed') throw new Error(`StageSubscriber: start() in state ${this.stateValue}`);
    this.setState('connecting');
    try {
      await this.signaling.request({ type: 'subscribe' });
    } catch (err) {
      const error = err instanceof PlayerErrorException ? { ...err.data, fatal: true } : this.negotiationError(err);
      this.fail(error);
      throw new PlayerErrorException(error);
    }
    // The offer that answered `subscribe` went through onOffer too; wait until it is answered.
    await this.offers;
  }

  /** Per-publisher receive counters, from each m-line's receiver stats. */
  async stats(): Promise<TileStats[]> {
    const pc = this.pcValue;
    const result: TileStats[] = [];
    for (const tile of this.tilesByParticipant.values()) {
      const entry: TileStats = { participantId: tile.participantId, framesDecoded: 0, audioBytes: 0 };
      for (const transceiver of pc?.getTransceivers() ?? []) {
        if (!transceiver.mid || !tile.mids.has(transceiver.mid)) continue;
        const report = await transceiver.receiver.getStats();
        report.forEach((s: RTCInboundRtpStreamStats) => {
          if (s.type !== 'inbound-rtp') return;
          if (s.kind === 'video') entry.framesDecoded += s.framesDecoded ?? 0;
          else if (s.kind === 'audio') entry.audioBytes += s.bytesReceived ?? 0;
        });
      }
      result.push(entry);
    }
    return result;
  }

  /** Stops receiving: `unsubscribe`, then closes the connection and removes every tile. Idempotent. */
  async stop(): Promise<void> {
    const hadPc = this.closePc();
    if (hadPc && this.signaling.state === 'joined') await this.signaling.request({ type: 'unsubscribe' }).catch(() => {});
    if (this.stateValue !== 'failed') this.setState('closed');
  }

  /** Closes the connection and removes every listener (does not send `unsubscribe`). Idempotent. */
  destroy(): void {
    this.closePc();
    this.signaling.off('subscriberOffer', this.onOffer);
    this.removeAllListeners();
  }

  private readonly onOffer = (message: ServerMessageOf<'subscriberOffer'>): void => {
    // Offers are applied strictly in order; an answer must not overtake an older one.
    this.offers = this.offers.then(() => this.applyOffer(message));
  };

  private async applyOffer(message: ServerMessageOf<'subscriberOffer'>): Promise<void> {
    if (this.stateValue === 'failed' || this.stateValue === 'closed' || this.stateValue === 'idle') return;
    if (message.version <= this.latestVersion) return;
    this.latestVersion = message.version;
    const pc = this.pcValue ?? this.createPc();
    try {
      this.mids = message.mids;
      await pc.setRemoteDescription({ type: 'offer', sdp: message.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await iceGatheringComplete(pc, this.config.iceGatheringTimeoutMs);
      if (this.pcValue !== pc) return;
      this.reconcileTiles();
      await this.signaling.request({ type: 'subscriberAnswer', version: message.version, sdp: pc.localDescription!.sdp });
    } catch (err) {
      if (this.pcValue !== pc) return;
      this.fail(err instanceof PlayerErrorException ? { ...err.data, fatal: true } : this.negotiationError(err));
    }
  }

  private createPc(): RTCPeerConnection {
    const pc = new RTCPeerConnection({ iceServers: this.config.iceServers, bundlePolicy: 'max-bundle' });
    pc.addEventListener('track', this.onTrack);
    pc.addEventListener('connectionstatechange', this.onConnectionState);
    this.pcValue = pc;
    return pc;
  }

  private closePc(): boolean {
    const pc = this.pcValue;
    this.pcValue = undefined;
    this.mids = {};
    this.latestVersion = 0;
    this.reconcileTiles();
    if (!pc) return false;
    pc.removeEventListener('track', this.onTrack);
    pc.removeEventListener('connectionstatechange', this.onConnectionState);
    pc.close();
    return true;
  }

  private readonly onTrack = (ev: RTCTrackEvent): void => {
    const mid = ev.transceiver.mid;
    const info = mid ? this.mids[mid] : undefined;
    if (!mid || !info) return;
    this.placeTrack(mid, info.participantId, ev.track);
  };

  /** Makes the tiles match `mids` and the connection's live m-lines. */
  private reconcileTiles(): void {
    const wanted = new Map<string, Map<string, MediaStreamTrack>>();
    for (const transceiver of this.pcValue?.getTransceivers() ?? []) {
      const mid = transceiver.mid;
      const info = mid ? this.mids[mid] : undefined;
      if (!mid || !info || transceiver.currentDirection === 'inactive' || transceiver.currentDirection === 'stopped') continue;
      let tracks = wanted.get(info.participantId);
      if (!tracks) wanted.set(info.participantId, (tracks = new Map()));
      tracks.set(mid, transceiver.receiver.track);
    }
    for (const tile of [...this.tilesByParticipant.values()]) {
      const tracks = wanted.get(tile.participantId);
      if (!tracks) {
        this.tilesByParticipant.delete(tile.participantId);
        this.emit('tileremoved', tile);
        continue;
      }
      let changed = false;
      for (const track of tile.stream.getTracks()) {
        if (![...tracks.values()].includes(track)) {
          tile.stream.removeTrack(track);
          changed = true;
        }
      }
      for (const mid of [...tile.mids]) {
        if (!tracks.has(mid)) {
          tile.mids.delete(mid);
          changed = true;
        }
      }
      if (changed) this.emit('tileupdated', tile);
    }
    for (const [participantId, tracks] of wanted) {
      for (const [mid, track] of tracks) this.placeTrack(mid, participantId, track);
    }
  }

  private placeTrack(mid: string, participantId: string, track: MediaStreamTrack): void {
    let tile = this.tilesByParticipant.get(participantId);
    const isNew = !tile;
    if (!tile) {
      tile = { participantId, stream: new MediaStream(), mids: new Set() };
      this.tilesByParticipant.set(participantId, tile);
    }
    const known = tile.mids.has(mid) && tile.stream.getTracks().includes(track);
    if (known) return;
    tile.mids.add(mid);
    if (!tile.stream.getTracks().includes(track)) tile.stream.addTrack(track);
    this.emit(isNew ? 'tileadded' : 'tileupdated', tile);
  }

  private readonly onConnectionState = (): void => {
    const pc = this.pcValue;
    if (!pc) return;
    if (pc.connectionState === 'connected') this.setState('connected');
    else if (pc.connectionState === 'failed') {
      this.fail({ type: ErrorTypes.WEBRTC, details: ErrorDetails.CONNECTION_FAILED, fatal: true, message: 'stage connection failed' });
    }
  };

  private fail(error: PlayerError): void {
    this.closePc();
    this.emit('error', error);
    this.setState('failed');
  }

  private setState(state: StageSubscriberState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.emit('statechange', state);
  }

  private negotiationError(err: unknown): PlayerError {
    return { type: ErrorTypes.WEBRTC, details: ErrorDetails.NEGOTIATION_FAILED, fatal: true, message: `subscribe: ${describe(err)}`, error: err };
  }
}
