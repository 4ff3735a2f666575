import { ErrorDetails, ErrorTypes, PlayerErrorException, describe, type PlayerError } from '../core/errors.ts';
import type { SignalingClient } from '../signaling/signaling-client.ts';
import type { ServerMessageOf, TrackInfo } from '../signaling/signaling-types.ts';
import { connected, iceGatheringComplete } from './ice.ts';
import { PeerLeg, type PeerLegEvents } from './peer-leg.ts';
import { DEFAULT_RECONNECT_DELAYS_MS, isRecoverable } from './reconnect-policy.ts';
import { simulcastEncodings } from './simulcast.ts';

export interface PublisherConfig {
  /** ICE servers for the connection; pass the `joined` message's list. Default: none (host candidates only). */
  iceServers: RTCIceServer[];
  /** Longest wait for ICE gathering before the offer is sent anyway. Default 5000 ms. */
  iceGatheringTimeoutMs: number;
  /** Longest wait for the connection to come up after the answer. Default 15000 ms. */
  connectTimeoutMs: number;
  /**
   * Send video as three simulcast encodings (see simulcast.ts). Pass the `joined` message's
   * `capabilities.simulcast`. Default false: one encoding.
   */
  simulcast: boolean;
  /**
   * After a recoverable loss (the server closed the leg with `engine_died`/`transport_failed`,
   * or the connection failed), wait this long before each attempt to publish again; then give
   * up with a fatal error. Default 250, 1000, 2000, 4000, 8000 ms.
   */
  reconnectDelaysMs: readonly number[];
}

export const defaultPublisherConfig = (): PublisherConfig => ({
  iceServers: [],
  iceGatheringTimeoutMs: 5000,
  connectTimeoutMs: 15000,
  simulcast: false,
  reconnectDelaysMs: DEFAULT_RECONNECT_DELAYS_MS,
});

/** `reconnecting`: live before, lost its connection, publishing again (the same tracks). */
export type PublisherState = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'stopped' | 'failed';

/** `reconnecting`: before each attempt to publish again. */
export type PublisherEvents = PeerLegEvents<PublisherState>;

/**
 * Publishes a local stream on the stage: a sendonly RTCPeerConnection whose offer (with every
 * candidate: the server does not trickle) goes out as `publish`; the `published` answer is
 * applied and the publisher is `live` once the connection is up. Audio and video are sent
 * with the stream's id so receivers lip-sync them.
 *
 * Once live, a lost connection is published again on its own: when the server closes the leg
 * with a recoverable reason (reconnect-policy.ts) or the connection fails, the state goes
 * `reconnecting` and a new connection carries the stream's current tracks (no new capture),
 * with the configured backoff; when every attempt fails, it fails as before. Any other reason
 * (a demotion) is fatal at once.
 */
export class Publisher extends PeerLeg<PublisherConfig, PublisherState, PublisherEvents> {
  private tracksValue: TrackInfo[] = [];
  private stream: MediaStream | undefined;
  /** A shared screen, sent beside the stream's tracks in a stream of its own; see `setScreenTrack`. */
  private screen: MediaStreamTrack | undefined;
  /** The running attempt got its `published`: a server `unpublished` now concerns its leg. */
  private answered = false;

  constructor(signaling: SignalingClient, config: Partial<PublisherConfig> = {}) {
    super(signaling, { ...defaultPublisherConfig(), ...config }, 'Publisher');
    if (!(this.config.connectTimeoutMs > 0)) throw new TypeError('Publisher: connectTimeoutMs must be > 0');
    signaling.on('unpublished', this.onServerUnpublished);
  }

  /** The stage tracks the server created for this publisher. */
  get tracks(): TrackInfo[] {
    return this.tracksValue;
  }

  /** Starts publishing `stream` (one audio and/or one video track). Resolves once live. */
  async start(stream: MediaStream): Promise<void> {
    if (this.state === 'connecting' || this.state === 'live' || this.state === 'reconnecting') {
      throw new Error(`Publisher: already ${this.state}`);
    }
    this.stream = stream;
    this.setState('connecting');
    try {
      if (await this.reconnector.once((signal) => this.negotiate(stream, signal))) this.setState('live');
    } catch (err) {
      const error = err instanceof PlayerErrorException ? { ...err.data, fatal: true } : this.negotiationError(err).data;
      this.fail(error);
      throw new PlayerErrorException(error);
    }
  }

  /**
   * Replaces the outgoing track of its kind without renegotiating (device switch while live).
   * A transceiver's receiver track always exists and has the transceiver's kind, even sendonly.
   */
  async replaceTrack(track: MediaStreamTrack): Promise<void> {
    const sender = this.pcValue?.getTransceivers().find((t) => t.receiver.track.kind === track.kind && (!this.screen || t.sender.track !== this.screen))?.sender;
    if (sender) await sender.replaceTrack(track);
  }

  /** The shared screen being sent, if any. */
  get screenTrack(): MediaStreamTrack | undefined {
    return this.screen;
  }

  /**
   * Starts (a track) or ends (undefined) a screen share. The server's publisher leg takes a
   * fixed set of tracks, so while live this publishes again on a new connection with the
   * camera, microphone and, when given, the screen (its m-section labelled `screen` in
   * `publish.sources`); the server replaces the old leg. Before `start()` it only sets what
   * `start()` will send. A failure is fatal, as for `start()`.
   */
  async setScreenTrack(track: MediaStreamTrack | undefined): Promise<void> {
    if (track && track.kind !== 'video') throw new TypeError('Publisher: a screen share is a video track');
    if (track === this.screen) return;
    this.screen = track;
    const stream = this.stream;
    if (this.state !== 'live' || !stream) return;
    try {
      await this.reconnector.once((signal) => this.negotiate(stream, signal, true));
    } catch (err) {
      const error = err instanceof PlayerErrorException ? { ...err.data, fatal: true } : this.negotiationError(err).data;
      this.fail(error);
      throw new PlayerErrorException(error);
    }
  }

  /** Stops publishing: `unpublish`, then closes the connection. Idempotent. */
  async stop(): Promise<void> {
    const wasRunning = this.state === 'connecting' || this.state === 'live' || this.state === 'reconnecting';
    this.cancelRecovery();
    const pc = this.closePc();
    if (!pc && !wasRunning) return;
    if (this.signaling.state === 'joined') await this.signaling.request({ type: 'unpublish' }).catch(() => {});
    this.setState('stopped');
  }

  /** Closes the connection and removes every listener (does not send `unpublish`). Idempotent. */
  override destroy(): void {
    this.signaling.off('unpublished', this.onServerUnpublished);
    super.destroy();
  }

  /** One attempt: a new connection for `stream`'s tracks, `publish`, answer, connected. Cleans up after itself when it fails. */
  private async negotiate(stream: MediaStream, signal: AbortSignal, replacing = false): Promise<void> {
    // Replacing a live leg (a screen share starting or ending): the old connection stays up
    // until the server has answered the new one, which replaces the old leg. Closed first, the
    // server could see the old leg fail (transport_failed) before the new publish arrives, and
    // tell us to recover.
    let previous = replacing ? this.detachPc() : (this.closePc(), undefined);
    const closePrevious = () => {
      previous?.close();
      previous = undefined;
    };
    this.answered = false;
    const pc = new RTCPeerConnection({ iceServers: this.config.iceServers, bundlePolicy: 'max-bundle' });
    this.pcValue = pc;
    pc.addEventListener('connectionstatechange', this.onConnectionState);
    try {
      for (const track of stream.getTracks()) this.addTrack(pc, track, stream);
      // The screen goes in a stream of its own (receivers show it as its own tile), one encoding.
      const screen = this.screen?.readyState === 'live' ? pc.addTransceiver(this.screen, { direction: 'sendonly', streams: [new MediaStream([this.screen])] }) : undefined;
      // A closed connection never settles these: a stop or a newer attempt must not leave us waiting.
      await untilAborted(pc.createOffer().then((offer) => pc.setLocalDescription(offer)), signal);
      await iceGatheringComplete(pc, this.config.iceGatheringTimeoutMs);
      signal.throwIfAborted();
      const sources = screen?.mid ? { sources: { [screen.mid]: 'screen' as const } } : {};
      let published: ServerMessageOf<'published'>;
      try {
        published = await this.signaling.request({ type: 'publish', sdp: pc.localDescription!.sdp, ...sources });
      } catch (err) {
        throw err instanceof PlayerErrorException ? err : this.negotiationError(err);
      }
      signal.throwIfAborted();
      this.answered = true;
      this.tracksValue = published.tracks;
      closePrevious();
      await untilAborted(pc.setRemoteDescription({ type: 'answer', sdp: published.sdp }), signal);
      try {
        await connected(pc, this.config.connectTimeoutMs, signal);
      } catch (err) {
        throw new PlayerErrorException({ type: ErrorTypes.WEBRTC, details: ErrorDetails.CONNECTION_FAILED, fatal: true, message: `publish: ${describe(err)}`, error: err });
      }
    } catch (err) {
      closePrevious();
      if (this.pcValue === pc) this.closePc();
      throw err;
    }
  }

  /** Video goes out as simulcast when configured (with L1T3 where the browser takes it). */
  private addTrack(pc: RTCPeerConnection, track: MediaStreamTrack, stream: MediaStream): void {
    const init: RTCRtpTransceiverInit = { direction: 'sendonly', streams: [stream] };
    if (track.kind !== 'video' || !this.config.simulcast) {
      pc.addTransceiver(track, init);
      return;
    }
    try {
      pc.addTransceiver(track, { ...init, sendEncodings: simulcastEncodings(true) });
    } catch {
      pc.addTransceiver(track, { ...init, sendEncodings: simulcastEncodings(false) });
    }
  }

  /** Lost while live: publish the same stream again, with backoff; fatal once every attempt failed. */
  private async recover(reason: string, fatal: PlayerError): Promise<void> {
    const stream = this.stream;
    if (this.state !== 'live' || !stream) return;
    this.setState('reconnecting');
    this.closePc();
    const outcome = await this.reconnector.retry((signal) => this.negotiate(stream, signal), (n) => this.emit('reconnecting', n, reason));
    if (outcome === 'recovered') this.setState('live');
    else if (outcome === 'exhausted') this.fail(fatal);
  }

  /** Forgets the connection without closing it (its owner closes it); undefined if none. */
  private detachPc(): RTCPeerConnection | undefined {
    const pc = this.pcValue;
    this.pcValue = undefined;
    pc?.removeEventListener('connectionstatechange', this.onConnectionState);
    return pc;
  }

  protected closePc(): RTCPeerConnection | undefined {
    const pc = this.pcValue;
    this.pcValue = undefined;
    this.tracksValue = [];
    if (pc) {
      pc.removeEventListener('connectionstatechange', this.onConnectionState);
      pc.close();
    }
    return pc;
  }

  private negotiationError(err: unknown): PlayerErrorException {
    return new PlayerErrorException({ type: ErrorTypes.WEBRTC, details: ErrorDetails.NEGOTIATION_FAILED, fatal: true, message: `publish: ${describe(err)}`, error: err });
  }

  private readonly onConnectionState = (): void => {
    const pc = this.pcValue;
    if (!pc || this.state !== 'live' || pc.connectionState !== 'failed') return;
    void this.recover('transport_failed', { type: ErrorTypes.WEBRTC, details: ErrorDetails.CONNECTION_FAILED, fatal: true, message: 'publish connection failed' });
  };

  /** `unpublished` without `re`: the server ended our publisher leg on its own. */
  private readonly onServerUnpublished = (message: ServerMessageOf<'unpublished'>): void => {
    if (message.re !== undefined || this.state === 'idle' || this.state === 'stopped' || this.state === 'failed') return;
    const fatal: PlayerError = { type: ErrorTypes.WEBRTC, details: ErrorDetails.CONNECTION_FAILED, fatal: true, message: 'the server ended the publication' };
    if (!isRecoverable(message.reason)) {
      if (this.pcValue || this.state === 'reconnecting') this.fail(message.reason ? { ...fatal, message: `${fatal.message} (${message.reason})` } : fatal);
      return;
    }
    if (this.state === 'live') return void this.recover(message.reason!, fatal);
    // Connecting or reconnecting: before this attempt's `published` it is the previous leg's
    // news (already replaced); after it, this attempt's leg is gone and the attempt fails now.
    if (this.answered) this.reconnector.abortAttempt(new Error(`the server closed the new connection (${message.reason})`));
  };
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
