import type { PlayerError } from '../core/errors.ts';
import { EventEmitter } from '../core/event-emitter.ts';
import type { SignalingClient } from '../signaling/signaling-client.ts';
import { Reconnector } from './reconnector.ts';

/** The states every leg has besides its own: before `start()`, and after a fatal error. */
export type PeerLegState<S extends string> = S | 'idle' | 'failed';

export type PeerLegEvents<S extends string> = {
  statechange: [state: PeerLegState<S>];
  /** Before each attempt to connect again; `reason` is what was lost (a close reason). */
  reconnecting: [attempt: number, reason: string];
  /** Fatal errors are followed by state `failed`. */
  error: [error: PlayerError];
};

/** The options every leg takes; each leg's config documents them and their defaults. */
export interface PeerLegConfig {
  iceServers: RTCIceServer[];
  iceGatheringTimeoutMs: number;
  reconnectDelaysMs: readonly number[];
}

/**
 * What Publisher and StageSubscriber share: one RTCPeerConnection to the server (a leg), a
 * state announced by `statechange`, one Reconnector for the recovery, and the way they end.
 * `fail()` cancels the recovery, closes the connection, emits the fatal error and goes
 * `failed`; `destroy()` cancels, closes and drops every listener. Subclasses remove their own
 * signaling listeners in `destroy()` and clean up anything else in `cancelRecovery()`.
 */
export abstract class PeerLeg<C extends PeerLegConfig, S extends string, E extends PeerLegEvents<S>> extends EventEmitter<E> {
  readonly config: C;
  protected readonly signaling: SignalingClient;
  protected readonly reconnector: Reconnector;
  protected pcValue: RTCPeerConnection | undefined;
  private stateValue: PeerLegState<S> = 'idle';
  private readonly owner: string;

  /** Validates the shared options of `config` (complete, defaults applied); errors name `owner`. */
  protected constructor(signaling: SignalingClient, config: C, owner: string) {
    super();
    this.signaling = signaling;
    this.config = config;
    this.owner = owner;
    if (!(config.iceGatheringTimeoutMs > 0)) throw new TypeError(`${owner}: iceGatheringTimeoutMs must be > 0`);
    if (!Array.isArray(config.iceServers)) throw new TypeError(`${owner}: iceServers must be an array`);
    this.reconnector = new Reconnector(config.reconnectDelaysMs, owner);
  }

  get state(): PeerLegState<S> {
    return this.stateValue;
  }

  get pc(): RTCPeerConnection | undefined {
    return this.pcValue;
  }

  /** Closes the connection and removes every listener (sends nothing to the server). Idempotent. */
  destroy(): void {
    this.cancelRecovery();
    this.closePc();
    this.removeAllListeners();
  }

  /** Closes the connection, if any, and drops what came with it. */
  protected abstract closePc(): unknown;

  /** Stops the running start or recovery: no further attempt, no outcome reported. */
  protected cancelRecovery(): void {
    this.reconnector.cancel(new DOMException(`${this.owner} stopped`, 'AbortError'));
  }

  protected fail(error: PlayerError): void {
    this.cancelRecovery();
    this.closePc();
    this.emit('error', error);
    this.setState('failed');
  }

  protected setState(state: PeerLegState<S>): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.emit('statechange', state);
  }
}
