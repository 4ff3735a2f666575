import { ErrorDetails, ErrorTypes, PlayerErrorException, describe, type PlayerError } from '../core/errors.ts';
import { EventEmitter } from '../core/event-emitter.ts';
import { HlsView, type HlsViewState } from '../hls/hls-view.ts';
import { LocalMedia } from '../media/local-media.ts';
import type { SignalingClient } from '../signaling/signaling-client.ts';
import type { Role, ServerMessageOf } from '../signaling/signaling-types.ts';
import { Publisher, type PublisherState } from '../webrtc/publisher.ts';
import { StageView } from '../webrtc/stage-view.ts';

/**
 * What the page shows: the broadcast (`hls`), the stage (`webrtc`), or `switching` while the
 * next view gets ready behind the current one (which stays visible and audible until the swap).
 */
export type PlayerMode = 'hls' | 'webrtc' | 'switching';
type ViewKind = 'hls' | 'webrtc';

/** One switch, wall-clock ms. `firstFrameAt`: the incoming view had a decoded frame; `doneAt`: the old view is stopped. */
export interface SwitchRecord {
  to: ViewKind;
  startedAt: number;
  /** When the user answered the consent prompt (promotion only). */
  consentAt?: number;
  firstFrameAt?: number;
  /** The incoming view became the visible (and audible) one. */
  shownAt?: number;
  doneAt?: number;
  /** Why it did not finish: superseded by a later switch, declined, failed. */
  abandoned?: string;
}

export interface RoleSwitchControllerConfig {
  signaling: SignalingClient;
  /** This page's participant id (from `joined`). */
  selfId: string;
  /** The `joined` message's ICE servers. */
  iceServers: RTCIceServer[];
  /** Multivariant playlist URL of the room's broadcast. */
  hlsSrc: string;
  /** The current playback token of a private broadcast (HlsViewConfig.playbackToken). Default: none. */
  playbackToken?: () => string | undefined;
  /** Elements the two views render into. The page stacks them; `setFront` says which one is on top. */
  hlsRoot: HTMLElement;
  stageRoot: HTMLElement;
  /** Puts one view on top (visible) and the other behind it. */
  setFront: (kind: ViewKind) => void;
  /** Asks the user to go on stage; resolves true to accept. Rejected or false: declined. */
  consent: () => Promise<boolean>;
  /** Caption of a stage tile. Default: the participant id. */
  labelFor?: (participantId: string) => string;
  /**
   * The engine does simulcast (`joined.capabilities.simulcast`): a guest publishes simulcast
   * and stage tiles choose their layer by size. Default false.
   */
  simulcast?: boolean;
  /** Where the broadcast's "latency 1.4 s" readout goes. Default: nowhere. */
  latencyEl?: HTMLElement;
  /**
   * After a demotion of a guest that was publishing, the program is re-encoded without it (the
   * transcoder restarts it: the old ffmpeg is stopped ~250 ms after the stage change, then a
   * new one starts). HLS started at once may still play the old encode and then stand still at
   * the restart, which would be a frozen picture after the swap. So the swap waits until the
   * playhead plays media dated (PROGRAM-DATE-TIME) at least this long after the demotion: only
   * the new encode has such dates. A discontinuity crossed is not proof: it may be the
   * restart of the promotion, still at the live edge. Default 1000 ms.
   */
  programChangeMarginMs?: number;
  /**
   * Longest wait for that, once HLS plays; then the swap happens anyway (the server's clock may
   * be off, or the program did not change). The stage view stays on top meanwhile, so waiting
   * costs nothing visible, while swapping early (a loaded server restarts ffmpeg slowly) shows
   * the old program standing still at its restart. Default 10000 ms.
   */
  programChangeCapMs?: number;
  /**
   * A promoted guest alone on stage has no tile to wait for: after this long with none (once
   * subscribed), the stage is shown anyway. Default 3000 ms.
   */
  emptyStageAfterMs?: number;
}

export type RoleSwitchEvents = {
  modechange: [mode: PlayerMode];
  switchstart: [record: SwitchRecord, index: number];
  /** The incoming view is now on top (sample the picture now). */
  switchshown: [record: SwitchRecord, index: number];
  switchdone: [record: SwitchRecord, index: number];
  hlsstate: [state: HlsViewState, view: HlsView];
  publishstate: [state: PublisherState];
  /** Non-fatal ones leave the player running (a failed publish keeps the stage view). */
  error: [error: PlayerError];
};

/**
 * The role-switching policy of the watch page. A viewer watches the broadcast (HlsView); a
 * stage member (presenter, moderator, or a viewer promoted to `guest`) watches the stage over
 * WebRTC (StageView), and a guest also publishes its camera and microphone.
 *
 * On `roleChanged` to `guest` for this participant: the stage view starts silently behind the
 * broadcast while the consent prompt is up; on Accept, camera and microphone are captured and
 * published; once every stage tile has a decoded frame, the stage goes on top, the broadcast is
 * muted and the stage unmuted in the same tick, and only then is HLS stopped.
 *
 * Declining the prompt tells the server (`leaveStage`), which keeps roles per identity and
 * answers with `roleChanged` back to `viewer`, a switch to the view already on top.
 *
 * On `roleChanged` back to `viewer`: publishing and capture stop at once; a new HlsView starts
 * muted at the live edge behind the stage; once its playhead advances, the broadcast goes on top
 * with the same audio hand-over, and only then is the stage unsubscribed.
 *
 * Each switch has a generation: a role change during a switch supersedes it, and the new switch
 * reuses whatever the old one already started.
 */
export class RoleSwitchController extends EventEmitter<RoleSwitchEvents> {
  /** `signaling` and `selfId` change on `rebind`. */
  private config: RoleSwitchControllerConfig;
  readonly switches: SwitchRecord[] = [];
  private modeValue: PlayerMode = 'switching';
  private front: ViewKind | undefined;
  private hls: HlsView | undefined;
  private stage: StageView | undefined;
  private publisher: Publisher | undefined;
  private media: LocalMedia | undefined;
  private abort: AbortController | undefined;
  private destroyed = false;

  constructor(config: RoleSwitchControllerConfig) {
    super();
    for (const key of ['signaling', 'selfId', 'hlsSrc', 'hlsRoot', 'stageRoot', 'setFront', 'consent'] as const) {
      if (!config[key]) throw new TypeError(`RoleSwitchController: config.${key} is required`);
    }
    this.config = config;
    config.signaling.on('roleChanged', this.onRoleChanged);
  }

  get mode(): PlayerMode {
    return this.modeValue;
  }

  get hlsView(): HlsView | undefined {
    return this.hls;
  }

  get stageView(): StageView | undefined {
    return this.stage;
  }

  get publisherState(): PublisherState | undefined {
    return this.publisher?.state;
  }

  /** The element on top, for the frame sampler. */
  visible(): { view: ViewKind; video: HTMLVideoElement | undefined } {
    if (this.front === 'webrtc') return { view: 'webrtc', video: this.stage?.firstVideo() };
    return { view: 'hls', video: this.hls?.videoElement };
  }

  /** Shows the view for the role the page joined with, without a switch record. */
  async start(role: Role): Promise<void> {
    const kind: ViewKind = role === 'viewer' ? 'hls' : 'webrtc';
    this.setFront(kind);
    if (kind === 'hls') await this.ensureHls(false).start();
    else await this.ensureStage(true).start();
    if (role === 'guest') await this.toStage();
    else this.setMode(kind);
  }

  /**
   * Takes the signaling client of a new session (the page joined again after losing its node)
   * (its client, participant id, ICE servers and simulcast capability) while the broadcast alone
   * is showing: the HLS view plays on, untouched. Then acts on `role`
   * as on a `roleChanged` (a `guest` goes to the stage). Throws otherwise (a stage view, a
   * publisher or a switch belongs to the old session): the caller builds a new controller.
   */
  rebind(session: Pick<RoleSwitchControllerConfig, 'signaling' | 'selfId' | 'iceServers' | 'simulcast'>, role: Role): void {
    if (this.destroyed || this.modeValue !== 'hls' || this.stage || this.publisher) {
      throw new Error(`RoleSwitchController.rebind: only while the broadcast alone is showing (mode ${this.modeValue})`);
    }
    this.config.signaling.off('roleChanged', this.onRoleChanged);
    this.config = { ...this.config, ...session };
    session.signaling.on('roleChanged', this.onRoleChanged);
    if (role === 'guest') void this.toStage();
  }

  /** Whether `rebind` can keep this controller's views. */
  get rebindable(): boolean {
    return !this.destroyed && this.modeValue === 'hls' && !this.stage && !this.publisher;
  }

  /** Stops everything (capture, publishing, both views) and drops every listener. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.abort?.abort(new DOMException('destroyed', 'AbortError'));
    this.config.signaling.off('roleChanged', this.onRoleChanged);
    this.stopPublishing();
    this.hls?.destroy();
    this.hls = undefined;
    this.stage?.destroy();
    this.stage = undefined;
    this.removeAllListeners();
  }

  private readonly onRoleChanged = (message: ServerMessageOf<'roleChanged'>): void => {
    if (message.participantId !== this.config.selfId || this.destroyed) return;
    if (message.role === 'guest') void this.toStage();
    else if (message.role === 'viewer') void this.toBroadcast();
  };

  /** Begins a switch: supersedes the running one and records it. */
  private begin(to: ViewKind): { record: SwitchRecord; index: number; signal: AbortSignal } {
    const running = this.switches.at(-1);
    if (running && running.doneAt === undefined && running.abandoned === undefined) running.abandoned = 'superseded';
    this.abort?.abort(new DOMException('superseded', 'AbortError'));
    const abort = new AbortController();
    this.abort = abort;
    const record: SwitchRecord = { to, startedAt: Date.now() };
    const index = this.switches.push(record) - 1;
    this.setMode('switching');
    this.emit('switchstart', record, index);
    return { record, index, signal: abort.signal };
  }

  private async toStage(): Promise<void> {
    const { record, index, signal } = this.begin('webrtc');
    try {
      const stage = this.ensureStage(this.front === 'webrtc');
      // Subscribe while the user reads the prompt: the stage is then ready sooner.
      const subscribed = stage.start();
      subscribed.catch(() => {});
      const accepted = await this.config.consent().catch(() => false);
      record.consentAt = Date.now();
      signal.throwIfAborted();
      if (!accepted) {
        record.abandoned = 'declined';
        // The server keeps roles: it must hear of the decline, or it keeps this viewer a guest.
        this.config.signaling.request({ type: 'leaveStage' }).catch((err: unknown) => this.reportNonFatal(err, 'leave the stage after declining'));
        if (this.front !== 'webrtc') {
          this.stage = undefined;
          await stage.stop();
          stage.destroy();
        }
        this.setMode(this.front ?? 'hls');
        return;
      }
      const media = new LocalMedia();
      this.media = media;
      const stream = await media.start();
      signal.throwIfAborted();
      const publisher = new Publisher(this.config.signaling, { iceServers: this.config.iceServers, simulcast: this.config.simulcast ?? false });
      this.publisher = publisher;
      publisher.on('statechange', (state) => this.emit('publishstate', state));
      publisher.on('error', (error) => this.emit('error', { ...error, fatal: false }));
      publisher.start(stream).catch(() => {}); // failures arrive as `error`; the stage view stays
      await subscribed;
      await stage.whenFramesShown(signal, { emptyAfterMs: this.config.emptyStageAfterMs ?? 3000 });
      record.firstFrameAt = Date.now();
      this.swap('webrtc', record, index);
      const hls = this.hls;
      this.hls = undefined;
      await hls?.stop();
      hls?.destroy();
      this.finish(record, index, signal);
    } catch (err) {
      this.abandon(record, err);
    }
  }

  private async toBroadcast(): Promise<void> {
    const { record, index, signal } = this.begin('hls');
    const wasOnProgram = this.publisher?.state === 'live';
    // Camera and microphone off at once: the user is no longer on stage.
    this.stopPublishing();
    try {
      const hls = this.ensureHls(this.front !== 'hls');
      await hls.start();
      await whenPlaying(
        hls,
        signal,
        wasOnProgram && this.front !== 'hls'
          ? { after: record.startedAt + (this.config.programChangeMarginMs ?? 1000), capMs: this.config.programChangeCapMs ?? 10000 }
          : undefined,
      );
      record.firstFrameAt = Date.now();
      this.swap('hls', record, index);
      const stage = this.stage;
      this.stage = undefined;
      await stage?.stop();
      stage?.destroy();
      this.finish(record, index, signal);
    } catch (err) {
      this.abandon(record, err);
    }
  }

  /** The incoming view goes on top and takes the sound, all in one tick. */
  private swap(to: ViewKind, record: SwitchRecord, index: number): void {
    this.setFront(to);
    if (to === 'webrtc') {
      this.hls?.setMuted(true);
      this.hls?.videoElement?.pause();
      this.stage?.setAudible(true);
    } else {
      this.stage?.setAudible(false);
      this.hls?.setMuted(false);
    }
    record.shownAt = Date.now();
    this.emit('switchshown', record, index);
  }

  private finish(record: SwitchRecord, index: number, signal: AbortSignal): void {
    if (signal.aborted) return;
    record.doneAt = Date.now();
    this.setMode(record.to);
    this.emit('switchdone', record, index);
  }

  private abandon(record: SwitchRecord, err: unknown): void {
    if (this.destroyed) return;
    if ((err as DOMException)?.name === 'AbortError') {
      record.abandoned ??= 'superseded';
      return;
    }
    record.abandoned = `failed: ${describe(err)}`;
    const error: PlayerError =
      err instanceof PlayerErrorException
        ? { ...err.data, fatal: false }
        : { type: ErrorTypes.WEBRTC, details: ErrorDetails.NEGOTIATION_FAILED, fatal: false, message: `switch to ${record.to}: ${describe(err)}`, error: err };
    this.emit('error', error);
    // Back to whatever is on top; the user keeps watching it.
    this.setMode(this.front ?? 'hls');
  }

  private reportNonFatal(err: unknown, what: string): void {
    const error: PlayerError =
      err instanceof PlayerErrorException
        ? { ...err.data, fatal: false }
        : { type: ErrorTypes.SIGNALING, details: ErrorDetails.REQUEST_FAILED, fatal: false, message: `${what}: ${describe(err)}`, error: err };
    if (!this.destroyed) this.emit('error', error);
  }

  private ensureHls(muted: boolean): HlsView {
    if (this.hls) return this.hls;
    const hls = new HlsView(
      this.config.hlsRoot,
      { src: this.config.hlsSrc, muted, hls: { startPosition: -1 }, ...(this.config.playbackToken ? { playbackToken: this.config.playbackToken } : {}) },
      this.config.latencyEl,
    );
    hls.on('statechange', (state) => this.emit('hlsstate', state, hls));
    this.hls = hls;
    return hls;
  }

  private ensureStage(audible: boolean): StageView {
    if (this.stage) return this.stage;
    const stage = new StageView(
      this.config.signaling,
      this.config.stageRoot,
      {
        iceServers: this.config.iceServers,
        selfId: this.config.selfId,
        audible,
        simulcast: this.config.simulcast ?? false,
        ...(this.config.labelFor ? { labelFor: this.config.labelFor } : {}),
      },
      (error) => this.emit('error', error),
    );
    this.stage = stage;
    return stage;
  }

  private stopPublishing(): void {
    // The server closes a demoted guest's publisher leg itself; no `unpublish` needed.
    this.publisher?.destroy();
    this.publisher = undefined;
    this.media?.destroy();
    this.media = undefined;
  }

  private setFront(kind: ViewKind): void {
    this.front = kind;
    this.config.setFront(kind);
  }

  private setMode(mode: PlayerMode): void {
    if (mode === this.modeValue) return;
    this.modeValue = mode;
    this.emit('modechange', mode);
  }
}

/**
 * Resolves once the HLS playhead advances with a picture and data ahead of it (HlsView state
 * `playing`, the element at HAVE_FUTURE_DATA). With
 * `programChange`, only once it plays media dated after `after` (server clock), or `capMs`
 * after it started playing.
 */
function whenPlaying(hls: HlsView, signal: AbortSignal, programChange?: { after: number; capMs: number }): Promise<void> {
  let playingSince: number | undefined;
  const ready = () => {
    // Not only "playing": with data ahead of the playhead, so that the swap never puts an element
    // on top that stands still waiting for its buffer (HAVE_FUTURE_DATA or better).
    const video = hls.videoElement;
    const playing = hls.state === 'playing' && (video?.videoWidth ?? 0) > 0 && (video?.readyState ?? 0) >= HTMLMediaElement.HAVE_FUTURE_DATA;
    if (!playing) return false;
    if (!programChange) return true;
    playingSince ??= Date.now();
    const date = hls.playingDate;
    if (date && date.getTime() >= programChange.after) return true;
    return Date.now() - playingSince >= programChange.capMs;
  };
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setInterval(() => ready() && (done(), resolve()), 50);
    const onState = () => ready() && (done(), resolve());
    const onAbort = () => (done(), reject(signal.reason));
    const done = () => {
      clearInterval(timer);
      hls.off('statechange', onState);
      signal.removeEventListener('abort', onAbort);
    };
    hls.on('statechange', onState);
    signal.addEventListener('abort', onAbort);
    onState();
  });
}
