import { ErrorDetails, ErrorTypes, PlayerErrorException, describe, type PlayerError } from '../core/errors.ts';
import type { SignalingClient } from '../signaling/signaling-client.ts';
import type { ServerMessageOf, TrackInfo } from '../signaling/signaling-types.ts';
import { connected, iceGatheringComplete } from './ice.ts';
import { PeerLeg, type PeerLegEvents } from './peer-leg.ts';
import { DEFAULT_RECONNECT_DELAYS_MS, isRecoverable } from './reconnect-policy.ts';

export interface StageSubscriberConfig {
  /** ICE servers for the connection; pass the `joined` message's list. Default: none (host candidates only). */
  iceServers: RTCIceServer[];
  /** Longest wait for ICE gathering before an answer is sent anyway. Default 5000 ms. */
  iceGatheringTimeoutMs: number;
  /**
   * After a recoverable loss (`subscriberClosed` with `engine_died`/`transport_failed`, or the
   * connection failed), wait this long before each attempt to subscribe again; then give up
   * with a fatal error. Default 250, 1000, 2000, 4000, 8000 ms.
   */
  reconnectDelaysMs: readonly number[];
  /** Longest wait for a new connection to come up during recovery. Default 15000 ms. */
  reconnectTimeoutMs: number;
  /**
   * During recovery, a tile whose publisher is not (yet) in the new subscription is kept,
   * showing its last frame, until this long after the new subscription is up: a media engine
   * restart drops every publisher too, and they publish again a moment later. Also how long a
   * tile is held after its publisher's own connection failed (`trackUnpublished` with a fault
   * reason) while that publisher connects again. Default 10000 ms.
   */
  keepTilesMs: number;
}

export const defaultStageSubscriberConfig = (): StageSubscriberConfig => ({
  iceServers: [],
  iceGatheringTimeoutMs: 5000,
  reconnectDelaysMs: DEFAULT_RECONNECT_DELAYS_MS,
  reconnectTimeoutMs: 15000,
  keepTilesMs: 10000,
});

/**
 * One stage publisher as received: its audio and video in one MediaStream. A publisher's shared
 * screen is a tile of its own (`source` `screen`).
 */
export interface StageTile {
  /** Unique per tile: the participant id, with `:screen` for its shared screen. */
  key: string;
  participantId: string;
  /** What the tile shows. */
  source: 'camera' | 'screen';
  stream: MediaStream;
  /** mids of the m-lines that carry this publisher's tracks. */
  mids: Set<string>;
}

export interface TileStats {
  participantId: string;
  source: 'camera' | 'screen';
  /** Video frames decoded so far (all its video m-lines). */
  framesDecoded: number;
  /** Audio payload bytes received so far. */
  audioBytes: number;
}

/**
 * `reconnecting`: lost its connection and subscribes again. It is announced before the old
 * connection closes, so a view can keep each tile's last frame.
 */
export type StageSubscriberState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed' | 'failed';

/** `reconnecting`: before each attempt to subscribe again. */
export type StageSubscriberEvents = PeerLegEvents<StageSubscriberState> & {
  /** A publisher appeared on the stage (its stream may get its second track a moment later). */
  tileadded: [tile: StageTile];
  /** A track was added to or removed from a tile's stream. */
  tileupdated: [tile: StageTile];
  tileremoved: [tile: StageTile];
  /**
   * Its publisher's connection failed (a fault, not a decision): the tile stays, held for
   * `keepTilesMs`, and its tracks end in a moment. Emitted before they do, so a view can keep
   * the last frame; a publisher that is back fills the same tile.
   */
  tileheld: [tile: StageTile];
};

/**
 * Receives the stage over one RTCPeerConnection that the server offers. `start()` sends
 * `subscribe`; each `subscriberOffer` (the first one and every renegotiation as the stage
 * changes) is applied in order and answered with `subscriberAnswer` under its `version`,
 * after ICE gathering completes (the server does not trickle). The offer's `mids` map says
 * which publisher each m-line carries; tiles are rebuilt from it after every offer, so an
 * m-line the server made inactive takes its track out of its tile, and a publisher with no
 * m-line left loses its tile.
 *
 * A lost connection is made again on its own: when the server closes the leg with a
 * recoverable reason (reconnect-policy.ts) or the connection fails, the state goes
 * `reconnecting`, the tiles stay (same MediaStream; their tracks are swapped for the new
 * connection's), and `subscribe` is sent again with the configured backoff. A tile whose
 * publisher is not back within `keepTilesMs` is removed; when every attempt fails, the
 * subscriber fails as before.
 *
 * A publisher can lose its own connection while ours stays up: the server then says so
 * (`trackUnpublished` with a fault reason) before the renegotiation that takes its tracks out,
 * and its tile is held the same way, for `keepTilesMs`, while it publishes again. A decision
 * (it unpublished, was demoted, left) still removes the tile at once.
 */
export class StageSubscriber extends PeerLeg<StageSubscriberConfig, StageSubscriberState, StageSubscriberEvents> {
  private mids: Record<string, TrackInfo> = {};
  private readonly tilesByParticipant = new Map<string, StageTile>();
  private offers: Promise<void> = Promise.resolve();
  private latestVersion = 0;
  /** Tiles missing from the subscription are kept until then (ms, performance.now()); 0: not kept. */
  private keepTilesUntil = 0;
  private keepTimer: ReturnType<typeof setTimeout> | undefined;
  /** Tiles held after their publisher's connection failed: key → the timer that ends the hold. */
  private readonly held = new Map<string, ReturnType<typeof setTimeout>>();
  /**
   * False while a new `subscribe` is outstanding: an offer without `re` then belongs to the
   * leg being replaced and must not reach the new connection.
   */
  private acceptUnsolicited = true;

  constructor(signaling: SignalingClient, config: Partial<StageSubscriberConfig> = {}) {
    super(signaling, { ...defaultStageSubscriberConfig(), ...config }, 'StageSubscriber');
    if (!(this.config.reconnectTimeoutMs > 0)) throw new TypeError('StageSubscriber: reconnectTimeoutMs must be > 0');
    if (!(this.config.keepTilesMs >= 0)) throw new TypeError('StageSubscriber: keepTilesMs must be ≥ 0');
    signaling.on('subscriberOffer', this.onOffer);
    signaling.on('subscriberClosed', this.onServerClosed);
    signaling.on('trackUnpublished', this.onTrackUnpublished);
    signaling.on('participantLeft', this.onParticipantLeft);
  }

  get tiles(): StageTile[] {
    return [...this.tilesByParticipant.values()];
  }

  /** Subscribes. Resolves once the first offer has been answered. */
  async start(): Promise<void> {
    if (this.state !== 'idle' && this.state !== 'closed') throw new Error(`StageSubscriber: start() in state ${this.state}`);
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
      const entry: TileStats = { participantId: tile.participantId, source: tile.source, framesDecoded: 0, audioBytes: 0 };
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

  /** The video track id of a tile (by its key: a participant id for its camera tile), if it has one (for `setLayers`). */
  videoTrackId(key: string): string | undefined {
    const tile = this.tilesByParticipant.get(key);
    for (const mid of tile?.mids ?? []) {
      const info = this.mids[mid];
      if (info?.kind === 'video' && tileKey(info) === key) return info.trackId;
    }
    return undefined;
  }

  /** Stops receiving: `unsubscribe`, then closes the connection and removes every tile. Idempotent. */
  async stop(): Promise<void> {
    this.cancelRecovery();
    const hadPc = this.closePc();
    if (hadPc && this.signaling.state === 'joined') await this.signaling.request({ type: 'unsubscribe' }).catch(() => {});
    if (this.state !== 'failed') this.setState('closed');
  }

  /** Closes the connection and removes every listener (does not send `unsubscribe`). Idempotent. */
  override destroy(): void {
    this.signaling.off('subscriberOffer', this.onOffer);
    this.signaling.off('subscriberClosed', this.onServerClosed);
    this.signaling.off('trackUnpublished', this.onTrackUnpublished);
    this.signaling.off('participantLeft', this.onParticipantLeft);
    super.destroy();
  }

  private readonly onOffer = (message: ServerMessageOf<'subscriberOffer'>): void => {
    if (message.re === undefined && !this.acceptUnsolicited) return;
    if (message.re !== undefined) this.acceptUnsolicited = true;
    // Offers are applied strictly in order; an answer must not overtake an older one.
    this.offers = this.offers.then(() => this.applyOffer(message));
  };

  /**
   * A publisher's track left. After a fault its tile is held while the publisher comes back;
   * after a decision, a hold from an earlier fault ends (the tile goes with its m-lines).
   */
  private readonly onTrackUnpublished = (message: ServerMessageOf<'trackUnpublished'>): void => {
    const key = tileKey(message.track);
    if (!isRecoverable(message.reason)) {
      if (this.release(key)) this.reconcileTiles();
      return;
    }
    const tile = this.tilesByParticipant.get(key);
    if (!tile || this.state === 'idle' || this.state === 'closed' || this.state === 'failed') return;
    const first = !this.held.has(key);
    clearTimeout(this.held.get(key));
    this.held.set(
      key,
      setTimeout(() => {
        this.held.delete(key);
        this.reconcileTiles();
      }, this.config.keepTilesMs),
    );
    if (first) this.emit('tileheld', tile);
  };

  /** A publisher that left is not coming back: its held tiles go. */
  private readonly onParticipantLeft = (message: ServerMessageOf<'participantLeft'>): void => {
    let released = false;
    for (const key of [...this.held.keys()]) {
      if (this.tilesByParticipant.get(key)?.participantId === message.participantId) released = this.release(key) || released;
    }
    if (released) this.reconcileTiles();
  };

  private release(key: string): boolean {
    const timer = this.held.get(key);
    if (timer === undefined) return false;
    clearTimeout(timer);
    this.held.delete(key);
    return true;
  }

  private releaseHolds(): void {
    for (const timer of this.held.values()) clearTimeout(timer);
    this.held.clear();
  }

  /** The server closed our subscriber leg: subscribe again if the reason is a fault, else leave it be. */
  private readonly onServerClosed = (message: ServerMessageOf<'subscriberClosed'>): void => {
    if (!isRecoverable(message.reason)) return;
    // Reconnecting: once the new `subscribe` was answered, this is the new leg, and its attempt has failed.
    if (this.state === 'reconnecting') {
      if (this.acceptUnsolicited) this.reconnector.abortAttempt(new Error(`the server closed the new connection (${message.reason})`));
      return;
    }
    void this.recover(message.reason);
  };

  /** Lost: keep the tiles, subscribe again with backoff; fatal once every attempt failed. */
  private async recover(reason: string): Promise<void> {
    if (this.state !== 'connecting' && this.state !== 'connected') return;
    this.keepTilesUntil = Infinity;
    clearTimeout(this.keepTimer);
    // Announced first: the view keeps each tile's last frame before its track ends.
    this.setState('reconnecting');
    this.closePc({ keepTiles: true });
    const outcome = await this.reconnector.retry(
      (signal, recoverySignal) => this.resubscribe(signal, recoverySignal),
      (n) => this.emit('reconnecting', n, reason),
    );
    if (outcome === 'recovered') {
      this.setState('connected');
      // Publishers that are not back yet get `keepTilesMs` to return.
      this.keepTilesUntil = performance.now() + this.config.keepTilesMs;
      this.keepTimer = setTimeout(() => {
        this.keepTilesUntil = 0;
        this.reconcileTiles();
      }, this.config.keepTilesMs);
    } else if (outcome === 'exhausted') {
      this.keepTilesUntil = 0;
      this.fail({ type: ErrorTypes.WEBRTC, details: ErrorDetails.CONNECTION_FAILED, fatal: true, message: `stage connection failed (${reason}); gave up reconnecting` });
    }
  }

  /**
   * One recovery attempt: `subscribe`, answer, and the new connection comes up. Cleans up after
   * itself when it fails, unless the whole recovery was cancelled (`recoverySignal`).
   */
  private async resubscribe(signal: AbortSignal, recoverySignal: AbortSignal): Promise<void> {
    this.closePc({ keepTiles: true });
    this.acceptUnsolicited = false;
    try {
      await this.signaling.request({ type: 'subscribe' });
      await this.offers;
      signal.throwIfAborted();
      const pc = this.pcValue;
      if (!pc) throw new Error('the subscription offer was not applied');
      await connected(pc, this.config.reconnectTimeoutMs, signal);
    } catch (err) {
      this.acceptUnsolicited = true;
      if (!recoverySignal.aborted) this.closePc({ keepTiles: true });
      throw err;
    }
  }

  protected override cancelRecovery(): void {
    super.cancelRecovery();
    this.keepTilesUntil = 0;
    clearTimeout(this.keepTimer);
    this.releaseHolds();
  }

  private async applyOffer(message: ServerMessageOf<'subscriberOffer'>): Promise<void> {
    if (this.state === 'failed' || this.state === 'closed' || this.state === 'idle') return;
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
      // A failed renegotiation during recovery fails that attempt (resubscribe sees no connection), not the subscriber.
      if (this.state === 'reconnecting') return void this.closePc({ keepTiles: true });
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

  /** Closes the connection; its tiles go too, unless `keepTiles` (recovery: they wait for the new connection's tracks). */
  protected closePc({ keepTiles = false }: { keepTiles?: boolean } = {}): boolean {
    const pc = this.pcValue;
    this.pcValue = undefined;
    this.mids = {};
    this.latestVersion = 0;
    if (!keepTiles) this.reconcileTiles();
    // Kept tiles' mids named m-lines of the closed connection; the next one numbers its own.
    else for (const tile of this.tilesByParticipant.values()) tile.mids.clear();
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
    this.placeTrack(mid, info, ev.track);
  };

  /** Makes the tiles match `mids` and the connection's live m-lines. */
  private reconcileTiles(): void {
    const wanted = new Map<string, { info: TrackInfo; tracks: Map<string, MediaStreamTrack> }>();
    for (const transceiver of this.pcValue?.getTransceivers() ?? []) {
      const mid = transceiver.mid;
      const info = mid ? this.mids[mid] : undefined;
      if (!mid || !info || transceiver.currentDirection === 'inactive' || transceiver.currentDirection === 'stopped') continue;
      let entry = wanted.get(tileKey(info));
      if (!entry) wanted.set(tileKey(info), (entry = { info, tracks: new Map() }));
      entry.tracks.set(mid, transceiver.receiver.track);
    }
    const keepMissing = performance.now() < this.keepTilesUntil;
    for (const tile of [...this.tilesByParticipant.values()]) {
      const tracks = wanted.get(tile.key)?.tracks;
      // Recovering, or its publisher's connection failed: it may be on its way back; the tile keeps its last frame.
      if (!tracks && (keepMissing || this.held.has(tile.key))) continue;
      if (!tracks) {
        this.tilesByParticipant.delete(tile.key);
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
    for (const { info, tracks } of wanted.values()) {
      for (const [mid, track] of tracks) this.placeTrack(mid, info, track);
    }
  }

  private placeTrack(mid: string, info: TrackInfo, track: MediaStreamTrack): void {
    const key = tileKey(info);
    let tile = this.tilesByParticipant.get(key);
    const isNew = !tile;
    if (!tile) {
      tile = { key, participantId: info.participantId, source: info.source ?? 'camera', stream: new MediaStream(), mids: new Set() };
      this.tilesByParticipant.set(key, tile);
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
    // During recovery, the attempt decides (it waits for `connected` itself).
    if (this.state === 'reconnecting') return;
    if (pc.connectionState === 'connected') this.setState('connected');
    else if (pc.connectionState === 'failed') void this.recover('transport_failed');
  };

  private negotiationError(err: unknown): PlayerError {
    return { type: ErrorTypes.WEBRTC, details: ErrorDetails.NEGOTIATION_FAILED, fatal: true, message: `subscribe: ${describe(err)}`, error: err };
  }
}

/** A track's tile: its publisher's camera tile, or that publisher's screen tile. */
export function tileKey(info: Pick<TrackInfo, 'participantId' | 'source'>): string {
  return info.source === 'screen' ? `${info.participantId}:screen` : info.participantId;
}
