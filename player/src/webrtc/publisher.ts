import { ErrorDetails, ErrorTypes, PlayerErrorException, describe, type PlayerError } from '../core/errors.ts';
import { EventEmitter } from '../core/event-emitter.ts';
import type { SignalingClient } from '../signaling/signaling-client.ts';
import type { ServerMessageOf, TrackInfo } from '../signaling/signaling-types.ts';
import { connected, iceGatheringComplete } from './ice.ts';

export interface PublisherConfig {
  /** ICE servers for the connection; pass the `joined` message's list. Default: none (host candidates only). */
  iceServers: RTCIceServer[];
  /** Longest wait for ICE gathering before the offer is sent anyway. Default 5000 ms. */
  iceGatheringTimeoutMs: number;
  /** Longest wait for the connection to come up after the answer. Default 15000 ms. */
  connectTimeoutMs: number;
}

export const defaultPublisherConfig = (): PublisherConfig => ({ iceServers: [], iceGatheringTimeoutMs: 5000, connectTimeoutMs: 15000 });

export type PublisherState = 'idle' | 'connecting' | 'live' | 'stopped' | 'failed';

export type PublisherEvents = {
  statechange: [state: PublisherState];
  /** Fatal errors are followed by state `failed`. */
  error: [error: PlayerError];
};

/**
 * Publishes a local stream on the stage: a sendonly RTCPeerConnection whose offer (with every
 * candidate: the server does not trickle) goes out as `publish`; the `published` answer is
 * applied and the publisher is `live` once the connection is up. Audio and video are sent
 * with the stream's id so receivers lip-sync them.
 */
export class Publisher extends EventEmitter<PublisherEvents> {
  readonly config: PublisherConfig;
  private readonly signaling: SignalingClient;
  private pcValue: RTCPeerConnection | undefined;
  private stateValue: PublisherState = 'idle';
  private tracksValue: TrackInfo[] = [];

  constructor(signaling: SignalingClient, config: Partial<PublisherConfig> = {}) {
    super();
    this.signaling = signaling;
    this.config = { ...defaultPublisherConfig(), ...config };
    if (!(this.config.iceGatheringTimeoutMs > 0)) throw new TypeError('Publisher: iceGatheringTimeoutMs must be > 0');
    if (!(this.config.connectTimeoutMs > 0)) throw new TypeError('Publisher: connectTimeoutMs must be > 0');
    if (!Array.isArray(this.config.iceServers)) throw new TypeError('Publisher: iceServers must be an array');
    signaling.on('unpublished', this.onServerUnpublished);
  }

  get state(): PublisherState {
    return this.stateValue;
  }

  get pc(): RTCPeerConnection | undefined {
    return this.pcValue;
  }

  /** The stage tracks the server created for this publisher. */
  get tracks(): TrackInfo[] {
    return this.tracksValue;
  }

  /** Starts publishing `stream` (one audio and/or one video track). Resolves once live. */
  async start(stream: MediaStream): Promise<void> {
    if (this.stateValue === 'connecting' || this.stateValue === 'live') throw new Error(`Publisher: already ${this.stateValue}`);
    this.setState('connecting');
    const pc = new RTCPeerConnection({ iceServers: this.config.iceServers, bundlePolicy: 'max-bundle' });
    this.pcValue = pc;
    pc.addEventListener('connectionstatechange', this.onConnectionState);
    try {
      for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
      await pc.setLocalDescription(await pc.createOffer());
      await iceGatheringComplete(pc, this.config.iceGatheringTimeoutMs);
      let published: ServerMessageOf<'published'>;
      try {
        published = await this.signaling.request({ type: 'publish', sdp: pc.localDescription!.sdp });
      } catch (err) {
        throw err instanceof PlayerErrorException ? err : this.negotiationError(err);
      }
      if (this.pcValue !== pc) return;
      this.tracksValue = published.tracks;
      await pc.setRemoteDescription({ type: 'answer', sdp: published.sdp });
      try {
        await connected(pc, this.config.connectTimeoutMs);
      } catch (err) {
        throw new PlayerErrorException({ type: ErrorTypes.WEBRTC, details: ErrorDetails.CONNECTION_FAILED, fatal: true, message: `publish: ${describe(err)}`, error: err });
      }
      if (this.pcValue === pc) this.setState('live');
    } catch (err) {
      if (this.pcValue !== pc) return;
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
    const sender = this.pcValue?.getTransceivers().find((t) => t.receiver.track.kind === track.kind)?.sender;
    if (sender) await sender.replaceTrack(track);
  }

  /** Stops publishing: `unpublish`, then closes the connection. Idempotent. */
  async stop(): Promise<void> {
    const pc = this.closePc();
    if (!pc) return;
    if (this.signaling.state === 'joined') await this.signaling.request({ type: 'unpublish' }).catch(() => {});
    this.setState('stopped');
  }

  /** Closes the connection and removes every listener (does not send `unpublish`). Idempotent. */
  destroy(): void {
    this.closePc();
    this.signaling.off('unpublished', this.onServerUnpublished);
    this.removeAllListeners();
  }

  private closePc(): RTCPeerConnection | undefined {
    const pc = this.pcValue;
    this.pcValue = undefined;
    this.tracksValue = [];
    if (pc) {
      pc.removeEventListener('connectionstatechange', this.onConnectionState);
      pc.close();
    }
    return pc;
  }

  private fail(error: PlayerError): void {
    this.closePc();
    this.emit('error', error);
    this.setState('failed');
  }

  private setState(state: PublisherState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.emit('statechange', state);
  }

  private negotiationError(err: unknown): PlayerErrorException {
    return new PlayerErrorException({ type: ErrorTypes.WEBRTC, details: ErrorDetails.NEGOTIATION_FAILED, fatal: true, message: `publish: ${describe(err)}`, error: err });
  }

  private readonly onConnectionState = (): void => {
    const pc = this.pcValue;
    if (!pc || this.stateValue !== 'live') return;
    if (pc.connectionState === 'failed') {
      this.fail({ type: ErrorTypes.WEBRTC, details: ErrorDetails.CONNECTION_FAILED, fatal: true, message: 'publish connection failed' });
    }
  };

  /** `unpublished` without `re`: the server ended our publisher leg on its own. */
  private readonly onServerUnpublished = (message: ServerMessageOf<'unpublished'>): void => {
    if (message.re !== undefined || !this.pcValue) return;
    this.fail({ type: ErrorTypes.WEBRTC, details: ErrorDetails.CONNECTION_FAILED, fatal: true, message: 'the server ended the publication' });
  };
}
